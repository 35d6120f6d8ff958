"""The real API for the webhook benchmark, with the one outside call it would make (fetching
the SNS signing certificate) answered locally by respx. Run: python -m bench.webhook_app"""

from __future__ import annotations

import os
import sys

import respx
import uvicorn

from signup_api.app import create_app
from signup_core import logs
from signup_core.settings import load_settings

if __name__ == "__main__":
    settings = load_settings()
    logs.configure(settings.log_level)
    certificate = open(sys.argv[1], "rb").read()  # noqa: SIM115 - read once at start
    with respx.mock(assert_all_called=False) as mock:
        mock.get(os.environ["BENCH_CERT_URL"]).respond(content=certificate)
        mock.route().pass_through()
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=settings.port,
            log_config=None,
            access_log=False,
        )
