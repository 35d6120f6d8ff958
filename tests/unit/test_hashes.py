"""The keyed hashes: stable, separated by purpose and key, and never the raw value."""

from __future__ import annotations

import pytest

from signup_core.addresses import blind_index, blind_indexes, hash_ip, keyed_hash

KEY = b"k" * 40


def test_every_spelling_of_one_mailbox_has_one_blind_index():
    assert blind_index(KEY, "Ada@Example.com") == blind_index(KEY, "ada@example.com")
    assert blind_index(KEY, "ada@example.com") != blind_index(KEY, "bob@example.com")


def test_another_key_gives_another_index():
    assert blind_index(KEY, "ada@example.com") != blind_index(b"j" * 40, "ada@example.com")


def test_purposes_never_collide():
    # The same bytes hashed for two uses: an IP hash can never be passed off as an index.
    assert keyed_hash(KEY, "email", b"x") != keyed_hash(KEY, "consent-ip", b"x")


@pytest.mark.parametrize("length", [64, 65, 200])
def test_keys_longer_than_blake2b_takes_are_used_whole(length):
    long_key = b"a" * (length - 1) + b"b"
    other = b"a" * (length - 1) + b"c"
    assert keyed_hash(long_key, "p", b"x") != keyed_hash(other, "p", b"x")


def test_sizes_and_no_ip_means_no_hash():
    assert len(blind_index(KEY, "ada@example.com")) == 32
    assert len(keyed_hash(KEY, "p", b"x", 16)) == 16
    assert hash_ip(KEY, None) is None
    assert b"203.0.113.7" not in hash_ip(KEY, "203.0.113.7")


@pytest.mark.parametrize("key", [KEY, b"s" * 64, b"l" * 65 + b"x"])
def test_a_batch_of_blind_indexes_is_each_address_s_own(key):
    addresses = ["Ada@Example.com", "bob@example.com", "üser@bücher.example", "ada@example.com"]
    assert blind_indexes(key, addresses) == [blind_index(key, a) for a in addresses]
