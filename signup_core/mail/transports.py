"""The one interface every mail transport has, and the choice of one by configuration."""

from __future__ import annotations

import importlib
from typing import Protocol

import httpx

from signup_core.mail.render import Rendered
from signup_core.settings import Settings


class Transport(Protocol):
    async def send(self, message: Rendered) -> None:
        """Hand one message on, or raise TransientMailError / PermanentMailError."""

    async def close(self) -> None: ...


# SIGNUP_MAIL_TRANSPORT -> the HTTP API transport's module and class, imported when chosen.
HTTP_APIS = {
    "postmark": ("signup_core.mail.postmark", "PostmarkTransport"),
    "sendgrid": ("signup_core.mail.sendgrid", "SendGridTransport"),
    "mailgun": ("signup_core.mail.mailgun", "MailgunTransport"),
    "resend": ("signup_core.mail.resend", "ResendTransport"),
    "brevo": ("signup_core.mail.brevo", "BrevoTransport"),
}


def make_transport(settings: Settings, http: httpx.AsyncClient) -> Transport:
    if settings.mail_transport in HTTP_APIS:
        module, name = HTTP_APIS[settings.mail_transport]
        return getattr(importlib.import_module(module), name)(settings, http)
    from signup_core.mail.smtp_transport import SmtpTransport

    return SmtpTransport(settings)
