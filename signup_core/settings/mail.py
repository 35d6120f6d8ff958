"""Mail out (the transport and how the worker retries) and mail events back (the providers'
webhooks)."""

from __future__ import annotations

from typing import Annotated, Literal

from signup_core.settings.service import Concern
from signup_core.settings.types import (
    Duration,
    Key,
    Lower,
    Names,
    Networks,
    PositiveFloat,
    PositiveInt,
    SecretText,
    SvixSecret,
    var,
)

# SIGNUP_MAIL_TRANSPORT values besides smtp: each an HTTP API, in signup_core/mail/.
HTTP_TRANSPORTS = ("postmark", "sendgrid", "mailgun", "resend", "brevo")
Transport = Literal["smtp", "postmark", "sendgrid", "mailgun", "resend", "brevo"]


class Mail(Concern, title="Mail"):
    mail_transport: Transport = var(
        "SIGNUP_MAIL_TRANSPORT", "smtp", "How mail leaves: SMTP or a provider's HTTP API."
    )
    mail_from: str = var("SIGNUP_MAIL_FROM", "signet-signup <noreply@localhost>", "Sender.")
    dkim_selectors: Names = var(
        "SIGNUP_DKIM_SELECTORS",
        (),
        "DKIM selectors of the sender domain, for `signupctl doctor` to look up; read by nothing "
        "else (the mail provider or relay signs).",
    )
    mail_reply_to: str | None = var("SIGNUP_MAIL_REPLY_TO", None, "Reply-To.")
    smtp_host: str = var("SMTP_HOST", "127.0.0.1", "SMTP relay host.")
    smtp_port: PositiveInt = var("SMTP_PORT", 25, "SMTP relay port.")
    smtp_username: str | None = var("SMTP_USERNAME", None, "SMTP auth user.")
    smtp_password: SecretText | None = var("SMTP_PASSWORD", None, "SMTP auth password.")
    smtp_tls: Literal["none", "starttls", "tls"] = var("SMTP_TLS", "none", "`tls` is implicit TLS.")
    smtp_ca_file: str | None = var(
        "SMTP_CA_FILE",
        None,
        "PEM bundle to trust for `starttls` / `tls` (unset: the system trust store).",
    )
    smtp_connections: PositiveInt = var(
        "SIGNUP_SMTP_CONNECTIONS", 4, "SMTP connections a worker process keeps open and reuses."
    )
    smtp_timeout: PositiveFloat = var("SMTP_TIMEOUT", 10.0, "SMTP timeout, seconds.")
    smtputf8: bool = var(
        "SIGNUP_SMTPUTF8",
        False,
        "The relay offers SMTPUTF8: accept non-ASCII before the @ (smtp only).",
    )
    postmark_server_token: SecretText | None = var(
        "SIGNUP_POSTMARK_SERVER_TOKEN", None, "Postmark server token; required for `postmark`."
    )
    postmark_stream: str = var("SIGNUP_POSTMARK_STREAM", "outbound", "Postmark message stream.")
    sendgrid_api_key: SecretText | None = var(
        "SIGNUP_SENDGRID_API_KEY", None, "Required for `sendgrid`."
    )
    mailgun_api_key: SecretText | None = var(
        "SIGNUP_MAILGUN_API_KEY", None, "Required for `mailgun`."
    )
    mailgun_domain: str | None = var(
        "SIGNUP_MAILGUN_DOMAIN", None, "Sending domain; required for `mailgun`."
    )
    mailgun_region: Annotated[Literal["us", "eu"], Lower] = var(
        "SIGNUP_MAILGUN_REGION", "us", "Mailgun region."
    )
    resend_api_key: SecretText | None = var("SIGNUP_RESEND_API_KEY", None, "Required for `resend`.")
    brevo_api_key: SecretText | None = var("SIGNUP_BREVO_API_KEY", None, "Required for `brevo`.")
    mail_max_retries: int = var("SIGNUP_MAIL_MAX_RETRIES", 8, "Transient-failure retries per mail.")
    mail_min_backoff_ms: PositiveInt = var(
        "SIGNUP_MAIL_MIN_BACKOFF_MS", 1000, "Retry backoff, lower bound (ms)."
    )
    mail_max_backoff_ms: PositiveInt = var(
        "SIGNUP_MAIL_MAX_BACKOFF_MS", 300_000, "Retry backoff, upper bound (ms)."
    )


class Webhooks(Concern, title="Provider webhooks and bounces"):
    webhook_max_body_bytes: PositiveInt = var(
        "SIGNUP_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024, "Webhook body limit."
    )
    webhook_tolerance: Duration = var(
        "SIGNUP_WEBHOOK_TOLERANCE", 300, "How far a signed webhook timestamp may be off."
    )
    sns_tolerance: Duration = var(
        "SIGNUP_SNS_TOLERANCE", 3600, "How far an SNS message timestamp may be off."
    )
    ses_topic_arns: Names = var("SIGNUP_SES_TOPIC_ARNS", (), "SNS topics accepted.")
    soft_bounce_limit: PositiveInt = var(
        "SIGNUP_SOFT_BOUNCE_LIMIT", 3, "Soft bounces within the window that suppress an address."
    )
    soft_bounce_window: Duration = var(
        "SIGNUP_SOFT_BOUNCE_WINDOW", 7 * 86400, "The soft-bounce window."
    )
    postmark_webhook_user: str = var(
        "SIGNUP_POSTMARK_WEBHOOK_USER", "postmark", "Postmark webhook basic-auth user."
    )
    postmark_webhook_secret: Key | None = var(
        "SIGNUP_POSTMARK_WEBHOOK_SECRET", None, "Postmark webhook basic-auth password."
    )
    sendgrid_public_key: str | None = var(
        "SIGNUP_SENDGRID_PUBLIC_KEY", None, "SendGrid's verification key."
    )
    mailgun_signing_key: SecretText | None = var(
        "SIGNUP_MAILGUN_SIGNING_KEY", None, "Mailgun's webhook signing key."
    )
    resend_webhook_secret: SvixSecret | None = var(
        "SIGNUP_RESEND_WEBHOOK_SECRET", None, "Resend's webhook signing secret, `whsec_...`."
    )
    brevo_webhook_user: str = var(
        "SIGNUP_BREVO_WEBHOOK_USER", "brevo", "Brevo webhook basic-auth user."
    )
    brevo_webhook_secret: Key | None = var(
        "SIGNUP_BREVO_WEBHOOK_SECRET", None, "Brevo webhook basic-auth password."
    )
    brevo_webhook_networks: Networks = var(
        "SIGNUP_BREVO_WEBHOOK_NETWORKS", (), "Networks Brevo's webhooks may come from (unset: any)."
    )
