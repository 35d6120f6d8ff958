-- wrk: POST /signup with a unique address per request (round prefix, thread id, counter).
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  prefix = (args[1] or "r") .. "-" .. tostring(tid)
end

function request()
  counter = counter + 1
  local body = '{"email":"b' .. prefix .. '-' .. counter .. '@example.com"}'
  return wrk.format("POST", "/signup", {["Content-Type"] = "application/json"}, body)
end
