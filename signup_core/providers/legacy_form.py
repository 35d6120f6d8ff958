"""Form-encoded webhook bodies (Mailgun's legacy webhooks): the fields of an urlencoded or a
multipart/form-data body as text, the first value of a name winning, files skipped. None when
the body is not a form at all, Malformed when it claims to be one and is not."""

from __future__ import annotations

from email import message_from_bytes, policy
from urllib.parse import parse_qsl

from signup_core.providers import Inbound, Malformed

MAX_FIELDS = 200


def fields(inbound: Inbound) -> dict[str, str] | None:
    content_type = inbound.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return _urlencoded(inbound.body)
    if media == "multipart/form-data":
        return _multipart(content_type, inbound.body)
    return None


def _urlencoded(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            body.decode("ascii"),  # percent-escapes carry anything else
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # non-ASCII bytes, bad UTF-8 behind the escapes, too many fields
        raise Malformed from None
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError:
        raise Malformed from None
    message = message_from_bytes(head + body, policy=policy.HTTP)
    if not message.is_multipart():
        raise Malformed
    found: dict[str, str] = {}
    for i, part in enumerate(message.iter_parts()):
        if i >= MAX_FIELDS:
            raise Malformed
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or part.get_filename():
            continue  # not a named field, or an attached file (the legacy "attachment-1")
        payload = part.get_payload(decode=True) or b""
        try:
            value = payload.decode(part.get_content_charset() or "utf-8")
        except (UnicodeDecodeError, LookupError):
            raise Malformed from None
        found.setdefault(name, value)
    return found
