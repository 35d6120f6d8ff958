"""One catalogue for pages and mails; the visitor's language picked from what they ask."""

from __future__ import annotations

import json

import pytest

from signup_core import i18n

SUPPORTED = ("en", "de")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("de-AT", "de"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de"),
        ("en;q=0.2, de;q=0.9", "de"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("de;q=0", "en"),
        ("*", "en"),
        ("de;q=abc, en", "en"),
    ],
)
def test_accept_language_picks_the_best_supported_locale(header, expected):
    assert i18n.negotiate(header, SUPPORTED, "en") == expected


def test_every_shipped_locale_has_every_english_message():
    english = set(json.loads((i18n.MESSAGES / "en.json").read_text()))
    for path in i18n.MESSAGES.glob("*.json"):
        assert set(json.loads(path.read_text())) == english, path.name


def test_a_missing_translation_falls_back_to_english_and_placeholders_fill(tmp_path):
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / "fr.json").write_text('{"form.submit": "S\'inscrire"}')
    translate = i18n.translator("fr", str(tmp_path))
    assert translate("form.submit") == "S'inscrire"
    assert translate("mail.welcome.subject", list="News") == "Welcome to News"
    assert i18n.translator("de")("mail.welcome.subject", list="News") == "Willkommen bei News"
