"""The visitor's path through the built-in pages, with JavaScript on and off."""

from __future__ import annotations

import re

import pytest

from signup_core.addresses import blind_index
from tests.e2e.conftest import (
    UNSUBSCRIBE_LINK,
    address,
    confirm_link,
    link_in,
    mail_to,
    run_async,
)
from tests.support import BLIND_INDEX_KEY, inspect

pytestmark = pytest.mark.browser

JS = pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
LIST = "Fieldnotes Weekly"


def fill_and_send(v, email: str, name: str = "") -> None:
    v.page.fill("#signup-email", email)
    if name:
        v.page.fill("#signup-name", name)
    v.page.click("form[data-signup] button[type=submit]")


def status_text(v, expected: str) -> str:
    """The form's status line once it says `expected` (it says "Sending…" first)."""
    status = v.page.locator("form[data-signup] [data-status]")
    status.filter(has_text=expected).wait_for()
    return status.inner_text()


def rows(stack, email: str) -> list:
    import asyncpg

    async def read() -> list:
        conn = await asyncpg.connect(stack.database_url)
        try:
            index = blind_index(BLIND_INDEX_KEY.encode(), email)
            found = inspect().subscriptions_by_index(conn, email_index=index)
            return [dict(r) async for r in found]
        finally:
            await conn.close()

    return run_async(read())


def expire(stack, email: str) -> None:
    import asyncpg

    async def change() -> None:
        conn = await asyncpg.connect(stack.database_url)
        try:
            index = blind_index(BLIND_INDEX_KEY.encode(), email)
            await inspect().expire_tokens(conn, email_index=index)
        finally:
            await conn.close()

    run_async(change())


def sign_up_by_api(stack, email: str) -> str:
    import httpx

    assert httpx.post(f"{stack.api}/signup", json={"email": email}).status_code == 202
    return confirm_link(stack, email, f"Confirm your subscription to {LIST}")


@JS
def test_signup_mail_confirm_welcome(visit, stack, js):
    v = visit(js=js)
    email = address("path")
    v.page.goto(stack.api + "/")
    assert v.page.title() == "Join the list · Fieldnotes"
    assert not v.page.is_visible("#signup-website")
    v.shot("form")
    fill_and_send(v, email, "Ada")
    if js:
        # The address is repeated, so a typo shows before anyone waits for a mail.
        assert email in status_text(v, email)
        assert v.page.inner_text("[data-status] strong") == email
        assert v.page.input_value("#signup-email") == ""
    else:
        v.page.wait_for_url(stack.api + "/thanks")
        assert v.page.locator("h1").inner_text() == "Check your inbox"
    v.shot("sent")

    link = confirm_link(stack, email, f"Confirm your subscription to {LIST}")
    mail = mail_to(stack, email, f"Confirm your subscription to {LIST}")
    assert "Fieldnotes" in str(mail["From"])
    html = mail.get_body(("html",)).get_content()
    assert 'name="viewport"' in html and "Fieldnotes" in html and "newsletter" not in html
    v.page.goto(link)
    assert v.page.locator("h1").inner_text() == "One more click"
    assert LIST in v.page.inner_text("main")
    v.shot("confirm")
    v.page.click("text=Confirm my subscription")
    assert v.page.locator("h1").inner_text() == "You are on the list"
    back = v.page.locator("main a", has_text="Back to Fieldnotes")
    assert back.get_attribute("href") == stack.listed.url + "/"
    v.shot("confirmed")
    mail_to(stack, email, f"Welcome to {LIST}")
    assert rows(stack, email)[0]["status"] == "confirmed"


@JS
@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("someone@example", "should have a period"),
        ("someone@mailinator.com", "email provider are not accepted"),
    ],
    ids=["invalid", "disposable"],
)
def test_refused_address_is_explained_where_it_was_typed(visit, stack, js, typed, says):
    v = visit(js=js)
    v.expect_console("status of 400")
    v.page.goto(stack.api + "/")
    fill_and_send(v, typed, "Grace")
    email = v.page.locator("#signup-email")
    note = v.page.locator("#signup-email-error")
    note.filter(has_text=says).wait_for()
    assert email.get_attribute("aria-invalid") == "true"
    assert email.get_attribute("aria-describedby") == "signup-email-error"
    assert v.page.evaluate("document.activeElement.id") == "signup-email" if js else True
    # What was typed is still there to correct.
    assert email.input_value() == typed and v.page.input_value("#signup-name") == "Grace"
    v.shot("refused")
    assert rows(stack, typed.lower()) == []


def test_button_is_disabled_while_sending(visit, stack):
    v = visit(js=True)
    email = address("busy")
    seen = []

    def hold(route) -> None:
        # Looked at while the request is on its way, before any answer exists.
        seen.append(v.page.is_disabled("form[data-signup] button[type=submit]"))
        route.continue_()

    v.page.route("**/signup", hold)
    v.page.goto(stack.api + "/")
    fill_and_send(v, email)
    assert email in status_text(v, email)
    assert seen == [True]
    assert not v.page.is_disabled("form[data-signup] button[type=submit]")


