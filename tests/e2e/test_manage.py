"""The subscriber's preference page in Chromium, JS on and off: from a welcome mail's manage
link, a subscriber on two lists leaves one (by keyboard), then unsubscribes from all; "send
me my data" mails a link that downloads their data; "erase me" asks, erases, and a later
signup of the address is treated like any erased address's.

Its own API and worker with two lists, on their own database (the shared stack has one list,
which other tests rely on), mailing into the session's SMTP catcher."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack.processes import free_port
from tests.e2e.conftest import REPO, address, blind_index, link_in, mail_to, run_async
from tests.e2e.test_visitor import JS
from tests.support import app_env, inspect, migrated_database
from tests.wheel_processes import Service

pytestmark = pytest.mark.browser

CONFIRM = re.compile(r"http://\S+/confirm\?token=([A-Za-z0-9_-]+)")
MANAGE = re.compile(r"http://\S+/manage\?token=[A-Za-z0-9_.-]+")
DATA = re.compile(r"http://\S+/manage/data\?token=[A-Za-z0-9_.-]+")
TITLES = "newsletter=Fieldnotes Weekly,offers=Fieldnotes Offers"


@dataclass
class Lists:
    api: str
    database_url: str
    mail: object


@pytest.fixture(scope="module")
def two_lists(stack, pg_server, redis_server, smtp_server, tmp_path_factory) -> Iterator[Lists]:
    root = tmp_path_factory.mktemp("manage")
    database_url = run_async(migrated_database(pg_server.url, "manage"))
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    # Valkey database 5: the session worker uses 0, the wheel test 1, the browser stack 2.
    env = app_env(
        database_url,
        redis_server.url.rsplit("/", 1)[0] + "/5",
        smtp_server.port,
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=api,
        SIGNUP_LISTS="newsletter,offers",
        SIGNUP_LIST_TITLES=TITLES,
        SIGNUP_SITE_NAME="Fieldnotes",
        SIGNUP_SITE_URL=f"{stack.listed.url}/",
        SIGNUP_ACCENT_COLOUR="#0f766e",
        SIGNUP_RESEND_WINDOW="0",
    )
    venv = Path(sys.executable).parent.parent
    with (
        Service(venv, "signup-worker", env, REPO, root / "worker.log") as worker,
        Service(venv, "signup-api", env, REPO, root / "api.log") as server,
    ):
        worker.wait_for_log("ready for action")
        server.wait_for_port(port)
        yield Lists(api, database_url, smtp_server)


def statuses(lists: Lists, email: str) -> dict[str, str]:
    async def read() -> dict[str, str]:
        conn = await asyncpg.connect(lists.database_url)
        try:
            found = inspect().subscriptions_by_index(conn, email_index=blind_index(email))
            return {r["list_name"]: r["status"] async for r in found}
        finally:
            await conn.close()

    return run_async(read())


def subscribed(lists: Lists, email: str, list_name: str, title: str) -> None:
    """Sign up and confirm by HTTP, as a visitor's browser would post the forms."""
    answer = httpx.post(f"{lists.api}/signup", json={"email": email, "list": list_name})
    assert answer.status_code == 202, answer.text
    token = CONFIRM.search(
        link_in(mail_to(lists, email, f"Confirm your subscription to {title}"), CONFIRM)
    ).group(1)
    deadline = time.monotonic() + 10
    # The worker stores the token's hash a moment after the catcher has the mail.
    while (
        "You are on the list" not in httpx.post(f"{lists.api}/confirm", data={"token": token}).text
    ):
        assert time.monotonic() < deadline, "the confirmation never went through"
        time.sleep(0.1)


def tab_to(v, element_id: str, limit: int = 30) -> None:
    """Press Tab until the element has the focus, as a keyboard user does."""
    for _ in range(limit):
        v.page.keyboard.press("Tab")
        if v.page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


def checked(v, list_name: str) -> bool:
    return v.page.is_checked(f"input[name='list.{list_name}']")


