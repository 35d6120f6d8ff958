"""Amazon SES through SNS: verify the SNS signature against an SNS certificate, confirm
subscriptions, accept configured topics only, then read SES bounce/complaint/delivery."""

from __future__ import annotations

import base64
import binascii
import json
import re
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    bounce_kind,
    json_body,
    parse_time,
    status_of,
    within,
)

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": _CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": _CONFIRMATION_FIELDS,
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_MAX_CERTIFICATES = 32


def sns_url(url: object) -> str:
    """Only https URLs on an sns.<region>.amazonaws.com host are ever fetched (no SSRF)."""
    parts = urlsplit(url if isinstance(url, str) else "")
    if (
        parts.scheme != "https"
        or not _SNS_HOST.match(parts.hostname or "")
        or parts.port not in (None, 443)
        or parts.username
        or parts.password
    ):
        raise Rejected(403, "foreign host")
    return str(url)


def string_to_sign(message: dict) -> bytes:
    fields = _SIGNED_FIELDS[message["Type"]]
    return "".join(f"{k}\n{message[k]}\n" for k in fields if k in message).encode()


async def _certificate(url: str, ctx: Context) -> rsa.RSAPublicKey:
    """The certificate's key, fetched once per URL and kept parsed."""
    key = ctx.certificates.get(url)
    if key is not None:
        return key
    try:
        response = await ctx.http.get(url)
        response.raise_for_status()
        key = x509.load_pem_x509_certificate(response.content).public_key()
    except httpx.HTTPError:
        raise Rejected(403, "certificate unavailable") from None
    except ValueError:
        raise Rejected(403, "bad certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise Rejected(403, "bad certificate")
    if len(ctx.certificates) >= _MAX_CERTIFICATES:
        ctx.certificates.clear()
    ctx.certificates[url] = key
    return key


async def verify(message: dict, ctx: Context) -> None:
    kind = message.get("Type")
    if kind not in _SIGNED_FIELDS or not isinstance(message.get("Signature"), str):
        raise Rejected(401, "unsigned")
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise Rejected(403, "unknown signature version")
    url = sns_url(message.get("SigningCertURL"))
    if message.get("TopicArn") not in ctx.settings.ses_topic_arns:
        raise Rejected(403, "unknown topic")
    sent = parse_time(message.get("Timestamp"), ctx.now.replace(year=1970))
    if not within(sent, ctx.now, ctx.settings.sns_tolerance):
        raise Rejected(403, "stale")
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        data = string_to_sign(message)
    except (binascii.Error, KeyError):
        raise Rejected(403, "bad signature") from None
    key = await _certificate(url, ctx)
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise Rejected(403, "bad signature") from None


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    message = json_body(inbound.body)
    await verify(message, ctx)
    if message["Type"] == "SubscriptionConfirmation":
        try:
            (await ctx.http.get(sns_url(message.get("SubscribeURL")))).raise_for_status()
        except httpx.HTTPError:
            raise Rejected(502, "subscription not confirmed") from None
        return []
    if message["Type"] != "Notification":
        return []
    try:
        ses = json.loads(message["Message"])
    except (ValueError, TypeError):
        return []  # a signed notification that is not SES's: acknowledged, ignored
    return events(ses, message, ctx) if isinstance(ses, dict) else []


def events(ses: dict, sns: dict, ctx: Context) -> list[Event]:
    """SES sends identity notifications (notificationType) and configuration-set events
    (eventType) with the same bodies; only the listed recipients are affected."""
    kind = ses.get("notificationType") or ses.get("eventType")
    fallback = parse_time(sns.get("Timestamp"), ctx.now)
    if kind == "Bounce":
        bounce = ses.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        when = parse_time(bounce.get("timestamp"), fallback)
        base = str(bounce.get("feedbackId") or sns.get("MessageId"))
        return [
            Event(
                base,
                bounce_kind(
                    r.get("status") or r.get("diagnosticCode"), labelled_permanent=permanent
                ),
                r["emailAddress"],
                when,
                status_of(r.get("status")) or bounce.get("bounceType"),
            )
            for r in bounce.get("bouncedRecipients") or []
            if r.get("emailAddress")
        ]
    if kind == "Complaint":
        complaint = ses.get("complaint") or {}
        when = parse_time(complaint.get("timestamp"), fallback)
        base = str(complaint.get("feedbackId") or sns.get("MessageId"))
        return [
            Event(
                base, "complaint", r["emailAddress"], when, complaint.get("complaintFeedbackType")
            )
            for r in complaint.get("complainedRecipients") or []
            if r.get("emailAddress")
        ]
    if kind == "Delivery":
        delivery = ses.get("delivery") or {}
        when = parse_time(delivery.get("timestamp"), fallback)
        base = str((ses.get("mail") or {}).get("messageId") or sns.get("MessageId"))
        return [
            Event(base, "delivered", r, when)
            for r in delivery.get("recipients") or []
            if isinstance(r, str)
        ]
    return []
