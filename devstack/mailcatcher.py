"""An aiosmtpd server that keeps every message it receives, in memory and optionally as .eml."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Catcher:
    """The handler: stores messages. Tests script refusals: `reply` answers every DATA,
    `next_replies` answers the next ones in turn, `rcpt_reply` refuses every recipient,
    `mail_reply` every sender; `attempts` counts every DATA received, `recipients` holds the
    envelope recipients of every message stored."""

    def __init__(
        self,
        folder: Path | None = None,
        on_message: Callable[[EmailMessage, Path | None], None] | None = None,
    ) -> None:
        self.folder = folder
        self.on_message = on_message
        self.messages: list[EmailMessage] = []
        self.reply: str | None = None
        self.next_replies: list[str] = []
        self.rcpt_reply: str | None = None
        self.mail_reply: str | None = None
        self.recipients: list[str] = []
        self.senders: list[str] = []  # each caught message's envelope sender (MAIL FROM)
        self.attempts = 0
        self._changed = threading.Condition()

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        if self.next_replies:
            return self.next_replies.pop(0)
        if self.reply:
            return self.reply
        raw = envelope.original_content or envelope.content
        if envelope.smtp_utf8:
            # RFC 6532 headers are raw UTF-8, which the bytes parser leaves undecoded.
            message = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
        else:
            message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        path = None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{len(self.messages):05d}.eml"
            path.write_bytes(raw)
        with self._changed:
            self.recipients.extend(envelope.rcpt_tos)
            self.senders.append(envelope.mail_from)
            self.messages.append(message)
            self._changed.notify_all()
        if self.on_message:
            self.on_message(message, path)
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()
            self.reply = None
            self.next_replies = []
            self.rcpt_reply = None
            self.mail_reply = None
            self.recipients.clear()
            self.senders.clear()
            self.attempts = 0

    def wait_for(
        self, predicate: Callable[[EmailMessage], bool], timeout: float = 10, count: int = 1
    ) -> list[EmailMessage]:
        """Block until `count` caught messages match; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.messages if predicate(m)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} expected mails arrived")
                self._changed.wait(left)


def start(port: int, catcher: Catcher, *, smtputf8: bool = False) -> Controller:
    """`smtputf8`: offer SMTPUTF8 (RFC 6531), as a relay that takes non-ASCII addresses does."""
    controller = Controller(catcher, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8)
    controller.start()
    return controller


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""
