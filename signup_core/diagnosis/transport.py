"""The mail transport, tried without sending: SMTP connects, EHLO, STARTTLS and AUTH as
configured; an HTTP API's key asked the provider's cheapest authenticated read."""

from __future__ import annotations

import ssl
from urllib.parse import urljoin

import aiosmtplib
import httpx

from signup_core.diagnosis.results import Result, failed, passed, skipped
from signup_core.mail import brevo, mailgun, postmark, resend, sendgrid
from signup_core.settings import Settings

NAME = "mail-transport"


async def check(settings: Settings, http: httpx.AsyncClient) -> Result:
    if settings.mail_transport == "smtp":
        return await smtp(settings)
    return await api(settings, http)


async def smtp(settings: Settings) -> Result:
    s = settings
    where = f"{s.smtp_host}:{s.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=s.smtp_host,
        port=s.smtp_port,
        use_tls=s.smtp_tls == "tls",
        start_tls=False,
        timeout=s.smtp_timeout,
        cert_bundle=s.smtp_ca_file,
    )
    done: list[str] = []
    step = "connect" + (" (TLS)" if s.smtp_tls == "tls" else "")
    try:
        await client.connect()
        done.append("connected" + (" over TLS" if s.smtp_tls == "tls" else ""))
        step = "EHLO"
        await client.ehlo()
        done.append("EHLO")
        if s.smtp_tls == "starttls":
            step = "STARTTLS"
            await client.starttls()
            await client.ehlo()  # what the server offers is asked again over TLS (RFC 3207)
            done.append("STARTTLS")
        if s.smtp_username:
            step = "AUTH"
            if not client.supports_extension("auth"):
                raise aiosmtplib.SMTPException("the server offers no AUTH")
            await client.login(s.smtp_username, s.smtp_password.value if s.smtp_password else "")
            done.append("AUTH accepted")
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as e:
        return failed(NAME, f"SMTP {where}: {step} failed: {_said(e)}", _smtp_fix(step, s))
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
    if not s.smtp_username:
        done.append("no AUTH configured")
    if s.smtp_tls == "none":
        done.append("no TLS (SMTP_TLS=none)")
    return passed(NAME, f"SMTP {where}: {', '.join(done)}; nothing sent")


def _said(error: BaseException) -> str:
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    first = message.strip().splitlines()[0] if message.strip() else type(error).__name__
    return f"{code} {first}" if isinstance(code, int) and code > 0 else first


def _smtp_fix(step: str, s: Settings) -> str:
    if step == "AUTH":
        return (
            "check SMTP_USERNAME and SMTP_PASSWORD (the relay's SMTP credentials); a relay that "
            "offers AUTH only after STARTTLS needs SMTP_TLS=starttls"
        )
    if step == "STARTTLS":
        return (
            "the relay must offer STARTTLS on this port, with a certificate this host trusts "
            "(SMTP_CA_FILE for a private CA); SMTP_TLS=tls for port 465"
        )
    if step.startswith("connect"):
        return (
            "check SMTP_HOST, SMTP_PORT and SMTP_TLS (465 is tls, 587 starttls) and that this "
            "host may reach the relay (firewall, egress NetworkPolicy)"
        )
    return "the relay refused the greeting: check SMTP_HOST and SMTP_PORT"


def _origin(url: str, path: str) -> str:
    return urljoin(url, path)


async def api(settings: Settings, http: httpx.AsyncClient) -> Result:
    """Each provider's cheapest read that needs the key; the key is never shown."""
    s = settings
    provider = s.mail_transport
    if provider == "postmark":
        key = s.postmark_server_token
        request = ("GET", _origin(postmark.API, "/server"), {"X-Postmark-Server-Token": _v(key)})
    elif provider == "sendgrid":
        key = s.sendgrid_api_key
        request = (
            "GET",
            _origin(sendgrid.API, "/v3/scopes"),
            {"Authorization": f"Bearer {_v(key)}"},
        )
    elif provider == "mailgun":
        key = s.mailgun_api_key
        base = mailgun.BASE_URLS[s.mailgun_region]
        request = ("GET", f"{base}/v3/domains/{s.mailgun_domain}", {})
    elif provider == "resend":
        key = s.resend_api_key
        request = ("GET", _origin(resend.API, "/domains"), {"Authorization": f"Bearer {_v(key)}"})
    else:
        key = s.brevo_api_key
        request = ("GET", _origin(brevo.API, "/v3/account"), {"api-key": _v(key)})
    if key is None:
        return skipped(NAME, f"{provider}: no API key set (see configuration)")
    method, url, headers = request
    auth = httpx.BasicAuth("api", key.value) if provider == "mailgun" else None
    headers = {**headers, "Accept": "application/json"}
    try:
        response = await http.request(method, url, headers=headers, auth=auth)
    except httpx.HTTPError as e:
        return failed(
            NAME,
            f"{provider}: {url} unreachable: {type(e).__name__}",
            "this host must reach the provider's API over HTTPS (egress, proxy, DNS)",
        )
    return _judge(provider, url, response)


def _v(key: object) -> str:
    return key.value if key is not None else ""  # type: ignore[attr-defined]


def _judge(provider: str, url: str, response: httpx.Response) -> Result:
    status = response.status_code
    body = _json(response)
    if provider == "resend" and status == 401 and body.get("name") == "restricted_api_key":
        # A sending-only key: accepted, it just may not read domains.
        return passed(NAME, f"resend: key accepted (a sending-only key; GET {url} {status})")
    if status in (401, 403):
        return failed(
            NAME,
            f"{provider}: the API key was refused (GET {url}: {status})",
            f"set the key {provider} issued for this server as the transport's variable "
            "(README: mail and transports)",
        )
    if provider == "mailgun" and status == 404:
        return failed(
            NAME,
            f"mailgun: domain not found (GET {url}: 404)",
            "check SIGNUP_MAILGUN_DOMAIN and SIGNUP_MAILGUN_REGION (an EU domain needs eu)",
        )
    if not 200 <= status < 300:
        return failed(
            NAME,
            f"{provider}: GET {url} answered {status}",
            "try again later; if it persists, see the provider's status page",
        )
    if provider == "sendgrid" and "mail.send" not in body.get("scopes", ["mail.send"]):
        return failed(
            NAME,
            "sendgrid: the key is accepted but lacks the mail.send scope",
            "give the key the Mail Send permission in SendGrid's API key settings",
        )
    state = (body.get("domain") or {}).get("state") if provider == "mailgun" else None
    if state not in (None, "active"):
        return failed(
            NAME,
            f"mailgun: the domain is {state}, not active",
            "finish the domain's DNS verification in Mailgun",
        )
    return passed(NAME, f"{provider}: key accepted (GET {url} {status}); nothing sent")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
