"""Every answer carries a request id: a sane incoming one is kept, anything else replaced."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123_x.y", True),
        ("", False),
        ("has space", False),
        ("x" * 65, False),
        ("\xe9t\xe9".encode("latin-1"), False),
    ],
)
async def test_request_id(client, sent, kept):
    headers = {"x-request-id": sent} if sent else {}
    response = await client.get("/healthz", headers=headers)
    rid = response.headers["x-request-id"]
    if kept:
        assert rid == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", rid)


async def test_an_error_answer_carries_one_too(client):
    response = await client.post("/signup", content=b"{", headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
