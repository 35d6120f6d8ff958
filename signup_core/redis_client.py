"""Redis clients from REDIS_URL: one server (`redis://`, `rediss://`, `unix://`), or the primary
that Redis Sentinel names (`redis+sentinel://`), for the API's rate limiter, the Dramatiq broker
and the worker's scrape alike, sync or async.

    redis+sentinel://[:password@]host:port[,host:port...]/service_name[/db][?sentinel_password=...]

The password is the data nodes' (primary and replicas); sentinels are asked without one unless
`sentinel_password` is given. A Sentinel-managed client asks the sentinels for the primary
whenever it opens a connection, and drops a connection that finds a former primary turned
replica (READONLY), so a failover needs no configuration change and no restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel

SENTINEL_SCHEME = "redis+sentinel"
# A sentinel that does not answer within this long is skipped for the next one.
SENTINEL_TIMEOUT = 1.0


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def is_sentinel(url: str) -> bool:
    return url.startswith(f"{SENTINEL_SCHEME}://")


def parse_sentinel(url: str) -> SentinelTarget:
    """The parts of a redis+sentinel URL; ValueError says what is wrong (never the password)."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        raise ValueError(f"expected a {SENTINEL_SCHEME}:// URL")
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    sentinels = []
    for item in hosts.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected sentinels as host:port[,host:port...]")
        sentinels.append((host.strip("[]"), int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2:
        raise ValueError("expected /service_name or /service_name/db after the sentinels")
    if len(path) == 2 and not path[1].isdigit():
        raise ValueError("the database after the service name must be a number")
    query = parse_qs(parts.query)
    unknown = set(query) - {"sentinel_password"}
    if unknown:
        raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return SentinelTarget(
        sentinels=tuple(sentinels),
        service=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def _sentinel_options(target: SentinelTarget, options: dict[str, Any]) -> dict[str, Any]:
    """How the sentinels themselves are asked: briefly, whatever the data connections allow."""
    return {
        "socket_timeout": SENTINEL_TIMEOUT,
        "socket_connect_timeout": min(
            options.get("socket_connect_timeout") or SENTINEL_TIMEOUT, SENTINEL_TIMEOUT
        ),
        **({"password": target.sentinel_password} if target.sentinel_password else {}),
    }


def _data_options(target: SentinelTarget, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "db": target.db,
        **({"username": target.username} if target.username else {}),
        **({"password": target.password} if target.password else {}),
        **options,
    }


def sync_client(url: str, **options: Any) -> redis.Redis:
    """A redis-py client (the broker's, the scrape's); options as redis.Redis takes them."""
    if not is_sentinel(url):
        return redis.Redis.from_url(url, **options)
    target = parse_sentinel(url)
    sentinel = redis.sentinel.Sentinel(
        list(target.sentinels), sentinel_kwargs=_sentinel_options(target, options)
    )
    return sentinel.master_for(target.service, **_data_options(target, options))


def async_client(url: str, **options: Any) -> redis.asyncio.Redis:
    """A redis.asyncio client (the API's); options as redis.asyncio.Redis takes them."""
    if not is_sentinel(url):
        return redis.asyncio.Redis.from_url(url, **options)
    target = parse_sentinel(url)
    sentinel = redis.asyncio.sentinel.Sentinel(
        list(target.sentinels), sentinel_kwargs=_sentinel_options(target, options)
    )
    return sentinel.master_for(target.service, **_data_options(target, options))
