"""Turns the environment into one frozen Settings object, failing fast with the variable's name."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from signup_core.sealing import Keyring, parse_keyring

# SIGNUP_MAIL_TRANSPORT values besides smtp: each an HTTP API, in signup_core/mail/.
HTTP_TRANSPORTS = ("postmark", "sendgrid", "mailgun", "resend", "brevo")


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


@dataclass(frozen=True)
class Settings:
    database_url: Secret
    redis_url: Secret
    public_base_url: str
    blind_index_key: Secret
    signing_key: Secret
    seal_keys: Keyring
    signing_key_previous: Secret | None = None
    # During a blind-index key rotation: look-ups by address also try the old key.
    blind_index_key_previous: Secret | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    mail_transport: str = "smtp"
    postmark_server_token: Secret | None = None
    postmark_stream: str = "outbound"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: Secret | None = None
    smtp_tls: str = "none"
    smtp_ca_file: str | None = None
    smtp_connections: int = 4
    smtp_timeout: float = 10.0
    smtputf8: bool = False
    mail_from: str = "signet-signup <noreply@localhost>"
    mail_reply_to: str | None = None
    lists: tuple[str, ...] = ("newsletter",)
    locales: tuple[str, ...] = ("en", "de")
    form_version: str = "1"
    token_ttl: int = 48 * 3600
    resend_window: int = 600
    max_body_bytes: int = 16 * 1024
    check_deliverability: bool = False
    thanks_url: str = "/thanks"
    # None: a refused form post shows the form again; a URL: redirect there with ?reason=.
    error_url: str | None = None
    confirmed_url: str | None = None
    db_pool_max: int = 20
    relay_interval: float = 0.1
    relay_check_after: int = 30
    worker_heartbeat_timeout: int = 60
    mail_max_retries: int = 8
    mail_min_backoff_ms: int = 1000
    mail_max_backoff_ms: int = 300_000
    signup_enabled: bool = True
    reveal_existing: bool = False
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    forwarded_header: str = "x-forwarded-for"
    rate_ip: Rate | None = Rate(10, 60)
    rate_network: Rate | None = Rate(30, 60)
    rate_address: Rate | None = Rate(3, 3600)
    rate_global: Rate | None = Rate(600, 60)
    block_disposable: bool = True
    blocked_domains: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    honeypot_field: str = "website"
    captcha: str = "off"
    altcha_hmac_key: Secret | None = None
    altcha_max_number: int = 50_000
    altcha_ttl: int = 600
    captcha_site_key: str | None = None
    captcha_secret: Secret | None = None
    cors_origins: tuple[str, ...] = ()
    soft_bounce_limit: int = 3
    soft_bounce_window: int = 7 * 86400
    webhook_max_body_bytes: int = 1024 * 1024
    webhook_tolerance: int = 300
    sns_tolerance: int = 3600
    ses_topic_arns: tuple[str, ...] = ()
    postmark_webhook_user: str = "postmark"
    postmark_webhook_secret: Secret | None = None
    sendgrid_public_key: str | None = None
    mailgun_signing_key: Secret | None = None
    worker_processes: int = 1
    worker_threads: int = 8
    log_level: str = "INFO"
    log_format: str = "json"  # "console": short lines for a terminal, set by `make run`
    # More providers: Resend and Brevo webhooks, HTTP API transports (issue 16).
    resend_webhook_secret: Secret | None = None
    brevo_webhook_user: str = "brevo"
    brevo_webhook_secret: Secret | None = None
    brevo_webhook_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    sendgrid_api_key: Secret | None = None
    mailgun_api_key: Secret | None = None
    mailgun_domain: str | None = None
    mailgun_region: str = "us"
    resend_api_key: Secret | None = None
    brevo_api_key: Secret | None = None

    # Pages, branding and localisation (the visitor's side).
    site_name: str = "signet-signup"
    site_url: str | None = None
    list_titles: tuple[tuple[str, str], ...] = ()
    sender_name: str | None = None
    privacy_url: str | None = None
    accent_colour: str = "#1d4ed8"
    templates_dir: str | None = None
    confirm_autosubmit: bool = False
    frame_ancestors: tuple[str, ...] = ()

    def list_title(self, name: str) -> str:
        """What visitors read for a list: its display name, or the key when none is set."""
        return dict(self.list_titles).get(name, name)

    # Privacy: retention (seconds) and the purge job.
    retain_pending: int = 30 * 86400
    retain_tokens: int = 7 * 86400
    retain_outbox: int = 30 * 86400
    retain_events: int = 30 * 86400
    purge_interval: int = 3600
    purge_batch: int = 1000

    # Observability: metrics ports beside (never on) the public one, build identity, traces.
    metrics_host: str | None = None
    metrics_port: int = 9181
    worker_metrics_port: int = 9191
    git_sha: str = "unknown"
    traces_exporter: str = "none"
    service_name: str | None = None

    # Admin API (docs: README "Admin API"): its own listener, off unless a port is set.
    admin_port: int | None = None
    admin_host: str | None = None
    admin_jwks: str | None = None
    admin_issuer: str | None = None
    admin_audience: str = "signet-signup-admin"
    admin_algorithms: tuple[str, ...] = ("ES256", "RS256")
    admin_leeway: int = 30
    admin_hs256_secret: Secret | None = None
    admin_hs256_until: datetime.date | None = None
    admin_keys_file: str | None = None
    admin_token_issuer: str | None = None
    admin_rate: Rate | None = Rate(120, 60)

    @property
    def default_list(self) -> str:
        return self.lists[0]

    @property
    def default_locale(self) -> str:
        return self.locales[0]

    @property
    def mail_domain(self) -> str:
        return urlsplit(self.public_base_url).hostname or "localhost"


def _raw(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or the contents of the file named by NAME_FILE."""
    path = env.get(f"{name}_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as e:
            raise ConfigError(f"{name}_FILE: cannot read {path!r}: {e.strerror}") from None
    value = env.get(name)
    return value if value not in (None, "") else None


def _int(value: str) -> int:
    return int(value, 10)


def _positive(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(value: str) -> Any:
        parsed = parse(value)
        if parsed <= 0:
            raise ValueError("must be positive")
        return parsed

    return check


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _names(value: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError("expected a comma-separated list")
    return names


def _url(*schemes: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise ValueError(f"expected a {'/'.join(schemes)} URL")
        return value

    return check


_PERIODS = {
    "s": 1,
    "second": 1,
    "m": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^(\d+)\s*/\s*(\d*)\s*([a-z]+?)s?$")


def _rate(value: str) -> Rate | None:
    """'10/minute', '3/hour', '5/30s'; 'off' for no limit."""
    if value.lower() == "off":
        return None
    match = _RATE.match(value.strip().lower())
    if not match or match.group(3) not in _PERIODS or int(match.group(1)) < 1:
        raise ValueError("expected N/period, e.g. 10/minute, 3/hour, 5/30s, or off")
    return Rate(int(match.group(1)), int(match.group(2) or 1) * _PERIODS[match.group(3)])


def _networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in _names(value))


def _domains(value: str) -> tuple[str, ...]:
    return tuple(d.lower().lstrip("@.") for d in _names(value))


def _origins(value: str) -> tuple[str, ...]:
    return tuple(_url("http", "https")(o).rstrip("/") for o in _names(value))


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


def _duration(value: str) -> int:
    """Seconds, or a number with s / m / h / d: '90d', '12h'."""
    match = re.match(r"^(\d+)\s*([smhd]?)$", value.strip().lower())
    if not match or int(match.group(1)) < 1:
        raise ValueError("expected a positive duration such as 3600, 12h or 30d")
    return int(match.group(1)) * _PERIODS[match.group(2) or "s"]


def _choice(*options: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return check


# variable name -> (Settings field, parser, required)
_VARIABLES: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "DATABASE_URL": ("database_url", lambda v: Secret(_url("postgresql", "postgres")(v)), True),
    "REDIS_URL": ("redis_url", lambda v: Secret(_url("redis", "rediss", "unix")(v)), True),
    "PUBLIC_BASE_URL": ("public_base_url", lambda v: _url("http", "https")(v).rstrip("/"), True),
    "SIGNUP_BLIND_INDEX_KEY": ("blind_index_key", _key, True),
    "SIGNUP_SIGNING_KEY": ("signing_key", _key, True),
    "SIGNUP_SIGNING_KEY_PREVIOUS": ("signing_key_previous", _key, False),
    "SIGNUP_BLIND_INDEX_KEY_PREVIOUS": ("blind_index_key_previous", _key, False),
    "HOST": ("host", str, False),
    "PORT": ("port", _positive(_int), False),
    "SIGNUP_MAIL_TRANSPORT": ("mail_transport", _choice("smtp", *HTTP_TRANSPORTS), False),
    "SIGNUP_POSTMARK_SERVER_TOKEN": ("postmark_server_token", Secret, False),
    "SIGNUP_POSTMARK_STREAM": ("postmark_stream", str, False),
    "SMTP_HOST": ("smtp_host", str, False),
    "SMTP_PORT": ("smtp_port", _positive(_int), False),
    "SMTP_USERNAME": ("smtp_username", str, False),
    "SMTP_PASSWORD": ("smtp_password", Secret, False),
    "SMTP_TLS": ("smtp_tls", _choice("none", "starttls", "tls"), False),
    "SMTP_CA_FILE": ("smtp_ca_file", str, False),
    "SIGNUP_SMTP_CONNECTIONS": ("smtp_connections", _positive(_int), False),
    "SMTP_TIMEOUT": ("smtp_timeout", _positive(float), False),
    "SIGNUP_SMTPUTF8": ("smtputf8", _bool, False),
    "SIGNUP_MAIL_FROM": ("mail_from", str, False),
    "SIGNUP_MAIL_REPLY_TO": ("mail_reply_to", str, False),
    "SIGNUP_LISTS": ("lists", _names, False),
    "SIGNUP_LOCALES": ("locales", _names, False),
    "SIGNUP_FORM_VERSION": ("form_version", str, False),
    "SIGNUP_TOKEN_TTL": ("token_ttl", _positive(_int), False),
    "SIGNUP_RESEND_WINDOW": ("resend_window", _int, False),
    "SIGNUP_MAX_BODY_BYTES": ("max_body_bytes", _positive(_int), False),
    "SIGNUP_CHECK_DELIVERABILITY": ("check_deliverability", _bool, False),
    "SIGNUP_THANKS_URL": ("thanks_url", str, False),
    "SIGNUP_ERROR_URL": ("error_url", str, False),
    "SIGNUP_CONFIRMED_URL": ("confirmed_url", _url("http", "https"), False),
    "SIGNUP_DB_POOL_MAX": ("db_pool_max", _positive(_int), False),
    "SIGNUP_RELAY_INTERVAL": ("relay_interval", _positive(float), False),
    "SIGNUP_RELAY_CHECK_AFTER": ("relay_check_after", _positive(_int), False),
    "SIGNUP_WORKER_HEARTBEAT_TIMEOUT": ("worker_heartbeat_timeout", _positive(_int), False),
    "SIGNUP_MAIL_MAX_RETRIES": ("mail_max_retries", _int, False),
    "SIGNUP_MAIL_MIN_BACKOFF_MS": ("mail_min_backoff_ms", _positive(_int), False),
    "SIGNUP_MAIL_MAX_BACKOFF_MS": ("mail_max_backoff_ms", _positive(_int), False),
    "SIGNUP_ENABLED": ("signup_enabled", _bool, False),
    "SIGNUP_REVEAL_EXISTING": ("reveal_existing", _bool, False),
    "SIGNUP_TRUSTED_PROXIES": ("trusted_proxies", _networks, False),
    "SIGNUP_FORWARDED_HEADER": (
        "forwarded_header",
        lambda v: _choice("x-forwarded-for", "forwarded")(v.lower()),
        False,
    ),
    "SIGNUP_RATE_LIMIT_IP": ("rate_ip", _rate, False),
    "SIGNUP_RATE_LIMIT_NETWORK": ("rate_network", _rate, False),
    "SIGNUP_RATE_LIMIT_ADDRESS": ("rate_address", _rate, False),
    "SIGNUP_RATE_LIMIT_GLOBAL": ("rate_global", _rate, False),
    "SIGNUP_BLOCK_DISPOSABLE": ("block_disposable", _bool, False),
    "SIGNUP_BLOCKED_DOMAINS": ("blocked_domains", _domains, False),
    "SIGNUP_ALLOWED_DOMAINS": ("allowed_domains", _domains, False),
    "SIGNUP_HONEYPOT_FIELD": ("honeypot_field", str, False),
    "SIGNUP_CAPTCHA": ("captcha", _choice("off", "altcha", "turnstile", "hcaptcha"), False),
    "SIGNUP_ALTCHA_HMAC_KEY": ("altcha_hmac_key", _key, False),
    "SIGNUP_ALTCHA_MAX_NUMBER": ("altcha_max_number", _positive(_int), False),
    "SIGNUP_ALTCHA_TTL": ("altcha_ttl", _positive(_int), False),
    "SIGNUP_CAPTCHA_SITE_KEY": ("captcha_site_key", str, False),
    "SIGNUP_CAPTCHA_SECRET": ("captcha_secret", Secret, False),
    "SIGNUP_CORS_ORIGINS": ("cors_origins", _origins, False),
    "SIGNUP_SOFT_BOUNCE_LIMIT": ("soft_bounce_limit", _positive(_int), False),
    "SIGNUP_SOFT_BOUNCE_WINDOW": ("soft_bounce_window", _positive(_int), False),
    "SIGNUP_WEBHOOK_MAX_BODY_BYTES": ("webhook_max_body_bytes", _positive(_int), False),
    "SIGNUP_WEBHOOK_TOLERANCE": ("webhook_tolerance", _positive(_int), False),
    "SIGNUP_SNS_TOLERANCE": ("sns_tolerance", _positive(_int), False),
    "SIGNUP_SES_TOPIC_ARNS": ("ses_topic_arns", _names, False),
    "SIGNUP_POSTMARK_WEBHOOK_USER": ("postmark_webhook_user", str, False),
    "SIGNUP_POSTMARK_WEBHOOK_SECRET": ("postmark_webhook_secret", _key, False),
    "SIGNUP_SENDGRID_PUBLIC_KEY": ("sendgrid_public_key", str, False),
    "SIGNUP_MAILGUN_SIGNING_KEY": ("mailgun_signing_key", Secret, False),
    "SIGNUP_WORKER_PROCESSES": ("worker_processes", _positive(_int), False),
    "SIGNUP_WORKER_THREADS": ("worker_threads", _positive(_int), False),
    "SIGNUP_LOG_LEVEL": ("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR"), False),
    "SIGNUP_LOG_FORMAT": ("log_format", _choice("json", "console"), False),
    # More providers (issue 16).
    "SIGNUP_RESEND_WEBHOOK_SECRET": ("resend_webhook_secret", _svix_secret, False),
    "SIGNUP_BREVO_WEBHOOK_USER": ("brevo_webhook_user", str, False),
    "SIGNUP_BREVO_WEBHOOK_SECRET": ("brevo_webhook_secret", _key, False),
    "SIGNUP_BREVO_WEBHOOK_NETWORKS": ("brevo_webhook_networks", _networks, False),
    "SIGNUP_SENDGRID_API_KEY": ("sendgrid_api_key", Secret, False),
    "SIGNUP_MAILGUN_API_KEY": ("mailgun_api_key", Secret, False),
    "SIGNUP_MAILGUN_DOMAIN": ("mailgun_domain", str, False),
    "SIGNUP_MAILGUN_REGION": ("mailgun_region", lambda v: _choice("us", "eu")(v.lower()), False),
    "SIGNUP_RESEND_API_KEY": ("resend_api_key", Secret, False),
    "SIGNUP_BREVO_API_KEY": ("brevo_api_key", Secret, False),
    # Privacy: encryption at rest and retention.
    "SIGNUP_SEAL_KEYS": ("seal_keys", parse_keyring, True),
    "SIGNUP_RETAIN_PENDING": ("retain_pending", _duration, False),
    "SIGNUP_RETAIN_TOKENS": ("retain_tokens", _duration, False),
    "SIGNUP_RETAIN_OUTBOX": ("retain_outbox", _duration, False),
    "SIGNUP_RETAIN_EVENTS": ("retain_events", _duration, False),
    "SIGNUP_PURGE_INTERVAL": ("purge_interval", _duration, False),
    "SIGNUP_PURGE_BATCH": ("purge_batch", _positive(_int), False),
    # Observability (docs: README "Metrics, traces and alerts").
    "SIGNUP_METRICS_HOST": ("metrics_host", str, False),
    "SIGNUP_METRICS_PORT": ("metrics_port", _positive(_int), False),
    "SIGNUP_WORKER_METRICS_PORT": ("worker_metrics_port", _positive(_int), False),
    "SIGNUP_GIT_SHA": ("git_sha", str, False),
    "OTEL_TRACES_EXPORTER": ("traces_exporter", _choice("none", "otlp", "console"), False),
    "OTEL_SERVICE_NAME": ("service_name", str, False),
}


def _titles(value: str) -> tuple[tuple[str, str], ...]:
    """'newsletter=Weekly news, offers=Offers': list key = display name."""
    pairs = []
    for part in _names(value):
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


# Pages, branding and localisation, in their own block.
_VARIABLES.update(
    {
        "SIGNUP_SITE_NAME": ("site_name", str, False),
        "SIGNUP_SITE_URL": ("site_url", _url("http", "https"), False),
        "SIGNUP_LIST_TITLES": ("list_titles", _titles, False),
        "SIGNUP_SENDER_NAME": ("sender_name", str, False),
        "SIGNUP_PRIVACY_URL": ("privacy_url", _url("http", "https"), False),
        "SIGNUP_ACCENT_COLOUR": ("accent_colour", _colour, False),
        "SIGNUP_TEMPLATES_DIR": ("templates_dir", _directory, False),
        "SIGNUP_CONFIRM_AUTOSUBMIT": ("confirm_autosubmit", _bool, False),
        "SIGNUP_FRAME_ANCESTORS": ("frame_ancestors", _origins, False),
    }
)

# What each mode cannot work without.
_NEEDS = {
    ("mail_transport", "postmark"): ("SIGNUP_POSTMARK_SERVER_TOKEN",),
    ("mail_transport", "sendgrid"): ("SIGNUP_SENDGRID_API_KEY",),
    ("mail_transport", "mailgun"): ("SIGNUP_MAILGUN_API_KEY", "SIGNUP_MAILGUN_DOMAIN"),
    ("mail_transport", "resend"): ("SIGNUP_RESEND_API_KEY",),
    ("mail_transport", "brevo"): ("SIGNUP_BREVO_API_KEY",),
    ("captcha", "altcha"): ("SIGNUP_ALTCHA_HMAC_KEY",),
    ("captcha", "turnstile"): ("SIGNUP_CAPTCHA_SITE_KEY", "SIGNUP_CAPTCHA_SECRET"),
    ("captcha", "hcaptcha"): ("SIGNUP_CAPTCHA_SITE_KEY", "SIGNUP_CAPTCHA_SECRET"),
}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read every variable once; raise one ConfigError naming every bad or missing one."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, (attr, parse, required) in _VARIABLES.items():
        try:
            raw = _raw(env, name)
        except ConfigError as e:
            errors.append(str(e))
            continue
        if raw is None:
            if required:
                errors.append(f"{name} is required but not set")
            continue
        try:
            values[attr] = parse(raw)
        except ValueError as e:
            errors.append(f"{name} is invalid: {e}")
    for (attr, mode), needed in _NEEDS.items():
        if values.get(attr) != mode:
            continue
        for name in needed:
            if values.get(_VARIABLES[name][0]) is None:
                switch = next(v for v, spec in _VARIABLES.items() if spec[0] == attr)
                errors.append(f"{name} is required when {switch}={mode}")
    if values.get("smtputf8") and values.get("mail_transport", "smtp") != "smtp":
        # The providers' APIs take ASCII local parts only (their documented address checks).
        errors.append("SIGNUP_SMTPUTF8 is only for SIGNUP_MAIL_TRANSPORT=smtp")
    if values.get("retain_events", 30 * 86400) < values.get("soft_bounce_window", 7 * 86400):
        # The soft-bounce rule counts stored events within its window.
        errors.append("SIGNUP_RETAIN_EVENTS must be at least SIGNUP_SOFT_BOUNCE_WINDOW")
    if errors:
        raise ConfigError("; ".join(errors))
    return Settings(**values)


def load_database_url(env: Mapping[str, str] | None = None) -> str:
    """Only DATABASE_URL, for commands that need nothing else (signupctl migrate)."""
    env = os.environ if env is None else env
    raw = _raw(env, "DATABASE_URL")
    if raw is None:
        raise ConfigError("DATABASE_URL is required but not set")
    try:
        return _url("postgresql", "postgres")(raw)
    except ValueError as e:
        raise ConfigError(f"DATABASE_URL is invalid: {e}") from None


def _jwks_location(value: str) -> str:
    """An https URL, or a file that exists."""
    if value.startswith(("https://", "http://")):
        return _url("https")(value)
    if not os.path.isfile(value):
        raise ValueError(f"{value!r} is neither an https URL nor a file")
    return value


def _algorithms(value: str) -> tuple[str, ...]:
    names = tuple(a.upper() for a in _names(value))
    if not names or not set(names) <= {"ES256", "RS256"}:
        raise ValueError("expected ES256, RS256 or both (HS256 has its own variables)")
    return names


# Admin API, in its own block.
_VARIABLES.update(
    {
        "SIGNUP_ADMIN_PORT": ("admin_port", _positive(_int), False),
        "SIGNUP_ADMIN_HOST": ("admin_host", str, False),
        "SIGNUP_ADMIN_JWKS": ("admin_jwks", _jwks_location, False),
        "SIGNUP_ADMIN_JWT_ISSUER": ("admin_issuer", str, False),
        "SIGNUP_ADMIN_JWT_AUDIENCE": ("admin_audience", str, False),
        "SIGNUP_ADMIN_JWT_ALGORITHMS": ("admin_algorithms", _algorithms, False),
        "SIGNUP_ADMIN_JWT_LEEWAY": ("admin_leeway", _int, False),
        "SIGNUP_ADMIN_HS256_SECRET": ("admin_hs256_secret", _key, False),
        "SIGNUP_ADMIN_HS256_UNTIL": ("admin_hs256_until", datetime.date.fromisoformat, False),
        "SIGNUP_ADMIN_KEYS_FILE": ("admin_keys_file", str, False),
        "SIGNUP_ADMIN_TOKEN_ISSUER": ("admin_token_issuer", str, False),
        "SIGNUP_ADMIN_RATE_LIMIT": ("admin_rate", _rate, False),
    }
)


def check_admin(settings: Settings) -> None:
    """What the admin listener cannot work without; called where it starts."""
    if settings.admin_port is None:
        return
    errors = []
    if settings.admin_port in (settings.port, settings.metrics_port):
        errors.append("SIGNUP_ADMIN_PORT must differ from PORT and SIGNUP_METRICS_PORT")
    if not (settings.admin_jwks or settings.admin_keys_file or settings.admin_hs256_secret):
        errors.append(
            "SIGNUP_ADMIN_PORT needs SIGNUP_ADMIN_JWKS, SIGNUP_ADMIN_KEYS_FILE"
            " or SIGNUP_ADMIN_HS256_SECRET"
        )
    if settings.admin_jwks and not settings.admin_issuer:
        errors.append("SIGNUP_ADMIN_JWT_ISSUER is required with SIGNUP_ADMIN_JWKS")
    if settings.admin_hs256_secret and not settings.admin_hs256_until:
        errors.append("SIGNUP_ADMIN_HS256_UNTIL is required with SIGNUP_ADMIN_HS256_SECRET")
    if settings.admin_hs256_secret and not settings.admin_issuer:
        errors.append("SIGNUP_ADMIN_JWT_ISSUER is required with SIGNUP_ADMIN_HS256_SECRET")
    if not 0 <= settings.admin_leeway <= 300:
        errors.append("SIGNUP_ADMIN_JWT_LEEWAY must be between 0 and 300 seconds")
    if errors:
        raise ConfigError("; ".join(errors))


# wt-deploy stand-in: the settings rewrite brings the real `variables()`; this hand-made one has
# the same interface so `signupctl secrets new` and the deployment-list test can be written
# against it. Required: what load_settings refuses to start without. Secret: a field held as a
# Secret (or the keyring). Generated: made by the site owner (`signupctl secrets new`), not
# issued by a provider.
@dataclass(frozen=True)
class Variable:
    env: str
    required: bool
    secret: bool
    generated: bool
    default: Any
    description: str
    group: str


_GENERATED = frozenset(
    {
        "SIGNUP_BLIND_INDEX_KEY",
        "SIGNUP_SIGNING_KEY",
        "SIGNUP_SEAL_KEYS",
        "SIGNUP_ALTCHA_HMAC_KEY",
        "SIGNUP_POSTMARK_WEBHOOK_SECRET",
        "SIGNUP_BREVO_WEBHOOK_SECRET",
        "SIGNUP_ADMIN_HS256_SECRET",
    }
)


def variables() -> list[Variable]:
    """Every variable load_settings reads, in its order."""
    fields = {f.name: f for f in Settings.__dataclass_fields__.values()}
    found = []
    for env, (attr, _parse, required) in _VARIABLES.items():
        kind = str(fields[attr].type)
        found.append(
            Variable(
                env=env,
                required=required,
                secret="Secret" in kind or "Keyring" in kind,
                generated=env in _GENERATED,
                default=None if required else fields[attr].default,
                description="",
                group="",
            )
        )
    return found
