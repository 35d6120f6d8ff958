"""Branding by configuration: display names, site name, sender, colour, and a folder of the
site's own templates and messages (docs/templates-example/ is rendered here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signup_core.mail.render import Envelope, render
from signup_core.settings import ConfigError, load_settings
from signup_worker.mailer import sender
from tests.unit.test_settings import BASE

EXAMPLE = str(Path(__file__).resolve().parents[2] / "docs" / "templates-example")
ENVELOPE = Envelope(
    to_address="ada@example.com",
    to_name="Ada",
    sender="News <news@example.org>",
    reply_to=None,
    unsubscribe_url="https://x/unsubscribe?token=u",
    domain="example.org",
)
CONTEXT = {
    "name": "Ada",
    "list_name": "newsletter",
    "list_title": "Fieldnotes Weekly",
    "site_name": "Fieldnotes",
    "accent": "#0f766e",
    "confirm_url": "https://x/confirm?token=t",
    "ttl_hours": 48,
}


def test_branding_settings_are_read_and_checked():
    s = load_settings(
        {
            **BASE,
            "SIGNUP_LISTS": "newsletter,offers",
            "SIGNUP_LIST_TITLES": "newsletter=Fieldnotes Weekly",
            "SIGNUP_ACCENT_COLOUR": "#0f766e",
            "SIGNUP_SENDER_NAME": 'Field "notes"',
            "SIGNUP_MAIL_FROM": "noreply@example.org",
        }
    )
    assert s.list_title("newsletter") == "Fieldnotes Weekly" and s.list_title("offers") == "offers"
    assert sender(s) == '"Field notes" <noreply@example.org>'


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SIGNUP_ACCENT_COLOUR", "red; } body { display:none"),
        ("SIGNUP_LIST_TITLES", "newsletter"),
        ("SIGNUP_SITE_URL", "javascript:alert(1)"),
        ("SIGNUP_TEMPLATES_DIR", "/no/such/folder"),
        ("SIGNUP_FRAME_ANCESTORS", "*"),
    ],
)
def test_malformed_branding_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({**BASE, name: value})


def test_mail_shows_the_display_name_and_the_site_and_fits_a_phone():
    mail = render("confirmation", "en", ENVELOPE, CONTEXT)
    assert mail.subject == "Confirm your subscription to Fieldnotes Weekly"
    assert '<meta name="viewport"' in mail.html and "Fieldnotes" in mail.html
    assert "newsletter" not in mail.html + mail.text + mail.subject
    assert "background:#0f766e" in mail.html and "Sent by Fieldnotes." in mail.text


def test_the_example_templates_folder_rewords_adds_french_and_replaces_a_mail():
    french = render("confirmation", "fr", ENVELOPE, CONTEXT, templates_dir=EXAMPLE)
    assert french.subject == "Confirmez votre inscription à Fieldnotes Weekly"
    assert "Bonjour Ada," in french.text and 'lang="fr"' in french.html
    welcome = render("welcome", "en", ENVELOPE, CONTEXT, templates_dir=EXAMPLE)
    assert "first Monday of the month" in welcome.html
    assert "https://x/unsubscribe?token=u" in welcome.html  # our layout's footer kept
    assert "first Monday" not in render("welcome", "en", ENVELOPE, CONTEXT).html
