"""SMTP transport: one reused connection per process; failures sorted transient or permanent."""

from __future__ import annotations

import asyncio
import logging
from email.utils import parseaddr

import aiosmtplib

from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.mime import ascii_address, to_bytes
from signup_core.mail.render import Rendered
from signup_core.settings import Settings

log = logging.getLogger(__name__)


def classify(error: Exception) -> Exception:
    code = getattr(error, "code", None)
    recipient = isinstance(error, aiosmtplib.SMTPRecipientsRefused)
    if recipient and error.recipients:
        code = error.recipients[0].code
    if isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # Our credentials are wrong: retrying once they are fixed delivers the mail.
        return TransientMailError(f"smtp auth {code}")
    if isinstance(code, int) and 500 <= code < 600:
        return PermanentMailError(f"smtp {code}", recipient=recipient)
    if isinstance(code, int) and code >= 400:
        return TransientMailError(f"smtp {code}")
    return TransientMailError(type(error).__name__)


class SmtpTransport:
    """Up to SIGNUP_SMTP_CONNECTIONS connections, each reused message after message; a
    connection that failed is closed, never put back."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._envelope_from = parseaddr(settings.mail_from)[1]
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(settings.smtp_connections)

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=s.smtp_tls == "starttls",
            username=s.smtp_username,
            password=s.smtp_password.value if s.smtp_password else None,
            timeout=s.smtp_timeout,
            cert_bundle=s.smtp_ca_file,
        )

    async def send(self, message: Rendered) -> None:
        """Send one message, reconnecting once if a reused connection went stale."""
        data = to_bytes(message)
        recipient = ascii_address(message.envelope.to_address)
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            for attempt in (1, 2):
                try:
                    if client is None or not client.is_connected:
                        client = self._new_client()
                        await client.connect()
                    await client.sendmail(self._envelope_from, [recipient], data)
                    self._idle.append(client)
                    return
                except aiosmtplib.SMTPServerDisconnected:
                    client = None
                    if attempt == 2:
                        raise TransientMailError("disconnected") from None
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                    if client is not None and client.is_connected:
                        client.close()
                    # "from None": aiosmtplib's errors name the recipient, and Dramatiq logs and
                    # stores the whole traceback chain.
                    raise classify(e) from None

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
