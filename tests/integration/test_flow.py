"""The whole double opt-in flow through a real worker, real Redis and a real SMTP server."""

from __future__ import annotations

import logging
import re
import uuid

from devstack.mailcatcher import text_part
from tests.integration.test_signup import index, outbox, rows
from tests.support import eventually, mailed_token

LINK = re.compile(r"http://signup\.test/confirm\?token=[A-Za-z0-9_-]+")


async def _all_true(pending) -> bool:
    values = await pending
    return bool(values) and all(values.values())


def to(email: str):
    return lambda m: email in str(m["To"])


async def test_signup_confirm_welcome(client, db, worker, smtp_server, caplog):
    caplog.set_level(logging.DEBUG)
    email = f"flow-{uuid.uuid4().hex[:10]}@example.com"
    name = f"Grace {uuid.uuid4().hex[:6]}"

    # Given a signup
    assert (await client.post("/signup", json={"email": email, "name": name})).status_code == 202

    # Then one confirmation mail arrives, text and HTML, addressed by name
    mail, token = await mailed_token(smtp_server, db, email)
    assert "Confirm" in mail["Subject"]
    assert name in str(mail["To"])
    assert mail["Message-ID"].endswith("@signup.test>")
    assert mail.get_body(preferencelist=("html",)) is not None
    assert LINK.search(text_part(mail)).group(0).endswith(token)

    # When the link is opened, nothing changes yet
    page = await client.get(f"/confirm?token={token}")
    assert page.status_code == 200 and 'name="token"' in page.text
    assert (await rows(db, email))[0]["status"] == "pending"

    # When the button is pressed, the subscription is confirmed and a welcome mail follows
    done = await client.post("/confirm", data={"token": token})
    assert done.status_code == 200 and "You are on the list" in done.text
    assert (await rows(db, email))[0]["status"] == "confirmed"
    [welcome] = smtp_server.wait_for(lambda m: to(email)(m) and "Welcome" in m["Subject"])
    assert welcome is not None

    async def sent_kinds():
        return {o["kind"]: o["sent_at"] is not None for o in await outbox(db, email)}

    # (the SMTP server has the mail a moment before the worker commits sent_at)
    await eventually(lambda: _all_true(sent_kinds()))
    assert await sent_kinds() == {"confirmation": True, "welcome": True}
    assert len([m for m in smtp_server.messages if to(email)(m)]) == 2

    # And no log line, from the API or the worker, holds the address, the name or the token
    # (aiosmtpd "mail.log" and "httpx" are the test's own SMTP server and HTTP client.)
    ours = [r for r in caplog.records if r.name not in ("mail.log", "httpx")]
    assert any(r.name == "signup_api.access" for r in ours)
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in ours) + worker.log()
    for secret in (email, email.split("@")[0], name, token, index(email).hex()):
        assert secret not in logged
    assert "mail sent" in worker.log()  # the worker's log was really read