@JS
def test_too_many_tries_say_roughly_how_long_to_wait(visit, stack, js):
    v = visit(js=js)
    v.expect_console("status of 429")
    email = address("often")
    for _ in range(3):  # SIGNUP_RATE_LIMIT_ADDRESS=3/hour
        v.page.goto(stack.api + "/")
        fill_and_send(v, email)
        if js:
            assert email in status_text(v, email)
        else:
            v.page.wait_for_url("**/thanks")
    v.page.goto(stack.api + "/")
    fill_and_send(v, email)
    said = v.page.locator(".message.error").filter(has_text="Too many tries")
    said.wait_for()
    assert re.search(r"wait about \d+ minutes", said.inner_text())
    if not js:
        assert v.page.input_value("#signup-email") == email
    v.shot("rate-limited")


@JS
def test_honeypot_answers_like_success_and_keeps_nothing(visit, stack, js):
    v = visit(js=js)
    email = address("bot")
    v.page.goto(stack.api + "/")
    # What a bot does: fill every field in the HTML, seen or not.
    v.page.eval_on_selector("#signup-website", "e => { e.value = 'http://spam.example'; }")
    fill_and_send(v, email)
    if js:
        assert email in status_text(v, email)
    else:
        v.page.wait_for_url("**/thanks")
    v.shot("honeypot")
    assert rows(stack, email) == []


def test_altcha_is_solved_in_the_page(visit, stack):
    v = visit(js=True)
    v.allow_origin(stack.altcha_api)
    email = address("altcha")
    v.page.goto(stack.altcha_api + "/")
    fill_and_send(v, email)
    assert email in status_text(v, email)
    v.shot("altcha-solved")
    mail_to(stack, email, f"Confirm your subscription to {LIST}")


def test_altcha_without_javascript_says_it_needs_it(visit, stack):
    v = visit(js=False)
    v.allow_origin(stack.altcha_api)
    v.page.goto(stack.altcha_api + "/")
    assert "needs JavaScript" in v.page.inner_text("form")
    v.shot("altcha-nojs")


@JS
def test_expired_link_says_so_and_sends_a_new_one(visit, stack, js):
    v = visit(js=js)
    v.expect_console("status of 410")  # the expired link's page answers 410 Gone
    email = address("late")
    link = sign_up_by_api(stack, email)
    expire(stack, email)
    stack.mail.clear()
    v.page.goto(link)
    assert v.page.locator("h1").inner_text() == "This link has expired"
    assert v.page.locator("text=Confirm my subscription").count() == 0
    assert v.page.locator("#signup-name").count() == 0  # only what a new link needs
    v.shot("expired")
    v.page.fill("#signup-email", email)
    v.page.click("text=Send me a new link")
    if js:
        assert email in status_text(v, email)
    else:
        v.page.wait_for_url("**/thanks")
    fresh = confirm_link(stack, email, f"Confirm your subscription to {LIST}")
    assert fresh != link
    v.page.goto(fresh)
    v.page.click("text=Confirm my subscription")
    assert v.page.locator("h1").inner_text() == "You are on the list"


@JS
def test_unknown_link_says_so_and_offers_a_new_one(visit, stack, js):
    v = visit(js=js)
    v.expect_console("status of 404")
    v.page.goto(stack.api + "/confirm?token=" + "x" * 43)
    assert v.page.locator("h1").inner_text() == "We do not know this link"
    assert v.page.locator("text=Send me a new link").count() == 1
    v.shot("unknown")


def test_confirm_page_presses_itself_when_switched_on_and_js_runs(visit, stack):
    v = visit(js=True)
    v.allow_origin(stack.altcha_api)  # that API has SIGNUP_CONFIRM_AUTOSUBMIT=true
    email = address("auto")
    token = sign_up_by_api(stack, email).split("token=")[1]
    v.page.goto(f"{stack.altcha_api}/confirm?token={token}")
    v.page.wait_for_url(f"{stack.altcha_api}/confirm")
    assert v.page.locator("h1").inner_text() == "You are on the list"
    v.shot("autosubmitted")


def test_confirm_page_waits_for_the_button_without_js(visit, stack):
    v = visit(js=False)
    v.allow_origin(stack.altcha_api)
    email = address("scanner")
    token = sign_up_by_api(stack, email).split("token=")[1]
    v.page.goto(f"{stack.altcha_api}/confirm?token={token}")
    assert v.page.locator("h1").inner_text() == "One more click"
    assert rows(stack, email)[0]["status"] == "pending"


