"""What every HTTP API transport shares: the request that never raises anything but our two
failures, the one policy table that sorts a provider's answer, and addresses for JSON."""

from __future__ import annotations

import datetime
import email.utils
import logging
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from signup_core.addresses import wire_address
from signup_core.clock import Clock
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.mime import phrase
from signup_core.mail.render import Rendered, one_line

log = logging.getLogger(__name__)

# Who a 4xx refusal is about, as each provider's error body tells.
Refusal = Literal["recipient", "ours", "message"]

# Where providers put a rate limit's reset, in the order they are trusted: Retry-After (RFC
# 9110), RateLimit-Reset (Resend, IETF draft), X-RateLimit-Reset (SendGrid, Mailgun: Unix
# time), X-Sib-RateLimit-Reset (Brevo: seconds).
RESET_HEADERS = ("retry-after", "ratelimit-reset", "x-ratelimit-reset", "x-sib-ratelimit-reset")
LONGEST_WAIT = 86_400.0  # a daily quota; anything later is a header we misread


async def post(http: httpx.AsyncClient, provider: str, url: str, **request: Any) -> httpx.Response:
    try:
        return await http.post(url, **request)
    except httpx.HTTPError as e:
        # The request may or may not have arrived: retried, as SMTP's lost connections are.
        raise TransientMailError(f"{provider} {type(e).__name__}") from None


def judge(provider: str, response: httpx.Response, refusal: Refusal, clock: Clock) -> Exception:
    """The policy table, the same for every provider: a rate limit waits for its reset; a
    server error or a timeout is retried; our own account or configuration is retried (a fix
    delivers the mail) and logged; a refused recipient is refused for good and suppressed;
    any other refusal fails this message only."""
    status = response.status_code
    reason = f"{provider} http {status}"
    if status == 429:
        return TransientMailError(reason, retry_after=reset_after(response.headers, clock))
    if status >= 500 or status in (408, 409):  # 409: the same message still in flight
        return TransientMailError(reason)
    if status in (401, 402, 403) or refusal == "ours":
        log.warning(
            "mail provider refused our account; retrying",
            extra={"provider": provider, "failure": reason},
        )
        return TransientMailError(reason)
    return PermanentMailError(reason, recipient=refusal == "recipient")


def reset_after(headers: Mapping[str, str], clock: Clock) -> float | None:
    """Seconds until a rate limit resets. A number is a delay, unless it is large enough to
    be a Unix time (seconds or milliseconds); otherwise an HTTP date."""
    now = clock.now()
    for name in RESET_HEADERS:
        value = (headers.get(name) or "").strip()
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=datetime.UTC)
            seconds = (moment - now).total_seconds()
        else:
            if number != number:  # NaN
                continue
            if number > 1e12:
                number /= 1000
            seconds = number - now.timestamp() if number > 1e9 else number
        return min(max(seconds, 0.0), LONGEST_WAIT)
    return None


class HttpTransport:
    """One HTTPS call per message through the worker's shared client. Subclasses say how a
    mail is sent (`request`) and whom a refusal is about (`refusal`)."""

    provider = ""

    def __init__(self, http: httpx.AsyncClient, clock: Clock | None = None) -> None:
        self._http = http
        self._clock = clock or Clock()

    def request(self, mail: Rendered) -> dict[str, Any]:
        raise NotImplementedError

    def refusal(self, response: httpx.Response) -> Refusal:
        raise NotImplementedError

    async def send(self, message: Rendered) -> None:
        try:
            request = self.request(message)
        except ValueError:
            # Signup refuses such addresses; only older rows get here. Fails this mail only.
            raise PermanentMailError("unencodable address") from None
        response = await post(self._http, self.provider, **request)
        if response.is_success:
            return
        raise judge(self.provider, response, self.refusal(response), self._clock)

    async def close(self) -> None:
        """The HTTP client belongs to the worker's resources, which close it."""


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The provider's JSON error, or {} for anything else (an HTML page from a proxy)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def recipient(mail: Rendered) -> tuple[str, str]:
    """The address in its wire form and the display name. The APIs take ASCII local parts
    only (their documented address checks): any other raises ValueError."""
    address = wire_address(mail.envelope.to_address)
    if not address.isascii():
        raise ValueError("the API cannot send to a non-ASCII local part")
    return address, one_line(mail.envelope.to_name or "")


def party(address: str, name: str) -> dict[str, str]:
    """{"email", "name"} as SendGrid and Brevo take them; they encode the name themselves,
    except one holding "=?", which we encode, so it cannot pass as an encoded word of its own."""
    if not name:
        return {"email": address}
    return {"email": address, "name": phrase(name) if "=?" in name else name}


def mailbox(value: str) -> tuple[str, str]:
    """SIGNUP_MAIL_FROM / _REPLY_TO as (address, name)."""
    name, address = email.utils.parseaddr(one_line(value))
    return address, name


def extra_headers(mail: Rendered) -> dict[str, str]:
    """Headers passed on as they are; the provider writes its own Date."""
    return {name: value for name, value in mail.headers() if name != "Date"}
