"""The image's HEALTHCHECK command: healthy while this container's API answers /healthz, not
once nothing listens on its port."""

from __future__ import annotations

import threading

import uvicorn

from devstack.processes import free_port, wait_for_port
from signup_api import healthcheck


def test_healthcheck_follows_the_api(app, monkeypatch):
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    assert healthcheck.main() == 1  # nothing listens yet

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        assert healthcheck.main() == 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert healthcheck.main() == 1
