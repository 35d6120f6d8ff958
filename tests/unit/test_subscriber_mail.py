"""The manage link in the mails' footers and the data-link mail, rendered without I/O."""

from __future__ import annotations

import pytest

from signup_core.mail.mime import to_bytes
from signup_core.mail.render import render
from tests.unit.test_render import CONTEXT, ENVELOPE, parsed

MANAGE = "https://signup.example.org/manage?token=abc.def"
DATA = "https://signup.example.org/manage/data?token=ghi.jkl"


@pytest.mark.parametrize("kind", ["welcome", "already_subscribed", "unsubscribed"])
def test_the_footer_links_to_the_preference_page_when_given(kind):
    mail = render(kind, "en", ENVELOPE, {**CONTEXT, "manage_url": MANAGE})
    assert f"Manage your subscription: {MANAGE}" in mail.text
    assert f'<a href="{MANAGE}"' in mail.html and "Manage your subscription</a>" in mail.html


def test_without_a_manage_link_the_footer_has_none():
    mail = render("confirmation", "en", ENVELOPE, {**CONTEXT, "confirm_url": "x", "ttl_hours": 48})
    assert "/manage" not in mail.text and "Manage your" not in mail.html


@pytest.mark.parametrize(("locale", "said"), [("en", "60 minutes"), ("de", "60 Minuten")])
def test_the_data_link_mail_carries_its_link_in_the_reader_language(locale, said):
    context = {**CONTEXT, "site_name": "Fieldnotes", "data_url": DATA, "ttl_minutes": 60}
    mail = render("data_link", locale, ENVELOPE, {**context, "manage_url": MANAGE})
    assert DATA in mail.text and said in mail.text and f'href="{DATA}"' in mail.html
    assert mail.subject in ("Your data at Fieldnotes", "Ihre Daten bei Fieldnotes")
    assert parsed(to_bytes(mail))["Subject"] == mail.subject
