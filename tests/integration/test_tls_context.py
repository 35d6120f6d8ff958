"""Every HTTPS client a process makes shares one TLS context: httpx otherwise loads the CA
bundle into a new one per client, ~50 ms of CPU each (most of creating the API app)."""

from __future__ import annotations

from signup_core import tls


def _context_of(client) -> object:
    return client._transport._pool._ssl_context  # httpx -> httpcore's pool


def test_one_context_per_process_and_per_ca_setting(monkeypatch):
    import certifi

    first = tls.client_context()
    assert tls.client_context() is first
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls.client_context() is not first  # a changed CA setting gets its own


async def test_the_api_apps_share_it(settings, db):
    from signup_api.app import create_app

    contexts = []
    for _ in range(2):
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            contexts.append(_context_of(app.state.http))
    assert contexts[0] is contexts[1] is tls.client_context()
