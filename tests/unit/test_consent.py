"""The consent record's pieces without I/O: browser families, the IP-hash key and its id."""

from __future__ import annotations

import pytest

from signup_core import consent
from signup_core.addresses import blind_index, keyed_hash
from signup_core.settings import load_settings
from tests.support import app_env

NEW_INDEX_KEY = "a-new-blind-index-key-0123456789abcdef"

UA = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "Chrome",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0": "Edge",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0": "Firefox",
    "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/126.0 Safari/537.36 "
    "OPR/111.0": "Opera",
    "curl/8.5.0": "bot",
    "SomethingElse/1.0": "other",
}


@pytest.mark.parametrize(("header", "family"), UA.items())
def test_browser_family(header, family):
    assert consent.browser_family(header) == family


def test_no_user_agent_is_none():
    assert consent.browser_family(None) is None and consent.browser_family("") is None


def _settings(**extra: str):
    return load_settings(app_env("postgresql://x/y", "redis://x:1/0", 25, **extra))


def test_the_ip_key_is_derived_apart_from_the_blind_index_and_named_by_its_id():
    s = _settings()
    key, key_id = consent.ip_key(s)
    assert key != s.blind_index_key.bytes() and len(key_id) == 16
    ip_hash, used = consent.hash_ip(s, "192.0.2.1")
    assert used == key_id and ip_hash == keyed_hash(key, "consent-ip", b"192.0.2.1")
    assert ip_hash != blind_index(s.blind_index_key.bytes(), "192.0.2.1")
    assert consent.ip_matches(key, "192.0.2.1", ip_hash)
    assert not consent.ip_matches(key, "192.0.2.2", ip_hash)
    assert consent.hash_ip(s, None) == (None, None)


def test_a_dedicated_consent_key_outlives_a_blind_index_rotation():
    long_lived = "consent-key-0123456789abcdef0123456789"
    before = _settings(SIGNUP_CONSENT_KEY=long_lived)
    after = _settings(
        SIGNUP_CONSENT_KEY=long_lived,
        SIGNUP_BLIND_INDEX_KEY="a-new-blind-index-key-0123456789abcdef",
    )
    assert consent.hash_ip(before, "192.0.2.1") == consent.hash_ip(after, "192.0.2.1")
    derived_before, derived_after = (
        _settings(),
        _settings(SIGNUP_BLIND_INDEX_KEY="a-new-blind-index-key-0123456789abcdef"),
    )
    # Without it, the key id recorded per row says which derivation a hash needs
    assert consent.ip_key(derived_before)[1] != consent.ip_key(derived_after)[1]


def test_source_of_tells_our_page_from_a_kit_page():
    s = _settings()
    assert consent.source_of(None, s) == ("landing", None)
    assert consent.source_of("http://signup.test", s) == ("landing", None)
    assert consent.source_of("https://Blog.Example.net", s) == ("kit", "https://blog.example.net")
