"""A rendered mail as MIME bytes for SMTP: multipart/alternative, text and HTML in UTF-8.

Built with the email package's legacy classes, which do not parse every header they are given
(the modern API spent ~2 ms a mail on that, most of a worker's time). They also do not refuse
line breaks, so every value here comes through one_line() first.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
import secrets
from email.charset import Charset
from email.header import Header
from email.policy import Compat32
from email.utils import parseaddr

from signup_core.addresses import InvalidAddress, wire_address
from signup_core.mail.render import Rendered, one_line


class _Policy(Compat32):
    """compat32 with a short cut for what most headers are: one short line of printable ASCII,
    which folding returns unchanged. Header folding was ~40% of building a mail. With `utf8`
    (a mail sent with SMTPUTF8), a header holding a non-ASCII address is written as raw UTF-8
    (RFC 6532): compat32 would turn the whole value, address included, into encoded words."""

    utf8 = False

    def fold_binary(self, name: str, value) -> bytes:
        if isinstance(value, str) and value.isprintable():
            if value.isascii() and len(name) + 2 + len(value) <= self.max_line_length:
                return f"{name}: {value}{self.linesep}".encode("ascii")
            if self.utf8 and not value.isascii():
                return self._fold_utf8(name, value)
        return super().fold_binary(name, value)

    def _fold_utf8(self, name: str, value: str) -> bytes:
        start = f"{name}:"
        lines, line = [], start
        for word in value.split(" "):
            if len(line) + 1 + len(word) > self.max_line_length and line != start:
                lines.append(line)
                line = ""
            line += f" {word}"
        lines.append(line)
        return (self.linesep.join(lines) + self.linesep).encode("utf-8")


POLICY = _Policy()
UTF8_POLICY = POLICY.clone(utf8=True)
_UTF8 = Charset("utf-8")
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


class NeedsSmtpUtf8(ValueError):
    """The recipient's local part is not ASCII, and the mail is not being sent with SMTPUTF8."""


def phrase(name: str) -> str:
    """A display name no mail client can read as anything but the text typed: plain ASCII is
    written as is (quoted when it has specials); anything else, and any name holding "=?", as
    encoded words of ours, so a literal "=?utf-8?…?=" in a name shows as typed, never decoded."""
    if name.isascii() and "=?" not in name:
        if _SPECIALS.search(name):
            return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return name
    # One encoded word, as formataddr writes it: split words are rejoined unevenly by readers.
    return _UTF8.header_encode(name)


def mailbox(name: str | None, address: str) -> str:
    """`name <address>` for a header, the address as given (already in its wire form)."""
    name, address = one_line(name or ""), one_line(address)
    return f"{phrase(name)} <{address}>" if name else address


@functools.lru_cache(maxsize=16)  # the same one or two settings for every mail
def _operator_mailbox(value: str) -> str:
    """SIGNUP_MAIL_FROM / _REPLY_TO: our own configuration, so it never fails one mail."""
    name, address = parseaddr(value)
    with contextlib.suppress(InvalidAddress):
        address = wire_address(address)
    return mailbox(name, address)


def _text(value: str) -> str | Header:
    value = one_line(value)
    return value if value.isascii() else Header(value, "utf-8")


def _part(body: str, subtype: str) -> bytes:
    """A UTF-8 text part in base64, as MIMEText would write it."""
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\n'
        "Content-Transfer-Encoding: base64\n\n".encode("ascii")
        + base64.encodebytes(body.encode("utf-8"))
    )


def to_bytes(mail: Rendered, *, utf8: bool = False) -> bytes:
    """The mail as SMTP DATA. `utf8`: it goes out with SMTPUTF8, so the recipient's local part
    may be non-ASCII; without it such a recipient raises NeedsSmtpUtf8. A recipient that has no
    wire form raises InvalidAddress; both are ValueErrors.

    Written out here rather than by the email package's generator, which walked a tree of
    Message objects for a layout that never changes (a third of encoding a mail); each header
    still goes through the policy's folding, so the bytes are the generator's."""
    e = mail.envelope
    recipient = wire_address(e.to_address)
    if not utf8 and not recipient.isascii():
        raise NeedsSmtpUtf8("the recipient needs SMTPUTF8")
    # Our own boundary: "=_" never occurs in base64, which both parts are in, so it needs no
    # check.
    boundary = f"=_{secrets.token_hex(16)}".encode("ascii")
    headers = [
        ("Subject", _text(mail.subject)),
        ("From", _operator_mailbox(e.sender)),
        ("To", mailbox(e.to_name, recipient)),
    ]
    if e.reply_to:
        headers.append(("Reply-To", _operator_mailbox(e.reply_to)))
    headers.extend((name, one_line(value)) for name, value in mail.headers())
    fold = (UTF8_POLICY if utf8 else POLICY).fold_binary
    return b"".join(
        [
            b'Content-Type: multipart/alternative;\n boundary="%s"\nMIME-Version: 1.0\n' % boundary,
            *(fold(name, value) for name, value in headers),
            b"\n--%s\n" % boundary,
            _part(mail.text, "plain"),
            b"\n--%s\n" % boundary,
            _part(mail.html, "html"),
            b"\n--%s--\n" % boundary,
        ]
    )
