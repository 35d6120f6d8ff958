"""`signup-api`: serve the API with uvicorn, after the settings have been checked."""

from __future__ import annotations

import sys

import uvicorn

from signup_api import metrics
from signup_api.app import create_app
from signup_core import logs, tracing
from signup_core.settings import ConfigError, load_settings


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-api: configuration error: {e}")
    logs.configure(settings.log_level)
    metrics.start(settings)
    tracing.configure(settings, "api")
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )
