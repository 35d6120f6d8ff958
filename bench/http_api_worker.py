"""Imported by each worker process the benchmark starts (`signup-worker bench.http_api_worker`:
Dramatiq imports the modules it is given in every process): points the Postmark transport at
the local mock (bench/mail_api.py) named by BENCH_MAIL_API. Only good for measuring."""

from __future__ import annotations

import os

from signup_core.mail import postmark

postmark.API = os.environ["BENCH_MAIL_API"]
