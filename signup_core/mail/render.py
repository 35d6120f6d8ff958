"""Renders one mail kind from templates/<kind>/<locale>/{subject.txt,body.txt,body.html} into
plain parts; each transport turns them into its own wire format (MIME for SMTP, JSON for an
HTTP API), so no transport pays for a format it does not send."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Envelope:
    """Who a mail goes to and from, with the header values already decided."""

    to_address: str
    to_name: str | None
    sender: str
    reply_to: str | None
    domain: str
    unsubscribe_url: str


@dataclass(frozen=True)
class Rendered:
    """A mail ready for any transport. Header values are single lines: whitespace, line
    breaks included, is collapsed here, so no value can start a header of its own."""

    subject: str
    text: str
    html: str
    envelope: Envelope
    message_id: str
    date: str

    def headers(self) -> list[tuple[str, str]]:
        """The headers every transport passes on, besides From, To, Subject and Reply-To."""
        return [
            ("Message-ID", self.message_id),
            ("Date", self.date),
            ("List-Unsubscribe", f"<{one_line(self.envelope.unsubscribe_url)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]


def one_line(value: str) -> str:
    return " ".join(value.split())


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # The templates ship with the code; no need to stat them on every mail.
        auto_reload=False,
    )


@functools.cache
def available_locale(kind: str, locale: str, fallback: str = "en") -> str:
    return locale if (TEMPLATES / kind / locale).is_dir() else fallback


def render(kind: str, locale: str, envelope: Envelope, context: dict[str, Any]) -> Rendered:
    env = _environment()
    folder = f"{kind}/{available_locale(kind, locale)}"
    context = {**context, "unsubscribe_url": envelope.unsubscribe_url}
    return Rendered(
        subject=one_line(env.get_template(f"{folder}/subject.txt").render(context)),
        text=env.get_template(f"{folder}/body.txt").render(context),
        html=env.get_template(f"{folder}/body.html").render(context),
        envelope=envelope,
        message_id=make_msgid(domain=envelope.domain),
        date=formatdate(localtime=False),
    )
