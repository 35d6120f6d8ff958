"""Mail rendering: both parts, our Message-ID, and no way for user input to add headers."""

from __future__ import annotations

import pytest

from signup_core.mail.render import Envelope, render

ENVELOPE = Envelope(
    to_address="ada@example.com",
    to_name="Ada",
    sender="News <news@example.org>",
    reply_to="help@example.org",
    unsubscribe_url="https://x/unsubscribe?token=u",
    domain="example.org",
)
CONTEXT = {
    "name": "Ada",
    "list_name": "news",
    "confirm_url": "https://x/confirm?token=t",
    "ttl_hours": 48,
}


def test_confirmation_has_text_and_html_and_our_headers():
    msg = render("confirmation", "en", ENVELOPE, CONTEXT)
    assert msg["Subject"] == "Confirm your subscription to news"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Reply-To"] == "help@example.org"
    assert "https://x/confirm?token=t" in msg.get_body(("plain",)).get_content()
    assert 'href="https://x/confirm?token=t"' in msg.get_body(("html",)).get_content()


def test_html_part_escapes_the_name():
    msg = render("welcome", "en", ENVELOPE, {**CONTEXT, "name": "<b>x</b>"})
    html = msg.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize("name", ["Eve\r\nBcc: victim@example.com", "Eve\nX-Evil: 1"])
def test_name_cannot_inject_headers(name):
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_name": name})
    raw = render("welcome", "en", envelope, {**CONTEXT, "name": name}).as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\nX-Evil:" not in headers


def test_unknown_locale_falls_back_to_english():
    assert render("welcome", "xx", ENVELOPE, CONTEXT)["Subject"] == "Welcome to news"
