"""The subscriber's preference page: reached from a signed, expiring link in every mail but
the confirmation; lists joined (no new confirmation) and left, all left at once, "send me my
data" mailed, "erase me" with a confirm step; every action audited without the address."""

from __future__ import annotations

import datetime
import json
import re
import uuid

import pytest

from devstack.mailcatcher import text_part
from signup_core import manage_links, unsubscribe_links
from signup_core.clock import FixedClock
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox, rows, settled
from tests.privacy_support import privacy
from tests.subscriber_support import DATA_LINK, MANAGE_LINK, confirmed, consent, manage_token
from tests.subscriber_support import queries as subscriber_queries
from tests.support import app_client, mailed_token

TWO_LISTS = {"SIGNUP_LISTS": "newsletter,offers", "SIGNUP_LIST_TITLES": "offers=Special offers"}


def person() -> str:
    return f"chooser-{uuid.uuid4().hex[:10]}@example.com"


async def audit(db) -> list[dict]:
    return [dict(r) async for r in privacy().audit_actions(db)]


async def test_every_mail_but_the_confirmation_carries_a_manage_link(
    client, db, worker, smtp_server
):
    email = person()
    await client.post("/signup", json={"email": email})
    confirmation, token = await mailed_token(smtp_server, db, email)
    assert "/manage" not in text_part(confirmation)
    await client.post("/confirm", data={"token": token})
    [welcome] = smtp_server.wait_for(lambda m: to(email)(m) and "Welcome" in m["Subject"])
    link = MANAGE_LINK.search(text_part(welcome))
    assert link, text_part(welcome)
    html = welcome.get_body(preferencelist=("html",)).get_content()
    assert "Manage your subscription" in html and link.group(0) in html
    # List-Unsubscribe stays the one-click link, unchanged.
    assert "/unsubscribe?token=" in welcome["List-Unsubscribe"]
    # The link names no address, not even its blind index.
    payload = link.group(1)
    assert email not in payload and index(email).hex() not in payload
    page = await client.get("/manage", params={"token": link.group(1)})
    assert page.status_code == 200 and "c•••@example.com" in page.text


async def test_leave_one_list_join_another_then_unsubscribe_from_all(env, db, worker, smtp_server):
    email = person()
    async with app_client({**env, **TWO_LISTS}) as client:
        # Given a subscriber confirmed on the newsletter
        await confirmed(client, db, smtp_server, email)
        await settled(db, email)
        token = await manage_token(client_settings(env), db, email)

        # When they open the page, it shows every list with its state and changes nothing
        page = await client.get("/manage", params={"token": token})
        assert page.status_code == 200
        assert 'name="list.newsletter" value="on" checked' in page.text
        assert "Special offers" in page.text and 'name="list.offers" value="on" aria' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert [r["status"] for r in await rows(db, email)] == ["confirmed"]

        # When they tick offers, untick the newsletter and save
        saved = await client.post(
            "/manage", data={"token": token, "action": "save", "list.offers": "on"}
        )
        assert saved.status_code == 303 and "done=saved" in saved.headers["location"]

        # Then offers is confirmed without a confirmation mail, with its consent record, and
        # a welcome mail of its own; the newsletter is left without a receipt mail
        assert [(r["list_name"], r["status"]) for r in await rows(db, email)] == [
            ("newsletter", "unsubscribed"),
            ("offers", "confirmed"),
        ]
        offers = (await consent(db, email))[1]
        assert (
            offers["consent_source"] == "preferences" and offers["confirmed_via"] == "preferences"
        )
        assert offers["consent_ip_hash"] is not None
        await settled(db, email)
        kinds = [o["kind"] for o in await outbox(db, email)]
        assert kinds == ["confirmation", "welcome", "welcome"]
        # (the session worker has no list titles: it calls the list by its key)
        smtp_server.wait_for(lambda m: to(email)(m) and m["Subject"] == "Welcome to offers")
        shown = await client.get(saved.headers["location"])
        assert "Saved." in shown.text and 'name="list.offers" value="on" checked' in shown.text

        # When they unsubscribe from all
        left = await client.post("/manage", data={"token": token, "action": "leave-all"})
        assert "done=left" in left.headers["location"]
        assert {r["status"] for r in await rows(db, email)} == {"unsubscribed"}

    # And every action is in the audit trail, with list names and counts, never the address
    trail = [r for r in await audit(db) if r["actor"] == "subscriber"]
    assert [r["action"] for r in trail] == ["preferences-save", "preferences-leave-all"]
    assert (
        '"joined": ["offers"]' in trail[0]["params"]
        and '"left": ["newsletter"]' in trail[0]["params"]
    )
    assert all(email not in str(r) and index(email).hex() not in str(r) for r in await audit(db))


def client_settings(env):
    from signup_core.settings import load_settings

    return load_settings(env)


async def test_links_expire_and_only_a_manage_link_opens_the_page(env, db):
    email = person()
    made = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    settings = client_settings(env)
    async with app_client(env, clock=FixedClock(made)) as client:
        await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    token = manage_links.sign(settings, "manage", row["unsubscribe_id"], FixedClock(made))
    ttl = datetime.timedelta(seconds=settings.manage_link_ttl)

    async with app_client(env, clock=FixedClock(made + ttl)) as client:
        assert (await client.get("/manage", params={"token": token})).status_code == 200
    async with app_client(
        env, clock=FixedClock(made + ttl + datetime.timedelta(seconds=1))
    ) as client:
        late = await client.get("/manage", params={"token": token})
        assert late.status_code == 410 and "This link has expired" in late.text
        gone = await client.post("/manage", data={"token": token, "action": "leave-all"})
        assert gone.status_code == 410
    assert (await rows(db, email))[0]["status"] == "pending"

    async with app_client(env) as client:
        # An unsubscribe link's token, a data link's token, a forged one: none opens the page.
        others = [
            unsubscribe_links.sign(settings, row["unsubscribe_id"]),
            manage_links.sign(settings, "data", row["unsubscribe_id"], FixedClock(made + ttl)),
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            "",
        ]
        for other in others:
            refused = await client.get("/manage", params={"token": other})
            assert refused.status_code in (404, 410), other


