"""The one Settings model (every concern's variables, flat), where its values come from, and
the rules that tie one variable to another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

from signup_core.settings.admin import Admin, admin_problems
from signup_core.settings.hooks import Hooks
from signup_core.settings.mail import Mail, Webhooks
from signup_core.settings.service import Keys, Observability, Privacy, Service
from signup_core.settings.visitors import Abuse, Pages, Signup

# In the order docs/configuration.md shows them.
CONCERNS = (
    Service,
    Keys,
    Signup,
    Mail,
    Webhooks,
    Hooks,
    Abuse,
    Pages,
    Privacy,
    Observability,
    Admin,
)


class Settings(
    Admin,
    Hooks,
    Observability,
    Privacy,
    Pages,
    Abuse,
    Webhooks,
    Mail,
    Signup,
    Keys,
    Service,
    title="Settings",
):
    """Every variable, as one frozen object; `load_settings` is the way to make one."""

    def list_title(self, name: str) -> str:
        """What visitors read for a list: its display name, or the key when none is set."""
        return dict(self.list_titles).get(name, name)

    @property
    def default_list(self) -> str:
        return self.lists[0]

    @property
    def default_locale(self) -> str:
        return self.locales[0]

    @property
    def mail_domain(self) -> str:
        return urlsplit(self.public_base_url).hostname or "localhost"

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, *others):
        # Only what load_settings hands over: never os.environ, a .env file or a secrets dir
        # behind its back.
        return (init_settings,)


class Environment(PydanticBaseSettingsSource):
    """Each variable from `env`, or from the file its NAME_FILE names; empty counts as unset.
    A file that cannot be read is an error of its own, kept in `errors`."""

    def __init__(self, settings_cls: type[Settings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env
        self.errors: dict[str, str] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = str(field.validation_alias)
        return self.read(name), name, False

    def read(self, name: str) -> str | None:
        path = self.env.get(f"{name}_FILE")
        if path:
            try:
                with open(path, encoding="utf-8") as f:
                    return f.read().strip()
            except OSError as e:
                self.errors[name] = f"{name}_FILE: cannot read {path!r}: {e.strerror}"
                return None
        value = self.env.get(name)
        return value if value not in (None, "") else None

    def __call__(self) -> dict[str, Any]:
        values = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[name] = value
        return values


# What each mode cannot work without: (field, value) -> variables.
NEEDS = {
    ("mail_transport", "postmark"): ("SIGNUP_POSTMARK_SERVER_TOKEN",),
    ("mail_transport", "sendgrid"): ("SIGNUP_SENDGRID_API_KEY",),
    ("mail_transport", "mailgun"): ("SIGNUP_MAILGUN_API_KEY", "SIGNUP_MAILGUN_DOMAIN"),
    ("mail_transport", "resend"): ("SIGNUP_RESEND_API_KEY",),
    ("mail_transport", "brevo"): ("SIGNUP_BREVO_API_KEY",),
    ("captcha", "altcha"): ("SIGNUP_ALTCHA_HMAC_KEY",),
    ("captcha", "turnstile"): ("SIGNUP_CAPTCHA_SITE_KEY", "SIGNUP_CAPTCHA_SECRET"),
    ("captcha", "hcaptcha"): ("SIGNUP_CAPTCHA_SITE_KEY", "SIGNUP_CAPTCHA_SECRET"),
}


def env_name(field_name: str) -> str:
    return str(Settings.model_fields[field_name].validation_alias)


def field_name(env: str) -> str:
    return next(k for k, f in Settings.model_fields.items() if f.validation_alias == env)


def problems(values: Mapping[str, Any]) -> list[str]:
    """The rules between variables, over the fields that parsed (missing: unset or bad)."""
    errors = []
    for (attr, mode), needed in NEEDS.items():
        if values.get(attr) != mode:
            continue
        for name in needed:
            if values.get(field_name(name)) is None:
                errors.append(f"{name} is required when {env_name(attr)}={mode}")
    if values.get("smtputf8") and values.get("mail_transport", "smtp") != "smtp":
        # The providers' APIs take ASCII local parts only (their documented address checks).
        errors.append("SIGNUP_SMTPUTF8 is only for SIGNUP_MAIL_TRANSPORT=smtp")
    if values.get("retain_events", 30 * 86400) < values.get("soft_bounce_window", 7 * 86400):
        # The soft-bounce rule counts stored events within its window.
        errors.append("SIGNUP_RETAIN_EVENTS must be at least SIGNUP_SOFT_BOUNCE_WINDOW")
    if values.get("events_url") is not None and values.get("events_secret") is None:
        errors.append("SIGNUP_EVENTS_SECRET is required with SIGNUP_EVENTS_URL")
    return errors + admin_problems(values)
