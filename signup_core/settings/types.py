"""The value types an environment variable can hold, each parsing the text an operator writes
("48h", "10/minute", "a,b") into what the code uses, and naming itself for the docs."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, PlainValidator
from pydantic_core import PydanticUndefined

from signup_core.sealing import Keyring, parse_keyring

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(ValueError):
    """A missing or malformed configuration variable; the message names it."""


@dataclass(frozen=True)
class Secret:
    """A secret value whose repr never shows it."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def bytes(self) -> bytes:
        return self.value.encode()


@dataclass(frozen=True)
class Rate:
    """At most `limit` events per `window` seconds."""

    limit: int
    window: int

    def __str__(self) -> str:
        per = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(self.window)
        return f"{self.limit}/{per}" if per else f"{self.limit}/{self.window}s"


@dataclass(frozen=True)
class Kind:
    """How the docs name a type: metadata in Annotated, ignored by validation."""

    name: str


_PERIODS = {"s": 1, "second": 1, "m": 60, "minute": 60, "h": 3600, "hour": 3600}
_PERIODS |= {"d": 86400, "day": 86400}
_RATE = re.compile(r"^(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?$")
_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")


def _text(parse: Callable[[str], Any]) -> Callable[[Any], Any]:
    """Parse what comes from the environment; pass through what is already parsed."""

    def check(value: Any) -> Any:
        return parse(value) if isinstance(value, str) else value

    return check


def duration(value: str, minimum: int = 1) -> int:
    """Seconds, or a number with s / m / h / d: '90d', '12h'."""
    match = _DURATION.match(value.strip().lower())
    if not match or int(match.group(1)) < minimum:
        raise ValueError("expected a positive duration such as 3600, 12h or 30d")
    return int(match.group(1)) * _PERIODS[match.group(2) or "s"]


def rate(value: str) -> Rate | None:
    """'10/minute', '3/hour', '5/30s'; 'off' for no limit."""
    if value.lower() == "off":
        return None
    match = _RATE.match(value.strip().lower())
    if not match or match.group(3) not in _PERIODS or int(match.group(1)) < 1:
        raise ValueError("expected N/period, e.g. 10/minute, 3/hour, 5/30s, or off")
    return Rate(int(match.group(1)), int(match.group(2) or 1) * _PERIODS[match.group(3)])


def names(value: str) -> tuple[str, ...]:
    parts = tuple(part.strip() for part in value.split(",") if part.strip())
    if not parts:
        raise ValueError("expected a comma-separated list")
    return parts


def url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(f"expected a {'/'.join(schemes)} URL")
        return value

    return check


def _key(value: str) -> Secret:
    if len(value) < 32:
        raise ValueError("must be at least 32 characters")
    return Secret(value)


def _svix_secret(value: str) -> Secret:
    """A Svix signing secret as Resend shows it: "whsec_" and the base64 of the key."""
    if not value.startswith("whsec_"):
        raise ValueError('expected the signing secret as shown, starting with "whsec_"')
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except ValueError:
        raise ValueError("the part after whsec_ is not base64") from None
    if len(key) < 16:
        raise ValueError("the key is too short")
    return Secret(value)


def _titles(value: str) -> tuple[tuple[str, str], ...]:
    """'newsletter=Weekly news, offers=Offers': list key = display name."""
    pairs = []
    for part in names(value):
        key, sep, title = part.partition("=")
        if not sep or not key.strip() or not title.strip():
            raise ValueError("expected list=Display name, comma-separated")
        pairs.append((key.strip(), title.strip()))
    return tuple(pairs)


def _colour(value: str) -> str:
    # It goes into a style sheet: only a hex colour, nothing that could close the rule.
    if not re.fullmatch(r"#(?:[0-9a-fA-F]{3}){1,2}", value):
        raise ValueError("expected a hex colour such as #1d4ed8")
    return value


def _directory(value: str) -> str:
    if not os.path.isdir(value):
        raise ValueError(f"{value!r} is not a directory")
    return value


