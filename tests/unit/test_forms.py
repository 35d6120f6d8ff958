"""Validation of signup fields, without I/O."""

from __future__ import annotations

import pytest

from signup_api.forms import validate
from signup_api.problems import Problem
from signup_core.addresses import normalise
from signup_core.settings import load_settings
from tests.unit.test_settings import BASE

SETTINGS = load_settings({**BASE, "SIGNUP_LISTS": "news,launch", "SIGNUP_LOCALES": "en,de"})


def test_valid_form_is_normalised():
    form = validate(
        {"email": "  Ada@Example.COM ", "name": "  Ada  ", "list": "launch", "locale": "de-AT"},
        SETTINGS,
    )
    assert form.email == "Ada@example.com"
    assert form.name == "Ada" and form.list_name == "launch" and form.locale == "de"


def test_idn_domain_is_accepted():
    assert validate({"email": "leser@bücher.de"}, SETTINGS).email == "leser@bücher.de"


def test_unsupported_locale_falls_back_and_missing_list_defaults():
    form = validate({"email": "a@example.com", "locale": "fr-FR"}, SETTINGS)
    assert form.locale == "en" and form.list_name == "news"


@pytest.mark.parametrize("name", ["a\x00b", "tab\there", "rtl\u202eoverride", "line\u2028sep"])
def test_control_characters_in_name_are_refused(name):
    with pytest.raises(Problem) as caught:
        validate({"email": "a@example.com", "name": name}, SETTINGS)
    assert caught.value.errors == [{"field": "name", "detail": caught.value.detail}]


def test_blank_name_is_no_name():
    assert validate({"email": "a@example.com", "name": "   "}, SETTINGS).name is None


def test_non_ascii_local_part_is_refused_unless_the_relay_takes_smtputf8():
    with pytest.raises(Problem) as caught:
        validate({"email": "jürgen@example.com"}, SETTINGS)
    assert caught.value.errors[0]["field"] == "email"
    assert "before the @" in caught.value.errors[0]["detail"]
    smtputf8 = load_settings({**BASE, "SIGNUP_SMTPUTF8": "true"})
    assert validate({"email": "jürgen@example.com"}, smtputf8).email == "jürgen@example.com"
    # A provider's event about such an address (signed up while it was on) still finds it.
    assert normalise("Jürgen@Example.com") == "Jürgen@example.com"


@pytest.mark.parametrize(
    "name",
    [
        "Click https://evil.example/login now",
        "hxxp://x",
        "mailto:eve@evil.example",
        "visit www.evil.example",
        "see evil.example today",
        "me@evil.com",
        "bit.ly",
        "evil\u3002example",  # an ideographic full stop, a dot to IDNA and to mail clients
        "Eve =?utf-8?b?PGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?=",
        "=?iso-8859-1?q?Eve?=",
    ],
)
def test_names_that_read_as_links_or_encoded_words_are_refused(name):
    with pytest.raises(Problem) as caught:
        validate({"email": "a@example.com", "name": name}, SETTINGS)
    assert caught.value.errors == [{"field": "name", "detail": caught.value.detail}]


@pytest.mark.parametrize(
    "name", ["Mr. Bean", "J.R.R. Tolkien", "Jürgen Müller", "O'Neil", "Anne-Marie", "Ünal = 1?"]
)
def test_ordinary_names_pass(name):
    assert validate({"email": "a@example.com", "name": name}, SETTINGS).name == name
