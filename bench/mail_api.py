"""A provider's HTTP mail API, as the worker's benchmark target: answers every POST like
Postmark's /email (200, a JSON body), a list of messages like its /email/batch (200, a result
for each), and notes when each recipient's mail arrived; GET /arrivals
returns them, GET /clear forgets them. POST /v1/traces takes OTLP spans and drops them. A bare
ASGI app under uvicorn, in a process of its own, so it takes no CPU from the measuring process.

Run: PORT=... python -m bench.mail_api
"""

from __future__ import annotations

import json
import os
import time

import uvicorn

arrivals: dict[str, float] = {}
OK = b'{"ErrorCode":0,"Message":"OK","MessageID":"bench"}'


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/v1/traces":  # also the OTLP receiver of the traced API's spans
        answer = b""
    elif scope["method"] == "POST":
        now = time.monotonic()
        sent = json.loads(body)
        batch = isinstance(sent, list)  # Postmark's /email/batch: a result a message, in order
        for one in sent if batch else [sent]:
            arrivals.setdefault(one["To"].rsplit("<", 1)[-1].rstrip(">"), now)
        answer = b"[" + b",".join([OK] * len(sent)) + b"]" if batch else OK
    elif scope["path"] == "/clear":
        arrivals.clear()
        answer = b"{}"
    else:
        answer = json.dumps(arrivals).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": answer})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning", access_log=False
    )
