"""What a refused signup tells the visitor, in their language: a message for the whole form
or one under each field that was wrong."""

from __future__ import annotations

import math

from signup_api.problems import Problem
from signup_core import i18n


def form_message(p: Problem, translate: i18n.Translate) -> str:
    if p.slug == "rate-limited":
        minutes = math.ceil((p.retry_after or 60) / 60)
        if minutes <= 1:
            return translate("error.rate-limited-soon")
        return translate("error.rate-limited", minutes=minutes)
    key = p.code or f"error.{p.slug}"
    text = translate(key)
    return text if text != key else translate("error.generic")


def field_messages(p: Problem, lang: str, translate: i18n.Translate) -> dict[str, str]:
    """English keeps each field's own detail: the address check says exactly what is
    wrong ("no @", "no dot after the @"); other languages get the catalogue's wording."""
    if not (p.errors and p.code):
        return {}
    if lang == i18n.FALLBACK:
        return {e["field"]: e["detail"] for e in p.errors}
    return {e["field"]: translate(p.code) for e in p.errors}


def localised(p: Problem, lang: str, translate: i18n.Translate) -> Problem:
    """The same problem worded for the visitor."""
    fields = field_messages(p, lang, translate)
    errors = (
        [{**e, "detail": fields.get(e["field"], e["detail"])} for e in p.errors]
        if p.errors
        else None
    )
    detail = errors[0]["detail"] if errors and p.code else form_message(p, translate)
    return Problem(
        p.status, detail, slug=p.slug, errors=errors, retry_after=p.retry_after, code=p.code
    )
