"""The checks that read only the configuration: every error in it at once (the admin
listener's included), PUBLIC_BASE_URL, and a webhook secret for the provider mail goes through."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from signup_core.diagnosis.results import Result, failed, passed, skipped
from signup_core.settings import ConfigError, Settings, check_admin, load_for, load_settings

# The provider behind an SMTP relay, by the end of its host name.
RELAY_PROVIDERS = {
    "amazonaws.com": "ses",
    "postmarkapp.com": "postmark",
    "sendgrid.net": "sendgrid",
    "mailgun.org": "mailgun",
    "resend.com": "resend",
    "brevo.com": "brevo",
    "sendinblue.com": "brevo",
}
# Provider -> (Settings field, variable) that lets its webhook in.
WEBHOOK_SECRETS = {
    "ses": ("ses_topic_arns", "SIGNUP_SES_TOPIC_ARNS"),
    "postmark": ("postmark_webhook_secret", "SIGNUP_POSTMARK_WEBHOOK_SECRET"),
    "sendgrid": ("sendgrid_public_key", "SIGNUP_SENDGRID_PUBLIC_KEY"),
    "mailgun": ("mailgun_signing_key", "SIGNUP_MAILGUN_SIGNING_KEY"),
    "resend": ("resend_webhook_secret", "SIGNUP_RESEND_WEBHOOK_SECRET"),
    "brevo": ("brevo_webhook_secret", "SIGNUP_BREVO_WEBHOOK_SECRET"),
}


def error_lines(error: ConfigError) -> list[str]:
    """One line per error, whether the message joins them with newlines or with "; "."""
    listed = getattr(error, "errors", None)
    if isinstance(listed, list | tuple) and all(isinstance(e, str) for e in listed):
        return list(listed)
    text = str(error)
    parts = text.splitlines() if "\n" in text else text.split("; ")
    return [p.strip() for p in parts if p.strip()]


def check(env: Mapping[str, str]) -> tuple[Settings | None, list[Result]]:
    """The settings (with missing required variables as None when some are missing), or None
    when a variable is malformed; and the results of the configuration and PUBLIC_BASE_URL."""
    errors: list[str] = []
    settings = None
    try:
        settings = load_settings(env)
    except ConfigError as e:
        errors += error_lines(e)
        try:
            # Without the rules between variables: the admin listener's are added below.
            settings = load_for((), env, rules=False)
        except ConfigError:
            settings = None
    if settings is not None:
        try:
            check_admin(settings)
        except ConfigError as e:
            errors += [line for line in error_lines(e) if line not in errors]
    if errors:
        first = failed(
            "configuration",
            f"{len(errors)} error(s) in the environment",
            "set or correct each variable named (docs/configuration.md); "
            "any secret can also come from NAME_FILE",
            tuple(errors),
        )
    else:
        admin = f"; admin listener on port {settings.admin_port}" if settings.admin_port else ""
        first = passed("configuration", f"every variable set and well formed{admin}")
    if settings is None:
        return None, [first]
    return settings, [first, public_base_url(settings)]


def _local(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_base_url(settings: Settings) -> Result:
    name = "public-base-url"
    url = settings.public_base_url
    if url is None:
        return skipped(name, "PUBLIC_BASE_URL is not set (see configuration)")
    parts = urlsplit(url)
    host = parts.hostname or ""
    fix = (
        "set PUBLIC_BASE_URL to the https:// origin visitors reach, e.g. https://signup.example.com"
    )
    if parts.username or parts.password or parts.query or parts.fragment:
        return failed(name, "PUBLIC_BASE_URL holds credentials, a query or a fragment", fix)
    if not host or ("." not in host and not _local(host)):
        return failed(name, f"{url} has no fully qualified host name", fix)
    if parts.scheme != "https" and not _local(host):
        return failed(
            name,
            f"{url} is http on a public name: links in mail would travel in clear text",
            fix,
        )
    where = "a local address" if _local(host) else "https"
    return passed(name, f"{url} ({where}); links in mail point here")


def transport_provider(settings: Settings) -> str | None:
    """The provider mail goes through: the HTTP API's, or the one an SMTP relay belongs to."""
    if settings.mail_transport != "smtp":
        return settings.mail_transport
    host = settings.smtp_host.lower().rstrip(".")
    for suffix, provider in RELAY_PROVIDERS.items():
        if host == suffix or host.endswith("." + suffix):
            return provider
    return None


def webhooks(settings: Settings) -> Result:
    name = "webhooks"
    base = settings.public_base_url or "PUBLIC_BASE_URL"
    configured = [p for p, (attr, _) in WEBHOOK_SECRETS.items() if getattr(settings, attr)]
    provider = transport_provider(settings)
    if settings.brevo_webhook_networks and "brevo" not in configured:
        return failed(
            name,
            "SIGNUP_BREVO_WEBHOOK_NETWORKS is set but SIGNUP_BREVO_WEBHOOK_SECRET is not",
            "set SIGNUP_BREVO_WEBHOOK_SECRET: the networks only narrow who may call",
        )
    if provider is not None and provider not in configured:
        variable = WEBHOOK_SECRETS[provider][1]
        return failed(
            name,
            f"mail goes through {provider} but {variable} is not set: its bounces and "
            "complaints are refused, so dead addresses keep being mailed",
            f"set {variable} and point {provider}'s webhook at {base}/webhooks/{provider}",
        )
    if not configured:
        return skipped(name, "plain SMTP relay and no provider webhook configured")
    urls = ", ".join(f"{base}/webhooks/{p}" for p in configured)
    return passed(name, f"secret set for {', '.join(configured)} (endpoints: {urls})")
