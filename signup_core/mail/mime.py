"""A rendered mail as MIME bytes for SMTP: multipart/alternative, text and HTML in UTF-8.

Built with the email package's legacy classes, which do not parse every header they are given
(the modern API spent ~2 ms a mail on that, most of a worker's time). They also do not refuse
line breaks, so every value here comes through one_line() first.
"""

from __future__ import annotations

import base64
import secrets
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import formataddr, parseaddr

from signup_core.mail.render import Rendered, one_line


class _Policy(Compat32):
    """compat32 with a short cut for what most headers are: one short line of printable ASCII,
    which folding returns unchanged. Header folding was ~40% of building a mail."""

    def fold_binary(self, name: str, value) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = _Policy()


def ascii_address(address: str) -> str:
    """The address with its domain in IDNA form, as plain SMTP needs it."""
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address


def _mailbox(name: str | None, address: str) -> str:
    return formataddr((one_line(name or ""), ascii_address(one_line(address))), "utf-8")


def _text(value: str) -> str | Header:
    value = one_line(value)
    return value if value.isascii() else Header(value, "utf-8")


def _part(body: str, subtype: str) -> Message:
    """A UTF-8 text part in base64, which is what MIMEText makes of it, without the charset
    bookkeeping that was a third of building a mail."""
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(body.encode("utf-8")).decode("ascii"))
    return part


def to_bytes(mail: Rendered) -> bytes:
    e = mail.envelope
    # Our own boundary: "=_" never occurs in base64, which both parts are in, so it needs no
    # check. Without one, the generator compiles a new regex per mail to pick one (~15%).
    message = MIMEMultipart("alternative", boundary=f"=_{secrets.token_hex(16)}")
    message["Subject"] = _text(mail.subject)
    message["From"] = _mailbox(*parseaddr(e.sender))
    message["To"] = _mailbox(e.to_name, e.to_address)
    if e.reply_to:
        message["Reply-To"] = _mailbox(*parseaddr(e.reply_to))
    for name, value in mail.headers():
        message[name] = one_line(value)
    message.attach(_part(mail.text, "plain"))
    message.attach(_part(mail.html, "html"))
    return message.as_bytes(policy=POLICY)
