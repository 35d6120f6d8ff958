"""The floor: the least code this design can run per signup. Parse JSON, normalise the address,
one INSERT ... ON CONFLICT with a token hash through an asyncpg pool, one asynchronous Redis
write standing for the enqueue, 202. A bare ASGI app, served by uvicorn like the real one.

Run: DATABASE_URL=... REDIS_URL=... PORT=... python -m bench.floor
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import aiosql
import asyncpg
import redis.asyncio as redis
import uvicorn
from email_validator import EmailNotValidError, validate_email

QUERIES = aiosql.from_path(Path(__file__).with_name("floor.sql"), "asyncpg")
state: dict = {}


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # The same pool size as the real app's (SIGNUP_DB_POOL_MAX), and like it no
                # reset round trip on release, for a fair match.
                size = int(os.environ.get("SIGNUP_DB_POOL_MAX", "20"))
                state["pool"] = await asyncpg.create_pool(
                    os.environ["DATABASE_URL"], min_size=size, max_size=size, reset=_no_reset
                )
                async with state["pool"].acquire() as conn:
                    await QUERIES.create_floor_table(conn)
                # As the real app: no socket timeout, so no asyncio.wait_for task per command.
                state["redis"] = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=None)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await state["pool"].close()
                await state["redis"].aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        email = validate_email(json.loads(body)["email"], check_deliverability=False).normalized
    except (ValueError, KeyError, TypeError, EmailNotValidError):
        await _answer(send, 400, b'{"error":"invalid"}')
        return
    token_hash = hashlib.sha256(secrets.token_bytes(32)).digest()
    async with state["pool"].acquire() as conn:
        row_id = await QUERIES.insert_floor_signup(conn, email=email, token_hash=token_hash)
    await state["redis"].lpush("floor:queue", row_id)
    await _answer(send, 202, b'{"status":"accepted"}')


async def _no_reset(conn) -> None:
    pass


async def _answer(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning", access_log=False
    )
