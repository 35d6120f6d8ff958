"""Amazon SES through SNS: verify the SNS signature against an SNS certificate, confirm
subscriptions, accept configured topics only, then read SES bounce/complaint/delivery."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from signup_core import json_bodies
from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    array,
    identify,
    json_body,
    mapping,
    parse_time,
    text,
    within,
)
from signup_core.providers.bounces import (
    HARD,
    OTHER,
    SOFT,
    SUPPRESSED,
    classify,
    enhanced_status,
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
_STRING_FIELDS = {
    *_CONFIRMATION_FIELDS,
    "Subject",
    "Signature",
    "SignatureVersion",
    "SigningCertURL",
}
_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
# Transient bounces caused by what we sent, not by the mailbox.
_CONTENT_SUBTYPES = {"MessageTooLarge", "ContentRejected", "AttachmentRejected"}
# SES did not send at all: the address is on the account's or SES's global suppression list.
_SUPPRESSED_SUBTYPES = {"OnAccountSuppressionList", "Suppressed"}
_MAX_CERTIFICATES = 32


def sns_url(url: object) -> str:
    """Only https URLs on an sns.<region>.amazonaws.com host are ever fetched (no SSRF)."""
    try:
        parts = urlsplit(url if isinstance(url, str) else "")
        port = parts.port  # raises for a port that is not a number in range
    except ValueError:  # also a malformed IPv6 host
        raise Rejected(403, "foreign host") from None
    if (
        parts.scheme != "https"
        or not _SNS_HOST.match(parts.hostname or "")
        or port not in (None, 443)
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


async def verify(message: dict[str, Any], ctx: Context) -> None:
    for name in _STRING_FIELDS:
        text(message, name)  # every SNS field is a string; anything else is malformed
    kind = message.get("Type")
    if kind not in _SIGNED_FIELDS or not message.get("Signature"):
        raise Rejected(401, "unsigned")
    algorithm = _HASHES.get(message.get("SignatureVersion") or "")
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
        ses = json_bodies.loads(message.get("Message") or "")
    except json_bodies.MalformedJSON:
        return []  # a signed notification that is not SES's: acknowledged, ignored
    return events(ses, message, ctx) if isinstance(ses, dict) else []


def _bounce_label(bounce: dict[str, Any]) -> str:
    """SES's bounceType and bounceSubType, for when the recipient's status says nothing."""
    bounce_type, sub_type = text(bounce, "bounceType"), text(bounce, "bounceSubType")
    if sub_type in _SUPPRESSED_SUBTYPES:
        return SUPPRESSED
    if bounce_type == "Transient":
        return OTHER if sub_type in _CONTENT_SUBTYPES else SOFT
    return HARD  # Permanent, Undetermined or no type: hard unless SES says it was transient


def events(ses: dict[str, Any], sns: dict[str, Any], ctx: Context) -> list[Event]:
    """SES sends identity notifications (notificationType) and configuration-set events
    (eventType) with the same bodies; only the listed recipients are affected."""
    kind = text(ses, "notificationType") or text(ses, "eventType")
    fallback = parse_time(sns.get("Timestamp"), ctx.now)
    if kind == "Bounce":
        bounce = mapping(ses, "bounce")
        label = _bounce_label(bounce)
        when = parse_time(bounce.get("timestamp"), fallback)
        base, derived = identify(text(bounce, "feedbackId") or sns.get("MessageId"), bounce)
        found = []
        for r in array(bounce, "bouncedRecipients"):
            address, status = text(r, "emailAddress"), text(r, "status")
            if address:
                diagnosis = " ".join(filter(None, (status, text(r, "diagnosticCode"))))
                kind = label if label == SUPPRESSED else classify(diagnosis, label)
                detail = enhanced_status(status) or text(bounce, "bounceType")
                found.append(Event(base, kind, address, when, detail, derived))
        return found
    if kind == "Complaint":
        complaint = mapping(ses, "complaint")
        when = parse_time(complaint.get("timestamp"), fallback)
        base, derived = identify(text(complaint, "feedbackId") or sns.get("MessageId"), complaint)
        feedback = text(complaint, "complaintFeedbackType")
        return [
            Event(base, "complaint", address, when, feedback, derived)
            for r in array(complaint, "complainedRecipients")
            if (address := text(r, "emailAddress"))
        ]
    if kind == "Delivery":
        delivery = mapping(ses, "delivery")
        when = parse_time(delivery.get("timestamp"), fallback)
        given = text(mapping(ses, "mail"), "messageId") or sns.get("MessageId")
        base, derived = identify(given, delivery)
        return [
            Event(base, "delivered", r, when, None, derived)
            for r in array(delivery, "recipients", str)
            if r
        ]
    return []
