"""The consent record written by a signup (landing page or kit) and its confirming click, and
carried in the list export as the columns after unsubscribe_url."""

from __future__ import annotations

import csv
import hashlib
import io

from signup_core import consent, i18n, tokens
from signup_core.settings import load_settings
from tests.integration.test_operator_cli import index
from tests.privacy_support import signupctl
from tests.support import app_client, inspect

KIT = "https://blog.example.net"


async def _row(db, email: str):
    return await db.fetchrow("SELECT * FROM subscriptions WHERE email_index = $1", index(email))


async def test_signup_and_confirmation_write_the_consent_record(db, env):
    kit_env = {**env, "SIGNUP_CORS_ORIGINS": KIT}
    settings = load_settings(kit_env)
    async with app_client(kit_env) as client:
        # Given one signup on our own page and one through the kit on the owner's blog
        landing = await client.post("/signup", data={"email": "own@example.com"})
        kit = await client.post(
            "/signup", json={"email": "kit@example.com", "locale": "de"}, headers={"origin": KIT}
        )
        assert (landing.status_code, kit.status_code) == (303, 202)
        own, blog = await _row(db, "own@example.com"), await _row(db, "kit@example.com")
        # Then each says where consent was given, what wording, and the IP hash with its key
        assert (own["consent_source"], own["consent_origin"]) == ("landing", None)
        assert (blog["consent_source"], blog["consent_origin"]) == ("kit", KIT)
        german = i18n.catalogue("de")["form.consent"]
        assert bytes(blog["consent_wording_hash"]) == hashlib.sha256(german.encode()).digest()
        ip_hash, key_id = consent.hash_ip(settings, "203.0.113.7")
        assert (bytes(blog["consent_ip_hash"]), blog["consent_ip_key"]) == (ip_hash, key_id)
        # When the kit subscriber confirms from Firefox
        token, digest = tokens.mint()
        await inspect().insert_token(
            db, token_hash=digest, subscription_id=blog["id"], ttl_seconds=3600
        )
        firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        done = await client.post("/confirm", data={"token": token}, headers={"user-agent": firefox})
        assert done.status_code == 200
    # Then the click is recorded: how, its IP hash, the browser family (not the header)
    blog = await _row(db, "kit@example.com")
    assert blog["status"] == "confirmed" and blog["confirmed_via"] == "link"
    assert bytes(blog["confirmed_ip_hash"]) == ip_hash
    assert blog["confirmed_user_agent"] == "Firefox"
    # And the export carries the record in the columns after the first seven
    out = signupctl(kit_env, "export")
    assert out.returncode == 0, out.stderr
    [row] = list(csv.DictReader(io.StringIO(out.stdout)))
    assert list(row)[:7] == [
        "address", "name", "list", "locale", "confirmed_at", "consent_form_version",
        "unsubscribe_url",
    ]  # fmt: skip
    assert tuple(list(row)[7:]) == consent.FIELDS
    assert (row["address"], row["consent_source"], row["consent_origin"]) == (
        "kit@example.com", "kit", KIT,
    )  # fmt: skip
    assert row["consent_ip_hash"] == ip_hash.hex() and row["consent_ip_key"] == key_id
    assert row["confirmed_user_agent"] == "Firefox" and row["consent_actor"] == ""
