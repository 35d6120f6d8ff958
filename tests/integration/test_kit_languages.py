"""The kit in every language: one snippet carries each locale's texts and no fixed locale; a
post without the script is answered in the browser's language, and so is its mail."""

from __future__ import annotations

import html
import json
import re
import uuid

from tests.integration.test_flow import to
from tests.integration.test_signup import rows


def _form(text: str) -> str:
    return re.search(r"<form[^>]*>", text).group(0)


async def test_the_snippet_without_lang_serves_every_locale(client):
    snippet = (await client.get("/kit/form.html", headers={"accept-language": "de"})).text
    assert '<input type="hidden" name="locale" value="">' in snippet
    form = _form(snippet)
    assert 'data-locale="browser"' in form
    texts = json.loads(html.unescape(re.search(r'data-i18n="([^"]*)"', form).group(1)))
    assert (
        texts["de"]["form.email"] == "E-Mail-Adresse" and texts["en"]["form.submit"] == "Subscribe"
    )
    # The labels the page shows before (or without) the script: the default language, always.
    assert 'data-t="form.email">Email address<' in snippet


async def test_lang_pins_one_language_and_page_follows_the_host_page(client):
    pinned = (await client.get("/kit/form.html", params={"lang": "de"})).text
    assert 'name="locale" value="de"' in pinned and "data-i18n" not in pinned
    assert "E-Mail-Adresse" in pinned
    page = _form((await client.get("/kit/form.html", params={"lang": "page"})).text)
    assert 'data-locale="page"' in page and "data-i18n" in page


async def test_a_post_without_locale_follows_accept_language(client, db, worker, smtp_server):
    email = f"kit-{uuid.uuid4().hex[:10]}@example.com"
    answer = await client.post(
        "/signup",
        data={"email": email, "locale": ""},
        headers={"accept-language": "de-AT,de;q=0.9,en;q=0.5"},
    )
    assert answer.status_code == 303
    thanks = await client.get(answer.headers["location"], headers={"accept-language": "de-AT"})
    assert "<h1>Sehen Sie in Ihrem Postfach nach</h1>" in thanks.text
    assert (await rows(db, email))[0]["locale"] == "de"
    [mail] = smtp_server.wait_for(to(email))
    assert mail["Subject"].startswith("Bitte bestätigen Sie")


async def test_a_named_locale_still_wins_over_the_browser(client, db):
    email = f"kit-{uuid.uuid4().hex[:10]}@example.com"
    await client.post(
        "/signup", data={"email": email, "locale": "en"}, headers={"accept-language": "de"}
    )
    assert (await rows(db, email))[0]["locale"] == "en"
