"""The kit on a static site: a second origin listed in SIGNUP_CORS_ORIGINS works with the
form post and with fetch(); a third, not listed, is refused with a page that says why."""

from __future__ import annotations

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
