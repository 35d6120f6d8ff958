"""Every check of `signupctl doctor`, in the order a start-up meets what they check."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from signup_core import tls
from signup_core.diagnosis import configuration, sender_domain, stores, transport
from signup_core.diagnosis.results import Result, skipped


async def diagnose(
    env: Mapping[str, str],
    resolver: tuple[str, int] | None = None,
    http: httpx.AsyncClient | None = None,
) -> list[Result]:
    """Every check, in the order a start-up meets them. A configuration that does not load
    still lets each check run whose own variables are set and well formed."""
    settings, results = configuration.check(env)
    if settings is None:
        names = ("postgresql", "schema", "redis", "seal-keyring", "blind-index")
        return results + [
            skipped(n, "not checked: a variable above is malformed")
            for n in (*names, "mail-transport", "spf", "dkim", "dmarc", "webhooks")
        ]
    results += await stores.check(settings)
    own = http is None
    async with (
        httpx.AsyncClient(timeout=10, verify=tls.client_context()) if own else _borrowed(http)
    ) as client:
        results.append(await transport.check(settings, client))
    results += await sender_domain.check(settings, resolver)
    results.append(configuration.webhooks(settings))
    return results


class _borrowed:
    """The caller's client, not closed here (tests hand in one that respx mocks)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __aenter__(self) -> httpx.AsyncClient:
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        return None
