"""Every rate limit of a signup, and a single-use claim, checked in one Redis round trip.

`limits` spends one round trip per limit; a signup has four (client IP, its network, the
address, the global ceiling) and the request path may add one. So one Lua script does all:
sliding-window counters (this window's count plus the last one's, weighted by overlap) on
Redis' own clock, so every replica agrees. Nothing is counted unless everything passes.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from dataclasses import dataclass

import redis.asyncio as redis

from signup_api import metrics
from signup_core.settings import Rate, Settings

log = logging.getLogger(__name__)

PREFIX = "signup:rl:"

# KEYS: one base key per limit, then optionally the single-use key.
# ARGV: number of limits, then limit and window (ms) per limit, then the single-use TTL (ms).
# Returns {0} when allowed, {i, retry_ms} when limit i (1-based) is exceeded, {-1} on reuse.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local current = {}
for i = 1, n do
  local limit, window = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local start = now - (now % window)
  local elapsed = now - start
  local key = KEYS[i] .. ':' .. start
  local cur = tonumber(redis.call('GET', key) or '0')
  local prev = tonumber(redis.call('GET', KEYS[i] .. ':' .. (start - window)) or '0')
  if prev * (window - elapsed) / window + cur + 1 > limit then
    local retry = window - elapsed
    if cur + 1 <= limit and prev > 0 then
      retry = math.ceil(window * (1 - (limit - cur - 1) / prev)) - elapsed
    end
    return {i, math.max(retry, 1)}
  end
  current[i] = {key, window}
end
if #KEYS > n then
  if not redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', tonumber(ARGV[2 * n + 2])) then
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
        self._script = client.register_script(_SCRIPT)
        self._key = settings.blind_index_key.bytes()
        self._rates: dict[str, Rate | None] = {
            "ip": settings.rate_ip,
            "network": settings.rate_network,
            "address": settings.rate_address,
            "global": settings.rate_global,
        }

    def _hashed(self, kind: str, value: str) -> str:
        # Keys hold keyed hashes: Redis never sees a client IP or an address index in clear.
        digest = hmac.digest(self._key, f"{kind}:{value}".encode(), "sha256")
        return f"{PREFIX}{kind}:{digest[:16].hex()}"

    async def check(
        self, ip: str, address_index: bytes, once: tuple[str, int] | None = None
    ) -> Verdict:
        """Count this signup against every limit, or none if one is exceeded.
        `once` is (id, ttl seconds): refused if that id was used before (replayed challenges)."""
        subjects = {
            "ip": ip,
            "network": network(ip),
            "address": address_index.hex(),
            "global": "all",
        }
        names, keys, args = [], [], []
        for name, rate in self._rates.items():
            if rate is not None:
                names.append(name)
                keys.append(self._hashed(name, subjects[name]))
                args += [rate.limit, rate.window * 1000]
        if once is not None:
            keys.append(self._hashed("once", once[0]))
            args.append(once[1] * 1000)
        if not keys:
            return Verdict(True)
        result = await self._script(keys=keys, args=[len(names), *args])
        code = int(result[0])
        if code == 0:
            return Verdict(True)
        if code == -1:
            return Verdict(False, reused=True)
        limit = names[code - 1]
        metrics.RATE_LIMITED.labels(limit).inc()
        log.info("rate limited", extra={"limit": limit, "subject": keys[code - 1][-12:]})
        return Verdict(False, limit, -(-int(result[1]) // 1000))
