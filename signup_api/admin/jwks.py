"""Verification keys by `kid`, from a JWKS file or HTTPS URL: cached, refreshed when old or when
a token names a kid not in the cache (at most once a minute), and kept through an outage."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from pathlib import Path

import httpx
from jwcrypto import jwk
from jwcrypto.common import JWException

from signup_core.clock import Clock

log = logging.getLogger(__name__)

# An identity provider publishes a handful of keys; anything beyond is ignored, not cached.
MAX_KEYS = 32
MAX_BYTES = 64 * 1024
# Refetch no more often than this, whatever tokens arrive (an unknown kid costs no request).
MIN_INTERVAL = datetime.timedelta(seconds=60)
# A key removed from the JWKS stops verifying within this long, unknown kids or not.
MAX_AGE = datetime.timedelta(minutes=5)
FETCH_TIMEOUT = httpx.Timeout(3.0, connect=2.0)


class KeySource:
    def __init__(self, location: str, http: httpx.AsyncClient | None, clock: Clock) -> None:
        self.location = location
        self.http = http
        self.clock = clock
        self._keys: dict[str, jwk.JWK] = {}
        self._fetched: datetime.datetime | None = None
        self._tried: datetime.datetime | None = None
        self._lock = asyncio.Lock()

    async def get(self, kid: str) -> jwk.JWK | None:
        now = self.clock.now()
        stale = self._fetched is None or now - self._fetched >= MAX_AGE
        if (stale or kid not in self._keys) and self._may_try(now):
            async with self._lock:
                if self._may_try(self.clock.now()):
                    await self._refresh()
        return self._keys.get(kid)

    def _may_try(self, now: datetime.datetime) -> bool:
        return self._tried is None or now - self._tried >= MIN_INTERVAL

    async def _refresh(self) -> None:
        self._tried = self.clock.now()
        try:
            self._keys = _parse(await self._read())
        except (httpx.HTTPError, OSError, ValueError, JWException) as e:
            log.warning(
                "JWKS refresh failed; keeping the cached keys",
                extra={"error": type(e).__name__, "keys": len(self._keys)},
            )
            return
        self._fetched = self._tried

    async def _read(self) -> bytes:
        if not self.location.startswith("https://"):
            return await asyncio.to_thread(Path(self.location).read_bytes)
        assert self.http is not None
        async with self.http.stream("GET", self.location, timeout=FETCH_TIMEOUT) as response:
            response.raise_for_status()
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ValueError("the JWKS is larger than allowed")
            return body


def _parse(raw: bytes) -> dict[str, jwk.JWK]:
    document = json.loads(raw)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS")
    keys: dict[str, jwk.JWK] = {}
    for entry in document["keys"]:
        if len(keys) == MAX_KEYS:
            break
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue  # a key without a kid can never be chosen
        if entry.get("use", "sig") != "sig":
            continue
        key = jwk.JWK(**entry)
        # Only ever the public half: a private key published by mistake is not kept in memory.
        public = jwk.JWK(**key.export_public(as_dict=True))
        keys[entry["kid"]] = public
    return keys
