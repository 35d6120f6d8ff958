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

from signup_core import i18n

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
    # RFC 2919: lets a mailbox filter and show the list; absent only for mails of no list.
    list_name: str | None = None
    list_title: str | None = None


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
        headers = [
            ("Message-ID", self.message_id),
            ("Date", self.date),
            ("List-Unsubscribe", f"<{one_line(self.envelope.unsubscribe_url)}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
        if self.envelope.list_name:
            headers.append(("List-Id", list_id(self.envelope)))
        return headers


def list_id(envelope: Envelope) -> str:
    """`"Title" <list.domain>`: the id is a dot-atom (RFC 2919 §2), so anything else in a list
    key becomes a hyphen; the title is a quoted phrase stripped of what would end it."""
    key = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in envelope.list_name or ""
    )
    title = (
        one_line(envelope.list_title or envelope.list_name or "").replace("\\", "").replace('"', "")
    )
    return f'"{title}" <{key}.{envelope.domain}>'


def one_line(value: str) -> str:
    return " ".join(value.split())


@functools.cache
def _environment(override: str | None = None) -> jinja2.Environment:
    # A site's own templates (SIGNUP_TEMPLATES_DIR/mail) come first, ours fill the gaps.
    folders = [*([Path(override) / "mail"] if override else []), TEMPLATES]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        # The templates ship with the code; no need to stat them on every mail.
        auto_reload=False,
    )


def render(
    kind: str,
    locale: str,
    envelope: Envelope,
    context: dict[str, Any],
    *,
    templates_dir: str | None = None,
) -> Rendered:
    """Wording comes from the message catalogue (signup_core.i18n); a template folder
    <kind>/<locale>/ in the override folder, if there is one, wins over <kind>/."""
    lang = locale if locale in ("en", *i18n_locales(templates_dir)) else i18n.FALLBACK
    translate = i18n.translator(lang, templates_dir)
    context = {
        "site_name": "",
        "accent": "#1d4ed8",
        "manage_url": None,  # every mail but the confirmation links to the preference page
        **context,
        "list": context.get("list_title") or context["list_name"],
        "lang": lang,
        "_": translate,
        "unsubscribe_url": envelope.unsubscribe_url,
    }

    def part(name: str) -> jinja2.Template:
        return _template(templates_dir, kind, lang, name)

    subject = one_line(part("subject.txt").render(context))
    return Rendered(
        subject=subject,
        text=part("body.txt").render(context),
        html=part("body.html").render({**context, "subject": subject}),
        envelope=envelope,
        message_id=make_msgid(domain=envelope.domain),
        date=formatdate(localtime=False),
    )


@functools.cache
def _template(templates_dir: str | None, kind: str, lang: str, name: str) -> jinja2.Template:
    """Which template serves a part, decided once: jinja2 caches only templates it found, so
    the missing <kind>/<lang>/ folder was looked for on disk for every mail (~5 % of a mail's
    CPU). Like the templates themselves (auto_reload off), the choice holds until a restart."""
    env = _environment(templates_dir)
    return env.select_template([f"{kind}/{lang}/{name}", f"{kind}/{name}"])


@functools.cache
def i18n_locales(templates_dir: str | None = None) -> frozenset[str]:
    """The locales with a catalogue: ours and the site's."""
    folders = [i18n.MESSAGES, *([Path(templates_dir) / "messages"] if templates_dir else [])]
    return frozenset(p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.json"))
