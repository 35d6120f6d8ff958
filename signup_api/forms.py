"""Validation of a submitted signup form into a clean, normalised SignupForm."""

from __future__ import annotations

import re
from dataclasses import dataclass

from signup_api import metrics
from signup_api.problems import Problem, field_error
from signup_core import domains
from signup_core.addresses import InvalidAddress, normalise
from signup_core.free_text import has_controls
from signup_core.settings import Settings

MAX_NAME_LENGTH = 100
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")
# The name is shown in our mail: mail clients turn anything that looks like a link into one,
# so a name may not carry a scheme, "www." or a dotted host name (full stops of any script,
# as IDNA reads them). "Mr.Bean" is refused too; "Mr. Bean" is not.
_DOT = "[.\u3002\uff0e\uff61]"
_LINKISH = re.compile(
    rf"[a-z][a-z0-9+.-]*:/|mailto:|www{_DOT}|[\w-]{_DOT}(?:xn--[\w-]+|[^\W\d_]{{2,}})(?![\w-])",
    re.IGNORECASE,
)
# An RFC 2047 encoded word, which a mail client would decode into other text.
_ENCODED_WORD = re.compile(r"=\?.*\?=")


@dataclass(frozen=True)
class SignupForm:
    email: str
    name: str | None
    list_name: str
    locale: str


def _name(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise field_error(
            "name", f"The name may be at most {MAX_NAME_LENGTH} characters.", "error.name"
        )
    if has_controls(name):
        raise field_error("name", "The name may not contain control characters.", "error.name")
    if _LINKISH.search(name) or _ENCODED_WORD.search(name):
        raise field_error(
            "name", "The name may not contain web or email addresses or codes.", "error.name"
        )
    return name


def _locale(raw: str | None, settings: Settings) -> str:
    """The best supported locale for what was asked; an unknown one falls back, never fails."""
    if not raw:
        return settings.default_locale
    if not _LOCALE.match(raw):
        raise field_error("locale", "The locale is not a language tag.")
    tag = raw.replace("_", "-").lower()
    for candidate in (tag, tag.split("-", 1)[0]):
        if candidate in settings.locales:
            return candidate
    return settings.default_locale


def validate(fields: dict[str, str], settings: Settings) -> SignupForm:
    raw_email = fields.get("email", "").strip()
    if not raw_email:
        raise field_error("email", "An email address is required.", "error.email-required")
    try:
        email = normalise(
            raw_email,
            check_deliverability=settings.check_deliverability,
            smtputf8=settings.smtputf8,
        )
    except InvalidAddress as e:
        raise field_error("email", str(e), "error.email-invalid") from None
    if domains.is_refused(email.rsplit("@", 1)[1], settings):
        metrics.BLOCKED.labels("domain").inc()
        raise field_error(
            "email", "Addresses from this email provider are not accepted.", "error.email-provider"
        )
    list_name = fields.get("list") or settings.default_list
    if list_name not in settings.lists:
        raise Problem(
            400,
            "There is no such list.",
            slug="invalid-field",
            errors=[{"field": "list", "detail": "unknown list"}],
            code="error.list",
        )
    return SignupForm(
        email=email,
        name=_name(fields.get("name")),
        list_name=list_name,
        locale=_locale(fields.get("locale"), settings),
    )