async def test_send_me_my_data_mails_a_short_lived_link_once_per_window(
    client, db, worker, smtp_server, settings
):
    email = person()
    await confirmed(client, db, smtp_server, email)
    token = await manage_token(settings, db, email)
    for _ in range(2):
        asked = await client.post("/manage", data={"token": token, "action": "data"})
        assert asked.status_code == 303 and "done=data" in asked.headers["location"]
    [mail] = smtp_server.wait_for(lambda m: to(email)(m) and "Your data" in m["Subject"])
    link = DATA_LINK.search(text_part(mail))
    assert link and "60 minutes" in text_part(mail)
    assert mail["List-Id"] is None  # a mail to one person, not a mail of the list
    await settled(db, email)
    assert [o["kind"] for o in await outbox(db, email)].count("data_link") == 1
    # The data link shows a button and changes nothing; it does not open the preference page.
    page = await client.get("/manage/data", params={"token": link.group(1)})
    assert page.status_code == 200 and 'action="/manage/data"' in page.text
    assert (await client.get("/manage", params={"token": link.group(1)})).status_code == 404
    actions = [r["action"] for r in await audit(db)]
    assert actions.count("data-link-request") == 2

    # The button downloads the operator's per-person record, as a JSON file
    download = await client.post("/manage/data", data={"token": link.group(1)})
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/json"
    assert "attachment" in download.headers["content-disposition"]
    record = json.loads(download.text)
    assert record["address"] == email and record["format"].startswith("signet-signup/person-record")
    assert [s["status"] for s in record["subscriptions"]] == ["confirmed"]
    assert "data_link" in [m["kind"] for m in record["mails"]]
    lookup = [r for r in await audit(db) if r["action"] == "lookup"]
    assert lookup[0]["actor"] == "subscriber" and email not in str(lookup)


async def test_the_data_link_expires(env, db, smtp_server):
    email = person()
    made = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    async with app_client(env) as client:
        await client.post("/signup", json={"email": email})
    [row] = await rows(db, email)
    settings = client_settings(env)
    token = manage_links.sign(settings, "data", row["unsubscribe_id"], FixedClock(made))
    later = made + datetime.timedelta(seconds=settings.data_link_ttl + 1)
    async with app_client(env, clock=FixedClock(later)) as client:
        page = await client.get("/manage/data", params={"token": token})
        assert page.status_code == 410
        assert (await client.post("/manage/data", data={"token": token})).status_code == 410


async def test_erase_me_asks_first_then_erases_like_the_operator(
    client, db, worker, smtp_server, settings
):
    email = person()
    await confirmed(client, db, smtp_server, email)
    token = await manage_token(settings, db, email)

    ask = await client.get("/manage/erase", params={"token": token})
    assert ask.status_code == 200 and 'for="erase-sure"' in ask.text
    assert len(await rows(db, email)) == 1

    # Not ticked: said under the box, tied to it
    unsure = await client.post("/manage/erase", data={"token": token})
    assert unsure.status_code == 400
    assert re.search(
        r'id="erase-sure"[^>]*aria-invalid="true" aria-describedby="erase-sure-error"', unsure.text
    )
    assert 'id="erase-sure-error" class="field-error">Tick the box' in unsure.text
    assert len(await rows(db, email)) == 1

    done = await client.post("/manage/erase", data={"token": token, "sure": "yes"})
    assert done.status_code == 200 and "You are erased" in done.text
    assert await rows(db, email) == []
    [entry] = [r for r in await audit(db) if r["action"] == "erase"]
    assert entry["actor"] == "subscriber" and '"subscriptions": 1' in entry["counts"]
    # The link is dead now, and a later signup is treated like any erased address: a new one.
    assert (await client.get("/manage", params={"token": token})).status_code == 404
    assert (await client.post("/signup", json={"email": email})).status_code == 202
    assert [r["status"] for r in await rows(db, email)] == ["pending"]


async def test_suppressed_address_sees_why_and_cannot_join(env, db):
    email = person()
    async with app_client({**env, **TWO_LISTS}) as client:
        await client.post("/signup", json={"email": email})
        await subscriber_queries().suppress_index(db, email_index=index(email))
        token = await manage_token(client_settings(env), db, email)
        page = await client.get("/manage", params={"token": token})
        assert "Mail to this address is stopped" in page.text and " disabled" in page.text
        await client.post("/manage", data={"token": token, "list.offers": "on"})
    assert [r["list_name"] for r in await rows(db, email)] == ["newsletter"]


@pytest.mark.parametrize(
    ("language", "heading"), [("de-DE,de;q=0.9", "Ihr Abonnement"), ("en", "Your subscription")]
)
async def test_the_page_speaks_the_browser_language(client, db, settings, language, heading):
    email = person()
    await client.post("/signup", json={"email": email})
    token = await manage_token(settings, db, email)
    page = await client.get(
        "/manage", params={"token": token}, headers={"accept-language": language}
    )
    assert f"<h1>{heading}</h1>" in page.text
