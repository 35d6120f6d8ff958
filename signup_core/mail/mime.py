"""A rendered mail as MIME bytes for SMTP: multipart/alternative, text and HTML in UTF-8.

Built with the email package's legacy classes, which do not parse every header they are given
(the modern API spent ~2 ms a mail on that, most of a worker's time). They also do not refuse
line breaks, so every value here comes through one_line() first.
"""

from __future__ import annotations

from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

from signup_core.mail.render import Rendered, one_line


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


def to_bytes(mail: Rendered) -> bytes:
    e = mail.envelope
    message = MIMEMultipart("alternative")
    message["Subject"] = _text(mail.subject)
    message["From"] = _mailbox(*parseaddr(e.sender))
    message["To"] = _mailbox(e.to_name, e.to_address)
    if e.reply_to:
        message["Reply-To"] = _mailbox(*parseaddr(e.reply_to))
    for name, value in mail.headers():
        message[name] = one_line(value)
    message.attach(MIMEText(mail.text, "plain", "utf-8"))
    message.attach(MIMEText(mail.html, "html", "utf-8"))
    return message.as_bytes()
