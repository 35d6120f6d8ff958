"""The one place personal data is turned into what the database stores, and back.

Encryption at rest arrives in a later change; until then sealing is an identity encoding, and
every caller already goes through these functions so that change touches only this module.
"""

from __future__ import annotations


def seal(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


def unseal(value: bytes | None) -> str | None:
    return None if value is None else bytes(value).decode()
