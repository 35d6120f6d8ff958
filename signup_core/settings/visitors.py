"""The visitor's side: the signup form and what guards it, and the pages and their branding."""

from __future__ import annotations

from typing import Annotated, Literal

from signup_core.settings.service import Concern
from signup_core.settings.types import (
    Colour,
    Directory,
    Domains,
    Duration,
    HttpUrl,
    Key,
    Lower,
    Names,
    Networks,
    Origins,
    PositiveInt,
    Rate,
    RateLimit,
    Seconds,
    SecretText,
    Titles,
    var,
)


class Signup(Concern, title="Signup and confirmation"):
    lists: Names = var(
        "SIGNUP_LISTS", ("newsletter",), "Lists a visitor may join; the first is the default."
    )
    locales: Names = var(
        "SIGNUP_LOCALES",
        ("en", "de"),
        "Supported locales, the first is the default; missing messages fall back to English.",
    )
    form_version: str = var("SIGNUP_FORM_VERSION", "1", "Recorded with each consent.")
    token_ttl: Duration = var("SIGNUP_TOKEN_TTL", 48 * 3600, "Confirmation token lifetime.")
    resend_window: Seconds = var(
        "SIGNUP_RESEND_WINDOW",
        600,
        "Time between two mails to the same pending or confirmed address.",
    )
    max_body_bytes: PositiveInt = var("SIGNUP_MAX_BODY_BYTES", 16 * 1024, "Larger bodies get 413.")
    check_deliverability: bool = var(
        "SIGNUP_CHECK_DELIVERABILITY",
        False,
        "DNS check of the address's domain (slows the request path).",
    )
    signup_enabled: bool = var(
        "SIGNUP_ENABLED", True, "Off: every signup surface says signups are closed."
    )
    reveal_existing: bool = var(
        "SIGNUP_REVEAL_EXISTING",
        False,
        "A confirmed address gets 409 instead of the enumeration-safe 202.",
    )


class Abuse(Concern, title="Abuse controls"):
    trusted_proxies: Networks = var(
        "SIGNUP_TRUSTED_PROXIES",
        (),
        "Proxies whose forwarded header names the client (comma-separated CIDRs).",
    )
    forwarded_header: Annotated[Literal["x-forwarded-for", "forwarded"], Lower] = var(
        "SIGNUP_FORWARDED_HEADER", "x-forwarded-for", "The one header your proxy writes."
    )
    rate_ip: RateLimit = var("SIGNUP_RATE_LIMIT_IP", Rate(10, 60), "Signups per client address.")
    rate_network: RateLimit = var(
        "SIGNUP_RATE_LIMIT_NETWORK", Rate(30, 60), "Signups per client network (/24 or /64)."
    )
    rate_address: RateLimit = var(
        "SIGNUP_RATE_LIMIT_ADDRESS", Rate(3, 3600), "Signups per email address."
    )
    rate_global: RateLimit = var(
        "SIGNUP_RATE_LIMIT_GLOBAL",
        Rate(600, 60),
        "Signups in all; keep it below your mail provider's budget.",
    )
    block_disposable: bool = var(
        "SIGNUP_BLOCK_DISPOSABLE", True, "Refuse disposable-address domains."
    )
    blocked_domains: Domains = var(
        "SIGNUP_BLOCKED_DOMAINS", (), "Your own deny list (subdomains count)."
    )
    allowed_domains: Domains = var(
        "SIGNUP_ALLOWED_DOMAINS", (), "Domains always allowed (the allow list wins)."
    )
    honeypot_field: str = var(
        "SIGNUP_HONEYPOT_FIELD", "website", "The form field hidden from people."
    )
    captcha: Literal["off", "altcha", "turnstile", "hcaptcha"] = var(
        "SIGNUP_CAPTCHA", "off", "Proof-of-work (altcha) or a provider's captcha."
    )
    altcha_hmac_key: Key | None = var(
        "SIGNUP_ALTCHA_HMAC_KEY",
        None,
        "Signs ALTCHA challenges; required for `altcha`.",
        generated=True,
    )
    altcha_max_number: PositiveInt = var(
        "SIGNUP_ALTCHA_MAX_NUMBER", 50_000, "ALTCHA difficulty (50000: about 1.5 s of solving)."
    )
    altcha_ttl: Duration = var(
        "SIGNUP_ALTCHA_TTL", 600, "How long an ALTCHA challenge stays valid."
    )
    captcha_site_key: str | None = var(
        "SIGNUP_CAPTCHA_SITE_KEY", None, "Turnstile / hCaptcha site key; required for those."
    )
    captcha_secret: SecretText | None = var(
        "SIGNUP_CAPTCHA_SECRET", None, "Turnstile / hCaptcha secret; required for those."
    )
    cors_origins: Origins = var(
        "SIGNUP_CORS_ORIGINS",
        (),
        "Origins (besides PUBLIC_BASE_URL's) that may post from a browser.",
    )


class Pages(Concern, title="Pages and branding"):
    thanks_url: str = var("SIGNUP_THANKS_URL", "/thanks", "Where an accepted form post goes.")
    error_url: str | None = var(
        "SIGNUP_ERROR_URL",
        None,
        "Where a refused form post goes, with ?reason= (unset: the form again).",
    )
    confirmed_url: HttpUrl | None = var(
        "SIGNUP_CONFIRMED_URL", None, "Redirect after a confirmation instead of the built-in page."
    )
    site_name: str = var(
        "SIGNUP_SITE_NAME", "signet-signup", "Shown atop every page and mail, and in titles."
    )
    site_url: HttpUrl | None = var(
        "SIGNUP_SITE_URL", None, "The site's home; pages link back to it."
    )
    list_titles: Titles = var(
        "SIGNUP_LIST_TITLES",
        (),
        "Display names, `newsletter=Weekly news,offers=Offers`; else the key.",
    )
    sender_name: str | None = var(
        "SIGNUP_SENDER_NAME", None, "Replaces the display name of SIGNUP_MAIL_FROM."
    )
    privacy_url: HttpUrl | None = var(
        "SIGNUP_PRIVACY_URL", None, "Linked under the form and in the footer."
    )
    accent_colour: Colour = var(
        "SIGNUP_ACCENT_COLOUR", "#1d4ed8", "Buttons, links and the header rule."
    )
    templates_dir: Directory | None = var(
        "SIGNUP_TEMPLATES_DIR", None, "A folder of your own templates and messages."
    )
    confirm_autosubmit: bool = var(
        "SIGNUP_CONFIRM_AUTOSUBMIT",
        False,
        "The confirm page presses its own button when JavaScript runs.",
    )
    frame_ancestors: Origins = var(
        "SIGNUP_FRAME_ANCESTORS", (), "Origins allowed to embed the pages in a frame."
    )
