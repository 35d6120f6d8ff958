"""Confirmation tokens: 256 random bits handed out once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def mint() -> tuple[str, bytes]:
    """A fresh URL-safe token and the hash that is stored in its place."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, digest(token)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_valid(token: str) -> bool:
    """Cheap shape check so junk never reaches the database."""
    return 20 <= len(token) <= 100 and all(c.isalnum() or c in "-_" for c in token)
