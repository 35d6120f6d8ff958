"""The kit on a static site: a second origin listed in SIGNUP_CORS_ORIGINS works with the
form post and with fetch(); a third, not listed, is refused with a page that says why."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import address, confirm_link
from tests.e2e.test_visitor import JS, LIST, fill_and_send, rows, status_text

pytestmark = pytest.mark.browser


@JS
def test_listed_origin_signs_up(visit, stack, js):
    v = visit(js=js)
    v.allow_origin(stack.listed.url)
    email = address("kit")
    v.page.goto(stack.listed.url + "/")
    # The site has none of our styles: the honeypot must stay out of sight all the same.
    assert not v.page.is_visible("#signup-website")
    v.shot("kit-form")
    fill_and_send(v, email)
    if js:
        # Answered in place: the visitor stays on the site.
        assert email in status_text(v, email)
        assert v.page.url.startswith(stack.listed.url)
    else:
        v.page.wait_for_url(stack.api + "/thanks")
    v.shot("kit-sent")
    link = confirm_link(stack, email, f"Confirm your subscription to {LIST}")
    assert link.startswith(stack.api)
    assert rows(stack, email)[0]["status"] == "pending"


@JS
def test_unlisted_origin_is_refused_with_a_page_that_says_why(visit, stack, js):
    v = visit(js=js)
    v.allow_origin(stack.unlisted.url)
    # With JS the browser blocks the answer (no CORS grant) and says so in the console; the
    # script then posts the plain form, which gets the refusal page.
    v.expect_console("blocked by CORS policy")
    v.expect_console("net::ERR_FAILED")
    v.expect_console("status of 403")  # the refusal page answers 403
    email = address("elsewhere")
    v.page.goto(stack.unlisted.url + "/")
    fill_and_send(v, email)
    v.page.wait_for_url(stack.api + "/signup")
    assert v.page.locator("h1").inner_text() == "That did not work"
    assert "may not send signups to this list" in v.page.inner_text("main")
    assert v.page.get_attribute("main a", "href") == "/"
    v.shot("refused-origin")
    assert rows(stack, email) == []


LANGUAGES = pytest.mark.parametrize(
    ("locale", "label", "answer", "subject"),
    [
        ("de-DE", "E-Mail-Adresse", "Sehen Sie in Ihrem Postfach nach", "Bitte bestätigen Sie"),
        ("en-GB", "Email address", "Check your inbox", "Confirm your subscription"),
    ],
    ids=["de", "en"],
)


@JS
@LANGUAGES
def test_one_snippet_answers_each_visitor_in_their_language(
    visit, stack, js, locale, label, answer, subject
):
    # Given the one snippet on the static site, and a browser that prefers `locale`
    v = visit(js=js, locale=locale)
    v.allow_origin(stack.listed.url)
    email = address(f"kit-{locale}")
    v.page.goto(stack.listed.url + "/")
    if js:
        # The script shows the visitor's texts; without it the snippet's own (English) stay.
        assert v.page.inner_text("label[for=signup-email]") == label
    v.shot(f"kit-{locale}-form")
    fill_and_send(v, email)
    # Then the answer, in place or on our page after the post, is in their language
    if js:
        assert answer in status_text(v, answer)
    else:
        v.page.wait_for_url(stack.api + "/thanks")
        assert v.page.locator("h1").inner_text() == answer
    v.shot(f"kit-{locale}-sent")
    # And so is the confirmation mail
    link = confirm_link(stack, email, subject)
    assert link.startswith(stack.api)
    assert rows(stack, email)[0]["locale"] == locale[:2]


def test_the_snippet_can_follow_the_host_page_language(visit, stack):
    # Given a German page on the site with the ?lang=page snippet, and an English browser
    snippet = httpx.get(f"{stack.api}/kit/form.html", params={"lang": "page"}, timeout=10).text
    (stack.listed.folder / "seite.html").write_text(
        '<!doctype html>\n<html lang="de"><head><meta charset="utf-8"><title>Seite</title>'
        f'<link rel="icon" href="data:,"></head>\n<body>{snippet}\n'
        '<script src="signup.js" defer></script></body></html>\n',
        encoding="utf-8",
    )
    v = visit(js=True, locale="en-GB")
    v.allow_origin(stack.listed.url)
    email = address("kit-page")
    v.page.goto(stack.listed.url + "/seite.html")
    # Then the form speaks the page's language, and so do the answer and the mail
    assert v.page.inner_text("label[for=signup-email]") == "E-Mail-Adresse"
    fill_and_send(v, email)
    assert "Sehen Sie in Ihrem Postfach nach" in status_text(v, "Sehen Sie")
    v.shot("kit-page-lang")
    confirm_link(stack, email, "Bitte bestätigen Sie")
