"""Helpers for the subscriber's own controls: manage links as the worker mints them, a
confirmed subscriber made through the real flow, and the consent columns."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import aiosql

from signup_core import manage_links
from signup_core.clock import Clock
from tests.integration.test_signup import index, rows
from tests.support import mailed_token

MANAGE_LINK = re.compile(r"http://signup\.test/manage\?token=([A-Za-z0-9_.-]+)")
DATA_LINK = re.compile(r"http://signup\.test/manage/data\?token=([A-Za-z0-9_.-]+)")


@functools.cache
def queries() -> Any:
    return aiosql.from_path(Path(__file__).parent / "fixtures" / "subscriber.sql", "asyncpg")


async def consent(db, email: str) -> list[dict[str, Any]]:
    return [dict(r) async for r in queries().consent_by_index(db, email_index=index(email))]


async def confirmed(client, db, smtp_server, email: str, list_name: str = "newsletter") -> None:
    """Sign up and press the confirmation mail's button, as a visitor does."""
    assert (await client.post("/signup", json={"email": email, "list": list_name})).is_success
    _, token = await mailed_token(smtp_server, db, email)
    assert (await client.post("/confirm", data={"token": token})).status_code == 200


async def manage_token(settings, db, email: str, clock: Clock | None = None) -> str:
    """A manage link's token for the address's first subscription, as a mail carries it."""
    first = (await rows(db, email))[0]
    return manage_links.sign(settings, "manage", first["unsubscribe_id"], clock or Clock())
