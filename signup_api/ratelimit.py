"""Every rate limit of a signup, and a single-use claim, checked in one Redis round trip.

`limits` spends one round trip per limit; a signup has four (client IP, its network, the
address, the global ceiling) and the request path may add one. So one Lua script does all:
sliding-window counters (this window's count plus the last one's, weighted by overlap) on
Redis' own clock, so every replica agrees. Nothing is counted unless everything passes.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

import redis.asyncio as redis

from signup_api import metrics
from signup_api.coalesce import ScriptBatcher
from signup_core.addresses import keyed_hash
from signup_core.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "signup:rl:"

# A Redis call on the request path gives up after this long (seconds), then fails open.
REDIS_TIMEOUT = 1.0

# KEYS: one base key per limit, then optionally the single-use key.
# ARGV[1]: "limit window_ms" per limit, space-separated; ARGV[2]: the single-use TTL (ms).
# One packed argument rather than two per limit: redis-py packs commands in Python, and
# that cost grows with the argument count.
# Returns {0} when allowed, {i, retry_ms} when limit i (1-based) is exceeded, {-1} on reuse;
# retry_ms is how long until the same request passes, if nothing else is counted meanwhile.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rates = {}
for number in string.gmatch(ARGV[1], '%d+') do
  rates[#rates + 1] = tonumber(number)
end
local n = #rates / 2
local current = {}
for i = 1, n do
  local limit, window = rates[2 * i - 1], rates[2 * i]
  local start = now - (now % window)
  local elapsed = now - start
  local key = KEYS[i] .. ':' .. start
  local cur = tonumber(redis.call('GET', key) or '0')
  local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (start - window)) or '0')
  if prev * (window - elapsed) / window + cur + 1 > limit then
    local retry
    if cur + 1 <= limit then
      -- Room in this window once the last window's weight has fallen far enough.
      retry = math.ceil(window * (1 - (limit - cur - 1) / prev)) - elapsed
    else
      -- This window is full, and in the next one its count weighs as the last window's:
      -- wait for the next window and then for that weight to fall.
      retry = window - elapsed + math.ceil(window * (1 - (limit - 1) / cur))
    end
    return {i, math.max(retry, 1)}
  end
  current[i] = {key, window}
end
if #KEYS > n then
  if not redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', tonumber(ARGV[2])) then
    return {-1}
  end
end
for i = 1, n do
  redis.call('INCR', current[i][1])
  redis.call('PEXPIRE', current[i][1], current[i][2] * 2)
end
return {0}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: str | None = None
    retry_after: int = 0
    reused: bool = False


def network(ip: str) -> str:
    """The /24 of an IPv4 address or the /64 of an IPv6 one: what one household or host has."""
    head, dot, _ = ip.rpartition(".")
    if dot and ":" not in ip and head.count(".") == 2:
        return f"{head}.0/24"  # the common case, without building ipaddress objects
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Limiter:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self._script = ScriptBatcher(client, _SCRIPT, timeout=REDIS_TIMEOUT)
        self._key = settings.blind_index_key.bytes()
        rates = {
            "ip": settings.rate_ip,
            "network": settings.rate_network,
            "address": settings.rate_address,
            "global": settings.rate_global,
        }
        self._names = [name for name, rate in rates.items() if rate is not None]
        self._rates = " ".join(
            f"{rate.limit} {rate.window * 1000}" for rate in rates.values() if rate is not None
        )
        self._global = self._hashed("global", b"all")

    def _hashed(self, kind: str, value: bytes) -> str:
        # Keys hold keyed hashes: Redis never sees a client IP or an address index in clear.
        return f"{PREFIX}{kind}:{keyed_hash(self._key, f'rl-{kind}', value, 16).hex()}"

    async def check(
        self, ip: str, address_index: bytes, once: tuple[str, int] | None = None
    ) -> Verdict:
        """Count this signup against every limit, or none if one is exceeded.
        `once` is (id, ttl seconds): refused if that id was used before (replayed challenges)."""
        keys = []
        for name in self._names:
            if name == "ip":
                keys.append(self._hashed(name, ip.encode()))
            elif name == "network":
                keys.append(self._hashed(name, network(ip).encode()))
            elif name == "address":
                keys.append(self._hashed(name, address_index))
            else:
                keys.append(self._global)
        args = [self._rates]
        if once is not None:
            keys.append(self._hashed("once", once[0].encode()))
            args.append(once[1] * 1000)
        if not keys:
            return Verdict(True)
        # Bounded by REDIS_TIMEOUT: the batcher times out the whole batch.
        result = await self._script(keys, args)
        code = int(result[0])
        if code == 0:
            return Verdict(True)
        if code == -1:
            return Verdict(False, reused=True)
        limit = self._names[code - 1]
        metrics.RATE_LIMITED.labels(limit).inc()
        log.info("rate limited", extra={"limit": limit, "subject": keys[code - 1][-12:]})
        return Verdict(False, limit, -(-int(result[1]) // 1000))
