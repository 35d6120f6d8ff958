"""`signup-api`: serve the API with uvicorn, after the settings have been checked."""

from __future__ import annotations

import sys

import uvicorn

from signup_api.app import create_app
from signup_core import logs
from signup_core.settings import ConfigError, load_settings

HELP = """usage: signup-api [-h]

Serve the signup API (uvicorn) on HOST:PORT. All configuration comes from the environment
(DATABASE_URL, REDIS_URL, PUBLIC_BASE_URL, SIGNUP_BLIND_INDEX_KEY, SIGNUP_SIGNING_KEY,
SIGNUP_SEAL_KEYS, ...; any secret also as NAME_FILE); see the README's configuration table."""


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(HELP)
        return
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-api: configuration error: {e}")
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
