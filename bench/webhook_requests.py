"""Prepared, signed webhook requests for wrk (bench/replay.lua): one per line,
path TAB headers-json TAB body. Every request carries events never seen before."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from devstack import certificates

TOPIC = "arn:aws:sns:us-east-1:000000000000:bench"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bench.pem"


def sns_key_and_certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    return certificates.self_signed("sns.amazonaws.com", datetime.datetime.now(datetime.UTC))


def write_sns(path: Path, key: rsa.RSAPrivateKey, count: int) -> None:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with open(path, "w") as out:
        for n in range(count):
            ses = {
                "notificationType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "feedbackId": f"fb-{uuid.uuid4().hex}",
                    "bouncedRecipients": [
                        {"emailAddress": f"sns-{n}@example.com", "status": "5.1.1"}
                    ],
                    "timestamp": stamp,
                },
                "mail": {"messageId": f"m-{n}"},
            }
            body = {
                "Type": "Notification",
                "MessageId": str(uuid.uuid4()),
                "TopicArn": TOPIC,
                "Message": json.dumps(ses),
                "Timestamp": stamp,
                "SignatureVersion": "2",
                "SigningCertURL": CERT_URL,
            }
            order = ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
            canonical = "".join(f"{k}\n{body[k]}\n" for k in order).encode()
            body["Signature"] = base64.b64encode(
                key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
            ).decode()
            headers = json.dumps(
                {"Content-Type": "text/plain; charset=UTF-8"}, separators=(",", ":")
            )
            out.write(f"/webhooks/ses\t{headers}\t{json.dumps(body)}\n")


def sendgrid_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, base64.b64encode(public).decode()


def write_sendgrid(path: Path, key: ec.EllipticCurvePrivateKey, count: int, batch: int) -> None:
    stamp = str(int(datetime.datetime.now(datetime.UTC).timestamp()))
    with open(path, "w") as out:
        for n in range(count):
            events = [
                {
                    "email": f"sg-{n}-{i}@example.com",
                    "event": "bounce",
                    "type": "bounce",
                    "status": "5.1.1",
                    "timestamp": int(stamp),
                    "sg_event_id": uuid.uuid4().hex,
                }
                for i in range(batch)
            ]
            body = json.dumps(events).encode()
            signature = base64.b64encode(
                key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            ).decode()
            headers = json.dumps(
                {
                    "Content-Type": "application/json",
                    "X-Twilio-Email-Event-Webhook-Signature": signature,
                    "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                },
                separators=(",", ":"),
            )
            out.write(f"/webhooks/sendgrid\t{headers}\t{body.decode()}\n")