@JS
def test_unsubscribe_from_the_mail_link(visit, stack, js):
    import httpx

    v = visit(js=js)
    email = address("leaver")
    token = sign_up_by_api(stack, email).split("token=")[1]
    httpx.post(f"{stack.api}/confirm", data={"token": token})
    link = link_in(mail_to(stack, email, f"Welcome to {LIST}"), UNSUBSCRIBE_LINK)
    v.page.goto(link)
    text = v.page.inner_text("main")
    assert v.page.locator("h1").inner_text() == f"Unsubscribe from {LIST}?"
    assert f"{email[0]}•••@example.com" in text and email not in v.page.content()
    v.shot("unsubscribe")
    v.page.click("button:has-text('Unsubscribe')")
    assert v.page.locator("h1").inner_text() == "You are unsubscribed"
    assert LIST in v.page.inner_text("main")
    v.shot("unsubscribed")
    mail_to(stack, email, f"You have left {LIST}")
    assert rows(stack, email)[0]["status"] == "unsubscribed"


def test_one_click_unsubscribe_post(visit, stack):
    import httpx

    v = visit(js=True)
    email = address("oneclick")
    token = sign_up_by_api(stack, email).split("token=")[1]
    httpx.post(f"{stack.api}/confirm", data={"token": token})
    link = link_in(mail_to(stack, email, f"Welcome to {LIST}"), UNSUBSCRIBE_LINK)
    # What a mail client does with List-Unsubscribe-Post: a bare POST, no cookie, no page.
    answer = v.page.request.post(link, form={"List-Unsubscribe": "One-Click"})
    assert answer.status == 200
    assert rows(stack, email)[0]["status"] == "unsubscribed"


@JS
def test_keyboard_only(visit, stack, js):
    v = visit(js=js)
    email = address("keys")
    v.page.goto(stack.api + "/")
    focused = []
    for _ in range(6):
        v.page.keyboard.press("Tab")
        focused.append(
            v.page.evaluate("document.activeElement.id || document.activeElement.tagName")
        )
        if focused[-1] == "signup-email":
            break
    assert focused[-1] == "signup-email", focused
    v.page.keyboard.type(email)
    v.page.keyboard.press("Tab")
    assert v.page.evaluate("document.activeElement.id") == "signup-name"
    v.page.keyboard.type("Keys")
    v.page.keyboard.press("Tab")  # past the honeypot (tabindex=-1) to the button
    assert v.page.evaluate("document.activeElement.textContent") == "Subscribe"
    v.shot("button-focused")
    v.page.keyboard.press("Enter")
    if js:
        assert email in status_text(v, email)
    else:
        v.page.wait_for_url("**/thanks")
    v.page.goto(confirm_link(stack, email, "Confirm your subscription"))
    v.page.keyboard.press("Tab")
    for _ in range(4):
        if v.page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
        v.page.keyboard.press("Tab")
    v.page.keyboard.press("Enter")
    v.page.locator("h1", has_text="You are on the list").wait_for()
    v.shot("confirmed")


@JS
def test_german_browser_gets_german_pages_and_mails(visit, stack, js):
    v = visit(js=js, locale="de-DE")
    email = address("de")
    v.page.goto(stack.api + "/")
    assert v.page.locator("h1").inner_text() == "In die Liste eintragen"
    assert v.page.get_attribute("html", "lang") == "de"
    v.shot("form-de")
    fill_and_send(v, email)
    if js:
        assert "Sehen Sie in Ihrem Postfach nach" in status_text(v, email)
    else:
        v.page.locator("h1", has_text="Sehen Sie in Ihrem Postfach nach").wait_for()
    v.page.goto(confirm_link(stack, email, f"Bitte bestätigen Sie Ihr Abonnement von {LIST}"))
    assert v.page.locator("h1").inner_text() == "Noch ein Klick"
    v.page.click("text=Abonnement bestätigen")
    assert v.page.locator("h1").inner_text() == "Sie sind eingetragen"
    v.shot("confirmed-de")
    mail_to(stack, email, f"Willkommen bei {LIST}")


@JS
def test_german_error_messages(visit, stack, js):
    v = visit(js=js, locale="de-DE")
    v.expect_console("status of 400")
    v.page.goto(stack.api + "/")
    fill_and_send(v, "jemand@example")
    v.page.locator("#signup-email-error", has_text="sieht nicht richtig aus").wait_for()
    v.shot("refused-de")


@JS
def test_error_pages_for_browsers(visit, stack, js):
    import httpx

    v = visit(js=js)
    v.expect_console("status of 404")
    v.expect_console("status of 405")
    answer = v.page.goto(stack.api + "/no-such-page")
    assert answer.status == 404 and v.page.locator("h1").inner_text() == "Page not found"
    v.shot("404")
    answer = v.page.goto(stack.api + "/signup")
    assert answer.status == 405 and v.page.locator("h1").inner_text() == "Not like this"
    # A JSON client still gets problem details.
    api = httpx.get(stack.api + "/no-such-page", headers={"accept": "application/json"})
    assert api.headers["content-type"] == "application/problem+json"
