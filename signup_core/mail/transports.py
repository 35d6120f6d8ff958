"""The one interface every mail transport has, and the choice of one by configuration."""

from __future__ import annotations

from typing import Protocol

import httpx

from signup_core.mail.render import Rendered
from signup_core.settings import Settings


class Transport(Protocol):
    async def send(self, message: Rendered) -> None:
        """Hand one message on, or raise TransientMailError / PermanentMailError."""

    async def close(self) -> None: ...


def make_transport(settings: Settings, http: httpx.AsyncClient) -> Transport:
    if settings.mail_transport == "postmark":
        from signup_core.mail.postmark import PostmarkTransport

        return PostmarkTransport(settings, http)
    from signup_core.mail.smtp_transport import SmtpTransport

    return SmtpTransport(settings)
