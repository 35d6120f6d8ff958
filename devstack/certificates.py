"""Self-signed RSA certificates for tests and benchmarks that play a signing or TLS service."""

from __future__ import annotations

import datetime
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed(
    common_name: str, around: datetime.datetime, *, ip: str | None = None
) -> tuple[rsa.RSAPrivateKey, bytes]:
    """A fresh key and its PEM certificate, valid a day before and a year after `around`;
    with `ip`, also valid for that address (a local TLS server)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(around - datetime.timedelta(days=1))
        .not_valid_after(around + datetime.timedelta(days=365))
    )
    if ip is not None:
        san = [x509.DNSName(common_name), x509.IPAddress(ipaddress.ip_address(ip))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    return key, cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
