"""The one place personal data is turned into what the database stores, and back: AES-256-GCM
in a small versioned envelope that names its key, bound by associated data to the column it
belongs in. bench/sealing.py measured this against JWE (dir + A256GCM); docs/privacy.md says
why."""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")

# What each sealed column holds: the associated data, so a sealed name pasted into the address
# column (or a value from another table) fails to open instead of being read as an address.
EMAIL = "subscriptions.email"
NAME = "subscriptions.name"


class SealError(ValueError):
    """A stored value cannot be opened: unknown key id, tampered, or not an envelope."""


class UnknownKeyId(SealError):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"key id {key_id!r} is not in SIGNUP_SEAL_KEYS")
        self.key_id = key_id


@dataclass(frozen=True)
class Keyring:
    """The current key (it seals) and the older ones still needed to open old rows."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        ciphers = {kid: AESGCM(key) for kid, key in self.keys.items()}
        object.__setattr__(self, "_ciphers", ciphers)

    def __hash__(self) -> int:
        return hash((self.current_id, tuple(sorted(self.keys))))

    def __repr__(self) -> str:
        return f"Keyring(current_id={self.current_id!r}, ids={sorted(self.keys)!r})"

    def seal(self, value: str | None, purpose: str) -> bytes | None:
        if value is None:
            return None
        kid = self.current_id.encode()
        header = bytes([VERSION, len(kid)]) + kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current_id].encrypt(  # type: ignore[attr-defined]
            nonce, value.encode(), header + purpose.encode()
        )
        return header + nonce + sealed

    def seal_many(self, values: list[str | None], purpose: str) -> list[bytes | None]:
        """seal() of each value, for an import's batch: one os.urandom() call draws every
        nonce (a call per value cost a quarter of the sealing), each nonce still its own
        12 random bytes."""
        kid = self.current_id.encode()
        header = bytes([VERSION, len(kid)]) + kid
        bound = header + purpose.encode()
        encrypt = self._ciphers[self.current_id].encrypt  # type: ignore[attr-defined]
        nonces = os.urandom(NONCE_BYTES * len(values))
        sealed: list[bytes | None] = []
        for at, value in enumerate(values):
            if value is None:
                sealed.append(None)
                continue
            nonce = nonces[at * NONCE_BYTES : (at + 1) * NONCE_BYTES]
            sealed.append(header + nonce + encrypt(nonce, value.encode(), bound))
        return sealed

    def unseal(self, blob: bytes | None, purpose: str) -> str | None:
        if blob is None:
            return None
        blob = bytes(blob)
        kid, body = key_id_of(blob), blob[2 + blob[1] :]
        cipher = self._ciphers.get(kid)  # type: ignore[attr-defined]
        if cipher is None:
            raise UnknownKeyId(kid)
        try:
            plain = cipher.decrypt(
                body[:NONCE_BYTES], body[NONCE_BYTES:], blob[: 2 + blob[1]] + purpose.encode()
            )
        except InvalidTag:
            raise SealError(f"value sealed under {kid!r} does not open as {purpose}") from None
        return plain.decode()


def key_id_of(blob: bytes) -> str:
    if len(blob) < 2 or blob[0] != VERSION or len(blob) < 2 + blob[1] + NONCE_BYTES + 16:
        raise SealError("not a sealed envelope (version 1)")
    return blob[2 : 2 + blob[1]].decode("ascii", "replace")


def parse_keyring(value: str) -> Keyring:
    """'id:base64key,older-id:base64key': the first seals, all open. Keys are 32 random bytes
    (`openssl rand -base64 32`)."""
    keys: dict[str, bytes] = {}
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        kid, sep, material = entry.partition(":")
        if not sep or not KEY_ID.match(kid):
            raise ValueError("expected id:base64key[,id:base64key...] with ids of [A-Za-z0-9._-]")
        try:
            key = base64.b64decode(material + "=" * (-len(material) % 4), altchars=b"-_")
        except (binascii.Error, ValueError):
            raise ValueError(f"key {kid!r} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes, not {len(key)}")
        if kid in keys:
            raise ValueError(f"key id {kid!r} appears twice")
        keys[kid] = key
    if not keys:
        raise ValueError("expected at least one id:base64key")
    return Keyring(next(iter(keys)), keys)


def open_column(keys: Keyring, blob: bytes | None, purpose: str, key_id: str | None) -> str | None:
    """A row's sealed column; a row without a key id predates encryption and is plaintext
    until `signupctl rotate-keys` seals it."""
    if key_id is None:
        return None if blob is None else bytes(blob).decode()
    return keys.unseal(blob, purpose)
