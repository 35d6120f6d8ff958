"""Turns the environment into one frozen Settings object, failing fast with every variable
that is missing or malformed named at once. The model and each variable's type, default and
description: model.py and the concern modules; docs/configuration.md is generated from them
(`make docs`)."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError

from signup_core.settings.admin import admin_problems
from signup_core.settings.mail import HTTP_TRANSPORTS
from signup_core.settings.metadata import Variable, variables
from signup_core.settings.model import Environment, Settings, field_name, problems
from signup_core.settings.types import ConfigError, Rate, Secret, duration, url

__all__ = [
    "HTTP_TRANSPORTS",
    "ConfigError",
    "Rate",
    "Secret",
    "Settings",
    "Variable",
    "check_admin",
    "duration",
    "load_database_url",
    "load_for",
    "load_migrate_target",
    "load_settings",
    "required",
    "variables",
]


def load_settings(
    env: Mapping[str, str] | None = None, *, unused: Collection[str] = (), rules: bool = True
) -> Settings:
    """Read every variable once; raise one ConfigError naming every bad or missing one, the
    admin listener's needs included (they are checked only when SIGNUP_ADMIN_PORT is set).
    Required variables named in `unused` may be missing (their fields are then None);
    `rules=False` leaves out the rules between variables (a diagnosis reports them itself)."""
    source = Environment(Settings, os.environ if env is None else env)
    try:
        settings = Settings(_build_sources=((source,), {}))
    except ValidationError as e:
        errors = dict(source.errors)
        spared = set()
        for error in e.errors(include_url=False):
            name = str(error["loc"][0])
            if error["type"] == "missing" and name in unused:
                spared.add(name)
                continue
            errors.setdefault(name, _message(name, error))
        # The rules between variables still run over the ones that did parse, so one start
        # shows every problem.
        values = _parsed(source(), set(errors))
        found = [*errors.values(), *(problems(values) if rules else ())]
        if found:
            raise ConfigError("; ".join(found)) from None
        # Only variables this caller does not use were missing: the rest is checked above.
        return Settings.model_construct(**values, **{field_name(n): None for n in spared})
    found = [*source.errors.values(), *(problems(settings.__dict__) if rules else ())]
    if found:
        raise ConfigError("; ".join(found))
    return settings


def required() -> tuple[str, ...]:
    """The variables every process needs unless it says it does not use them (load_for)."""
    return tuple(v.env for v in variables() if v.required)


def load_for(
    needs: Collection[str], env: Mapping[str, str] | None = None, *, rules: bool = True
) -> Settings:
    """Settings for a caller that uses only `needs` of the required variables: the others may
    be missing (their fields are then None); every variable that is set is still checked."""
    unused = [name for name in required() if name not in needs]
    return load_settings(env, unused=unused, rules=rules)


def _message(name: str, error: Any) -> str:
    if error["type"] == "missing":
        return f"{name} is required but not set"
    reason = error["msg"].removeprefix("Value error, ")
    return f"{name} is invalid: {reason[:1].lower()}{reason[1:]}"


def _parsed(raw: Mapping[str, str], bad: set[str]) -> dict[str, Any]:
    """The fields whose values parse, each on its own (only on the error path)."""
    values = {}
    for attr, field in Settings.model_fields.items():
        name = str(field.validation_alias)
        if name in raw and name not in bad:
            kind = (
                Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
            )
            adapter = TypeAdapter(kind)
            values[attr] = adapter.validate_python(raw[name])
        elif name not in raw and not field.is_required():
            values[attr] = field.default
    return values


def load_database_url(env: Mapping[str, str] | None = None) -> str:
    """Only DATABASE_URL, for commands that need nothing else (signupctl migrate)."""
    source = Environment(Settings, os.environ if env is None else env)
    raw = source.read("DATABASE_URL")
    if source.errors:
        raise ConfigError(source.errors["DATABASE_URL"])
    if raw is None:
        raise ConfigError("DATABASE_URL is required but not set")
    try:
        return url("postgresql", "postgres")(raw)
    except ValueError as e:
        raise ConfigError(f"DATABASE_URL is invalid: {e}") from None


def load_migrate_target(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """What `signupctl migrate` connects to, with the pool mode to use: DATABASE_MIGRATE_URL (a
    direct connection, past any pooler) when set, else DATABASE_URL with DATABASE_POOL_MODE."""
    env = os.environ if env is None else env
    source = Environment(Settings, env)
    direct, mode = source.read("DATABASE_MIGRATE_URL"), source.read("DATABASE_POOL_MODE")
    if source.errors:
        raise ConfigError("; ".join(source.errors.values()))
    if direct is not None:
        try:
            return url("postgresql", "postgres")(direct), "session"
        except ValueError as e:
            raise ConfigError(f"DATABASE_MIGRATE_URL is invalid: {e}") from None
    mode = mode or "session"
    if mode not in ("session", "transaction"):
        raise ConfigError("DATABASE_POOL_MODE is invalid: expected one of session, transaction")
    return load_database_url(env), mode


def check_admin(settings: Settings) -> None:
    """The admin listener's checks, for a Settings made otherwise than by load_settings
    (which reports them with everything else)."""
    found = admin_problems(settings.__dict__)
    if found:
        raise ConfigError("; ".join(found))