def _jwks_location(value: str) -> str:
    """An https URL, or a file that exists."""
    if value.startswith(("https://", "http://")):
        return url("https")(value)
    if not os.path.isfile(value):
        raise ValueError(f"{value!r} is neither an https URL nor a file")
    return value


def _algorithms(value: str) -> tuple[str, ...]:
    algorithms = tuple(a.upper() for a in names(value))
    if not set(algorithms) <= {"ES256", "RS256"}:
        raise ValueError("expected ES256, RS256 or both (HS256 has its own variables)")
    return algorithms


def _date(value: str) -> datetime.date:
    return datetime.date.fromisoformat(value)


def _plain(parse: Callable[[str], Any], kind: str) -> tuple[PlainValidator, Kind]:
    return PlainValidator(_text(parse)), Kind(kind)


# The types fields are declared with. Plain ones (int, bool, Literal) are pydantic's own.
PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Duration = Annotated[int, *_plain(duration, "duration (3600, 90m, 12h, 30d)")]
Seconds = Annotated[int, *_plain(lambda v: duration(v, 0), "duration, 0 allowed (600, 10m)")]
RateLimit = Annotated[Rate | None, *_plain(rate, "rate (10/minute, 5/30s, off)")]
Names = Annotated[tuple[str, ...], *_plain(names, "comma-separated list")]
Domains = Annotated[
    tuple[str, ...],
    *_plain(lambda v: tuple(d.lower().lstrip("@.") for d in names(v)), "comma-separated domains"),
]
Origins = Annotated[
    tuple[str, ...],
    *_plain(
        lambda v: tuple(url("http", "https")(o).rstrip("/") for o in names(v)),
        "comma-separated http(s) origins",
    ),
]
Networks = Annotated[
    tuple[Network, ...],
    *_plain(
        lambda v: tuple(ipaddress.ip_network(n, strict=False) for n in names(v)),
        "comma-separated CIDR networks",
    ),
]


def _redis_url(value: str) -> str:
    from signup_core.redis_client import is_sentinel, parse_sentinel

    if is_sentinel(value):
        parse_sentinel(value)  # raises ValueError naming what is wrong
        return value
    return url("redis", "rediss", "unix")(value)


HttpUrl = Annotated[str, *_plain(url("http", "https"), "http(s) URL")]
BaseUrl = Annotated[str, *_plain(lambda v: url("http", "https")(v).rstrip("/"), "http(s) URL")]
PostgresUrl = Annotated[
    Secret, *_plain(lambda v: Secret(url("postgresql", "postgres")(v)), "postgresql:// URL")
]
RedisUrl = Annotated[
    Secret, *_plain(lambda v: Secret(_redis_url(v)), "redis:// or redis+sentinel:// URL")
]
SecretText = Annotated[Secret, *_plain(Secret, "secret")]
Key = Annotated[Secret, *_plain(_key, "secret, at least 32 characters")]
SvixSecret = Annotated[Secret, *_plain(_svix_secret, 'secret, "whsec_" and base64')]
Seal = Annotated[Keyring, *_plain(parse_keyring, "keyring (id:base64key,...)")]
Titles = Annotated[tuple[tuple[str, str], ...], *_plain(_titles, "list=Display name, ...")]
Colour = Annotated[str, *_plain(_colour, "hex colour")]
Directory = Annotated[str, *_plain(_directory, "directory")]
JwksLocation = Annotated[str, *_plain(_jwks_location, "https URL or file")]
Algorithms = Annotated[tuple[str, ...], *_plain(_algorithms, "ES256, RS256 or both")]
Date = Annotated[datetime.date, *_plain(_date, "date (YYYY-MM-DD)")]
Lower = BeforeValidator(_text(str.lower))  # for case-blind Literal choices


def var(
    env: str, default: Any = PydanticUndefined, doc: str = "", *, generated: bool = False
) -> Any:
    """A field read from the variable `env` (or the file `env`_FILE names); `generated`: a
    secret the service makes itself (`signupctl secrets new`), not one a provider issues."""
    extra = {"generated": True} if generated else None
    return Field(default, validation_alias=env, description=doc, json_schema_extra=extra)
