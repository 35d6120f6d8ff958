"""One TLS context per process for the HTTPS clients we make (captcha checks, JWKS and token
fetches, the mail providers' APIs, doctor's checks).

httpx builds a new SSL context for every client it is not given one, and loading the CA bundle
into it is ~50 ms of CPU: more than the rest of creating the API app. Made once, with what
httpx itself would use (SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle), and
shared: an SSLContext may serve many connections and threads.
"""

from __future__ import annotations

import functools
import os
import ssl

import httpx


def client_context() -> ssl.SSLContext:
    return _context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.cache
def _context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # Keyed by the variables httpx reads, so a process that changes them gets their context.
    return httpx.create_ssl_context()
