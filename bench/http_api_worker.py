"""`python -m bench.http_api_worker`: signup-worker with the Postmark transport pointed at the
local mock (bench/mail_api.py) named by BENCH_MAIL_API. Dramatiq forks its worker processes
from this one, so they inherit the change. Only good for measuring."""

from __future__ import annotations

import os

from signup_core.mail import postmark
from signup_worker.cli import main

postmark.API = os.environ["BENCH_MAIL_API"]

if __name__ == "__main__":
    main()
