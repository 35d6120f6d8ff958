"""Sealing: authenticated, names its key, bound to its column, refuses what it cannot open."""

from __future__ import annotations

import base64

import pytest

from signup_core import sealing
from signup_core.sealing import SealError, UnknownKeyId, parse_keyring


def _key(fill: bytes) -> str:
    return base64.urlsafe_b64encode(fill * 32).decode().rstrip("=")


RING = parse_keyring(f"new:{_key(b'n')},old:{_key(b'o')}")


def test_round_trip_under_the_current_key_hides_the_value():
    blob = RING.seal("ada@example.com", sealing.EMAIL)
    assert b"ada" not in blob and sealing.key_id_of(blob) == "new"
    assert RING.unseal(blob, sealing.EMAIL) == "ada@example.com"
    assert RING.seal("ada@example.com", sealing.EMAIL) != blob  # fresh nonce each time


def test_a_sealed_name_does_not_open_as_an_address():
    blob = RING.seal("Ada", sealing.NAME)
    with pytest.raises(SealError):
        RING.unseal(blob, sealing.EMAIL)


def test_an_older_key_still_opens_its_rows():
    old_only = parse_keyring(f"old:{_key(b'o')}")
    blob = old_only.seal("Ada", sealing.NAME)
    assert RING.unseal(blob, sealing.NAME) == "Ada"


def test_an_unknown_key_id_is_named_not_guessed():
    blob = parse_keyring(f"gone:{_key(b'g')}").seal("x@example.com", sealing.EMAIL)
    with pytest.raises(UnknownKeyId, match="gone"):
        RING.unseal(blob, sealing.EMAIL)


def test_tampering_and_plaintext_are_refused():
    blob = bytearray(RING.seal("ada@example.com", sealing.EMAIL))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        RING.unseal(bytes(blob), sealing.EMAIL)
    with pytest.raises(SealError):
        RING.unseal(b"ada@example.com", sealing.EMAIL)


def test_legacy_rows_without_a_key_id_read_as_plaintext_until_resealed():
    assert sealing.open_column(RING, b"ada@example.com", sealing.EMAIL, None) == "ada@example.com"
    blob = RING.seal("ada@example.com", sealing.EMAIL)
    assert sealing.open_column(RING, blob, sealing.EMAIL, "new") == "ada@example.com"


@pytest.mark.parametrize(
    "value",
    ["", "nokey", "a:" + _key(b"a")[:20], "bad id:" + _key(b"a"), f"a:{_key(b'a')},a:{_key(b'b')}"],
)
def test_malformed_keyrings_are_refused(value):
    with pytest.raises(ValueError):
        parse_keyring(value)


def test_the_repr_shows_ids_not_keys():
    assert "new" in repr(RING) and _key(b"n") not in repr(RING)


def test_sealing_a_batch_opens_value_by_value_each_with_its_own_nonce():
    values = ["ada@example.com", None, "ada@example.com", "bob@example.com", ""]
    blobs = RING.seal_many(values, sealing.NAME)
    assert blobs[1] is None
    opened = [RING.unseal(b, sealing.NAME) if b is not None else None for b in blobs]
    assert opened == values
    nonces = [b[2 + b[1] : 2 + b[1] + sealing.NONCE_BYTES] for b in blobs if b is not None]
    assert len(set(nonces)) == 4  # the same value twice still seals differently
    with pytest.raises(SealError):  # bound to its column like seal()
        RING.unseal(blobs[0], sealing.EMAIL)
