"""What other tools read about the variables (the docs page, `signupctl secrets new`, the
docs-consistency test): one Variable each, taken from the model, never written twice."""

from __future__ import annotations

import datetime
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from signup_core.sealing import Keyring
from signup_core.settings.types import Kind, Rate, Secret


@dataclass(frozen=True)
class Variable:
    env: str  # the variable's name, e.g. SIGNUP_SEAL_KEYS (NAME_FILE works for every one)
    required: bool
    secret: bool
    generated: bool  # a secret the service makes itself, not one a provider issues
    default: str | None  # as an operator would write it; None: unset by default
    description: str
    group: str  # the concern it belongs to, a section of docs/configuration.md
    type: str  # how the docs name its type


def variables(concerns: tuple[type[BaseModel], ...] | None = None) -> list[Variable]:
    """Every variable, grouped by concern in the docs' order (`concerns`: the model's own)."""
    from signup_core.settings.model import CONCERNS

    found = []
    for concern in CONCERNS if concerns is None else concerns:
        for field in concern.model_fields.values():
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            found.append(
                Variable(
                    env=str(field.validation_alias),
                    required=field.is_required(),
                    secret=_holds_secret(field.annotation),
                    generated=bool(extra.get("generated")),
                    default=None if field.is_required() else _shown(field.default, _kind(field)),
                    description=field.description or "",
                    group=str(concern.model_config.get("title")),
                    type=_kind(field),
                )
            )
    return found


def _holds_secret(annotation: Any) -> bool:
    return any(a in (Secret, Keyring) for a in _members(annotation))


def _members(annotation: Any) -> list[Any]:
    """The types a (possibly optional, possibly annotated) field type is made of."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [annotation]


def _metadata(field: FieldInfo) -> list[Any]:
    """The field's Annotated metadata, also from inside an optional (`Key | None`)."""
    found = list(field.metadata)
    if typing.get_origin(field.annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(field.annotation):
            if typing.get_origin(arg) is typing.Annotated:
                found.extend(typing.get_args(arg)[1:])
    # A Field(gt=0) inside Annotated keeps its constraints in its own metadata.
    return [m for meta in found for m in (meta.metadata if isinstance(meta, FieldInfo) else [meta])]


def _kind(field: FieldInfo) -> str:
    for meta in _metadata(field):
        if isinstance(meta, Kind):
            return meta.name
    named = [m for m in _members(field.annotation) if m is not type(None)]
    if len(named) == 1 and typing.get_origin(named[0]) is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(named[0]))
    if any(m is int for m in named):
        return "positive integer" if _positive(field) else "integer"
    if any(m is float for m in named):
        return "positive number" if _positive(field) else "number"
    return {bool: "boolean", str: "string"}.get(named[0], getattr(named[0], "__name__", "?"))


def _positive(field: FieldInfo) -> bool:
    return any(getattr(meta, "gt", None) == 0 for meta in _metadata(field))


def _shown(value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Rate | datetime.date):
        return str(value)
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return ",".join(f"{k}={v}" for k, v in value) or None
        return ",".join(map(str, value)) or None
    if isinstance(value, int) and kind.startswith("duration"):
        return _duration(value)
    return str(value)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return str(seconds)
