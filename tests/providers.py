"""Signed provider requests, built the way each provider documents them, with keys and
certificates made here. The signing code is written from the providers' documentation,
independently of the verification code it tests."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from devstack import certificates

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
POSTMARK_SECRET = "postmark-webhook-secret-0123456789abcdef"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-feedback"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem"


def self_signed() -> tuple[rsa.RSAPrivateKey, bytes]:
    return certificates.self_signed("sns.amazonaws.com", NOW)


SNS_KEY, SNS_CERT = self_signed()


def sns(
    message: str | dict,
    *,
    kind: str = "Notification",
    version: str = "1",
    key: rsa.RSAPrivateKey = SNS_KEY,
    when: datetime.datetime = NOW,
    message_id: str = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    **extra: str,
) -> dict:
    """An SNS HTTP(S) message; SES puts its JSON, as a string, in Message."""
    body = {
        "Type": kind,
        "MessageId": message_id,
        "TopicArn": TOPIC,
        "Message": message if isinstance(message, str) else json.dumps(message),
        "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        **extra,
    }
    if kind == "Notification":
        order = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        order = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    canonical = "".join(f"{k}\n{body[k]}\n" for k in order if k in body).encode()
    # SignatureVersion 1 is SHA1withRSA by definition.
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()  # noqa: S303
    body["Signature"] = base64.b64encode(key.sign(canonical, padding.PKCS1v15(), digest)).decode()
    return body


def ses_bounce(
    recipients: list[tuple[str, str | None]],
    bounce_type: str = "Permanent",
    destination: list[str] | None = None,
    event: bool = False,
) -> dict:
    """An SES bounce notification (or, with event=True, a configuration-set event)."""
    bounced = [
        {
            "emailAddress": a,
            "action": "failed",
            **({"status": s} if s else {}),
            "diagnosticCode": f"smtp; {s or ''} mailbox problem",
        }
        for a, s in recipients
    ]
    return {
        ("eventType" if event else "notificationType"): "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General",
            "bouncedRecipients": bounced,
            "timestamp": "2026-11-23T11:59:00.000Z",
            "feedbackId": "0100018a-feedback-0001",
        },
        "mail": {
            "timestamp": "2026-11-23T11:58:00.000Z",
            "messageId": "0100018a-mail-0001",
            "source": "news@example.org",
            "destination": destination or [a for a, _ in recipients],
        },
    }


def ses_complaint(address: str) -> dict:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": "2026-11-23T11:59:00.000Z",
            "feedbackId": "0100018a-complaint-0001",
            "complaintFeedbackType": "abuse",
        },
        "mail": {"messageId": "0100018a-mail-0002", "destination": [address]},
    }


SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())
SENDGRID_PUBLIC = base64.b64encode(
    SENDGRID_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def sendgrid_headers(
    body: bytes, when: datetime.datetime = NOW, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY
) -> dict[str, str]:
    stamp = str(int(when.timestamp()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


MAILGUN_KEY = "mailgun-signing-key-0123456789abcdef"


def mailgun(
    event_data: dict, *, token: str, when: datetime.datetime = NOW, key: str = MAILGUN_KEY
) -> dict:
    stamp = str(int(when.timestamp()))
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


# Resend signs with Svix: "whsec_" + the base64 of the key, HMAC-SHA256 over id.timestamp.body.
RESEND_SECRET = "whsec_" + base64.b64encode(b"resend-test-signing-key-0123456789").decode()


def svix_headers(
    body: bytes,
    msg_id: str,
    *,
    when: datetime.datetime = NOW,
    secret: str = RESEND_SECRET,
    extra: tuple[str, ...] = (),
) -> dict[str, str]:
    stamp = str(int(when.timestamp()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    signatures = [*extra, "v1," + base64.b64encode(digest).decode()]
    return {
        "svix-id": msg_id,
        "svix-timestamp": stamp,
        "svix-signature": " ".join(signatures),
        "content-type": "application/json",
    }


BREVO_SECRET = "brevo-webhook-secret-0123456789abcdef"


def configured(env: dict[str, str]) -> dict[str, str]:
    """The app's environment with every provider's webhook configured with the keys here."""
    return {
        **env,
        "SIGNUP_SES_TOPIC_ARNS": TOPIC,
        "SIGNUP_POSTMARK_WEBHOOK_SECRET": POSTMARK_SECRET,
        "SIGNUP_SENDGRID_PUBLIC_KEY": SENDGRID_PUBLIC,
        "SIGNUP_MAILGUN_SIGNING_KEY": MAILGUN_KEY,
        "SIGNUP_RESEND_WEBHOOK_SECRET": RESEND_SECRET,
        "SIGNUP_BREVO_WEBHOOK_SECRET": BREVO_SECRET,
    }