@JS
def test_leave_one_list_then_unsubscribe_from_all(visit, two_lists, js):
    v = visit(js=js)
    v.allow_origin(two_lists.api)
    email = address("manage")
    # Given a subscriber on two lists, and the welcome mail of the first
    subscribed(two_lists, email, "newsletter", "Fieldnotes Weekly")
    link = link_in(mail_to(two_lists, email, "Welcome to Fieldnotes Weekly"), MANAGE)
    subscribed(two_lists, email, "offers", "Fieldnotes Offers")

    # When they open its manage link: every list, each with its state
    v.page.goto(link)
    assert v.page.locator("h1").inner_text() == "Your subscription"
    assert "m•••@example.com" in v.page.inner_text("main")
    assert checked(v, "newsletter") and checked(v, "offers")
    v.shot("both-lists")

    # And leave the newsletter with the keyboard alone
    first = v.page.get_attribute("input[name='list.newsletter']", "id")
    tab_to(v, first)
    v.page.keyboard.press("Space")
    v.shot("newsletter-unticked")
    v.page.keyboard.press("Tab")  # on to the next list
    tab_to(v, "manage-save")
    v.page.keyboard.press("Enter")
    v.page.wait_for_selector("p.message[role=status]")
    assert "Saved." in v.page.inner_text("p.message")
    assert not checked(v, "newsletter") and checked(v, "offers")
    assert statuses(two_lists, email) == {"newsletter": "unsubscribed", "offers": "confirmed"}
    v.shot("left-one")

    # Then unsubscribe from all
    v.page.click("button[value=leave-all]")
    v.page.wait_for_selector("text=You are unsubscribed from every list")
    assert not checked(v, "newsletter") and not checked(v, "offers")
    assert statuses(two_lists, email) == {"newsletter": "unsubscribed", "offers": "unsubscribed"}
    v.shot("left-all")


@JS
def test_send_me_my_data_downloads_it(visit, two_lists, js):
    v = visit(js=js)
    v.allow_origin(two_lists.api)
    email = address("mydata")
    subscribed(two_lists, email, "newsletter", "Fieldnotes Weekly")
    v.page.goto(link_in(mail_to(two_lists, email, "Welcome to Fieldnotes Weekly"), MANAGE))
    v.page.click("button[value=data]")
    v.page.wait_for_selector("text=we sent a link to your data")
    v.shot("data-asked")

    data_link = link_in(mail_to(two_lists, email, "Your data at Fieldnotes"), DATA)
    v.page.goto(data_link)
    assert v.page.locator("h1").inner_text() == "Your data is ready"
    v.shot("data-ready")
    with v.page.expect_download() as download:
        v.page.click("form[action='/manage/data'] button")
    record = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert record["address"] == email
    assert [(s["list"], s["status"]) for s in record["subscriptions"]] == [
        ("newsletter", "confirmed")
    ]


@JS
def test_erase_me_then_sign_up_again_like_any_erased_address(visit, two_lists, js):
    v = visit(js=js)
    v.allow_origin(two_lists.api)
    email = address("eraseme")
    subscribed(two_lists, email, "newsletter", "Fieldnotes Weekly")
    v.page.goto(link_in(mail_to(two_lists, email, "Welcome to Fieldnotes Weekly"), MANAGE))
    v.page.click("text=Erase me…")
    assert v.page.locator("h1").inner_text() == "Erase everything about you?"
    v.shot("erase-asks")

    # Pressed without the box ticked: the error is said under the box, and tied to it (the
    # page answers 400, which Chromium notes in the console)
    v.expect_console("status of 400")
    v.page.click("button.danger")
    v.page.wait_for_selector("#erase-sure-error:not([hidden])")
    box = v.page.locator("#erase-sure")
    assert box.get_attribute("aria-invalid") == "true"
    assert box.get_attribute("aria-describedby") == "erase-sure-error"
    assert statuses(two_lists, email) == {"newsletter": "confirmed"}
    v.shot("erase-not-ticked")

    v.page.check("#erase-sure")
    v.page.click("button.danger")
    v.page.wait_for_selector("text=You are erased")
    assert statuses(two_lists, email) == {}
    v.shot("erased")

    # A later signup is a new one: a confirmation mail, as for any erased address
    v.page.goto(two_lists.api + "/")
    v.page.fill("#signup-email", email)
    v.page.click("form[data-signup] button[type=submit]")
    if not js:
        v.page.wait_for_url(two_lists.api + "/thanks")
    two_lists.mail.wait_for(
        lambda m: email in str(m["To"]) and "Confirm your subscription" in str(m["Subject"]),
        timeout=30,
        count=2,
    )
    assert statuses(two_lists, email) == {"newsletter": "pending"}
