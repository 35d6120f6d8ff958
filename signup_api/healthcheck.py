"""`python -m signup_api.healthcheck`: the image's HEALTHCHECK. Exits 0 when this container's API
answers /healthz on its own port; the slim image has no curl, and Python is already there."""

from __future__ import annotations

import os
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("PORT", "8000")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return 0 if answer.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
