-- wrk: cycles through prepared requests, one per line: path TAB headers-json TAB body.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, headers, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    local parsed = {}
    for name, value in headers:gmatch('"([^"]+)":"([^"]*)"') do parsed[name] = value end
    requests[#requests + 1] = wrk.format("POST", path, parsed, body)
  end
  index = math.random(#requests)
end

function request()
  index = index % #requests + 1
  return requests[index]
end
