"""Renders one mail kind from templates/<kind>/<locale>/{subject.txt,body.txt,body.html}."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
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


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def available_locale(kind: str, locale: str, fallback: str = "en") -> str:
    return locale if (TEMPLATES / kind / locale).is_dir() else fallback


def render(kind: str, locale: str, envelope: Envelope, context: dict[str, Any]) -> EmailMessage:
    """A text + HTML message; the header API refuses CR/LF, so user input cannot add headers."""
    env = _environment()
    folder = f"{kind}/{available_locale(kind, locale)}"
    context = {**context, "unsubscribe_url": envelope.unsubscribe_url}
    subject = env.get_template(f"{folder}/subject.txt").render(context).strip()
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())
    msg["From"] = envelope.sender
    display = " ".join((envelope.to_name or "").split())
    msg["To"] = Address(display_name=display, addr_spec=envelope.to_address)
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=envelope.domain)
    msg["List-Unsubscribe"] = f"<{envelope.unsubscribe_url}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(env.get_template(f"{folder}/body.txt").render(context))
    msg.add_alternative(env.get_template(f"{folder}/body.html").render(context), subtype="html")
    return msg
