"""SMTP transport: one reused connection per process; failures sorted transient or permanent."""

from __future__ import annotations

import asyncio
import logging
import re
from email.utils import parseaddr

import aiosmtplib

from signup_core.addresses import wire_address
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.mime import NeedsSmtpUtf8, to_bytes
from signup_core.mail.render import Rendered
from signup_core.settings import Settings

log = logging.getLogger(__name__)


# What no address in an SMTP command may hold: it would end the address (">", a space) and
# add options or commands of its own. aiosmtplib's sendmail refused these; we send MAIL and
# RCPT ourselves.
_UNSAFE = re.compile(r'[\s<>"\x00-\x1f\x7f]')

# An enhanced status (RFC 3463) about the mailbox or its address: the recipient's, even when
# a relay says it after DATA rather than at RCPT.
_MAILBOX_STATUS = re.compile(r"^5\.[12]\.\d{1,3}\b")


def _ours(step: str, code: object) -> TransientMailError:
    """A 5xx outside the recipient step refuses our sender, login or message: our configuration
    (or the relay's), which a fix makes deliverable. Kept, retried, dead-lettered after the
    retries, and logged so it is seen; never blamed on the recipient."""
    reason = f"smtp {step} {code}"
    log.warning(
        "mail relay refused our sender, login or message; retrying", extra={"failure": reason}
    )
    return TransientMailError(reason)


def classify(error: Exception) -> Exception:
    code = getattr(error, "code", None)
    permanent = isinstance(code, int) and 500 <= code < 600
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        code = error.recipients[0].code if error.recipients else None
        if isinstance(code, int) and 500 <= code < 600:
            return PermanentMailError(f"smtp {code}", recipient=True)
    elif isinstance(error, aiosmtplib.SMTPAuthenticationError):
        # Our credentials are wrong: retrying once they are fixed delivers the mail.
        return _ours("auth", code) if permanent else TransientMailError(f"smtp auth {code}")
    elif isinstance(error, aiosmtplib.SMTPSenderRefused) and permanent:
        return _ours("sender", code)
    elif isinstance(error, aiosmtplib.SMTPDataError) and permanent:
        if _MAILBOX_STATUS.match(error.message or ""):
            return PermanentMailError(f"smtp {code}")
        return _ours("data", code)
    elif permanent:
        return _ours("relay", code)
    if isinstance(code, int) and code >= 400:
        return TransientMailError(f"smtp {code}")
    return TransientMailError(type(error).__name__)


class SmtpTransport:
    """Up to SIGNUP_SMTP_CONNECTIONS connections, each reused message after message; a
    connection that failed is closed, never put back."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._envelope_from = parseaddr(settings.mail_from)[1]
        self._sender_usable = not _UNSAFE.search(self._envelope_from)
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
        if not self._sender_usable:  # checked once; refused before any connection is made
            log.warning("SIGNUP_MAIL_FROM is not a usable envelope sender; retrying")
            raise TransientMailError("smtp sender unusable")
        recipient, data = self._encode(message)
        utf8 = not recipient.isascii()
        async with self._slots:
            client = self._idle.pop() if self._idle else None
            for attempt in (1, 2):
                try:
                    if client is None or not client.is_connected:
                        client = self._new_client()
                        await client.connect()
                    options = await self._utf8_options(client) if utf8 else None
                    if options is None and utf8:
                        self._idle.append(client)  # the connection is fine; this mail is not
                        raise PermanentMailError("smtp relay lacks smtputf8")
                    await self._transfer(client, recipient, data, options)
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

    async def _transfer(
        self, client: aiosmtplib.SMTP, recipient: str, data: bytes, options: list[str] | None
    ) -> None:
        """MAIL, RCPT and DATA for one recipient, raising what `sendmail` raises. `sendmail`
        parsed both addresses twice a mail (a tenth of a mail's CPU in the SMTP client), where
        the sender is our own setting, parsed once, and wire_address checked the recipient."""
        if client.is_ehlo_or_helo_needed:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError:
                await client.helo()  # a relay without ESMTP, as sendmail falls back
        encoding = "utf-8" if options else "ascii"
        mail = [b"FROM:<" + self._envelope_from.encode(encoding) + b">"]
        # No RSET after a refusal: send() closes a connection that raised.
        answer = await client.execute_command(
            b"MAIL", *mail, *(o.encode("ascii") for o in options or ())
        )
        if answer.code != 250:
            raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, "")
        answer = await client.execute_command(b"RCPT", b"TO:<" + recipient.encode(encoding) + b">")
        if answer.code not in (250, 251):
            refused = aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, "")
            raise aiosmtplib.SMTPRecipientsRefused([refused])
        await client.data(data)

    def _encode(self, message: Rendered) -> tuple[str, bytes]:
        """The envelope recipient and the DATA bytes. Whatever cannot be encoded fails this one
        mail for good; signup refuses such addresses, so only older rows get here."""
        try:
            recipient = wire_address(message.envelope.to_address)
            if _UNSAFE.search(recipient):
                raise ValueError("not an address SMTP can carry")
            utf8 = not recipient.isascii()
            if utf8 and not self._settings.smtputf8:
                raise NeedsSmtpUtf8("SIGNUP_SMTPUTF8 is off")
            return recipient, to_bytes(message, utf8=utf8)
        except NeedsSmtpUtf8:
            raise PermanentMailError("smtputf8 off") from None
        except ValueError:  # InvalidAddress, UnicodeError
            raise PermanentMailError("unencodable address") from None

    @staticmethod
    async def _utf8_options(client: aiosmtplib.SMTP) -> list[str] | None:
        """MAIL options for a non-ASCII recipient (RFC 6531), or None when the relay does not
        offer SMTPUTF8, which it says in its EHLO answer."""
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        if not client.supports_extension("smtputf8"):
            return None
        options = ["SMTPUTF8"]
        if client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")  # the raw UTF-8 headers are 8-bit
        return options

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
