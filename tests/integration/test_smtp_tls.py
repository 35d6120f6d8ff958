"""SMTP with STARTTLS, implicit TLS and authentication, against real aiosmtpd servers that
use a certificate made here (trusted through SMTP_CA_FILE)."""

from __future__ import annotations

import datetime
import ssl
import uuid

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from devstack import certificates
from devstack.mailcatcher import Catcher
from devstack.processes import free_port
from signup_core.mail.failures import TransientMailError
from signup_core.mail.render import Envelope, Rendered
from signup_core.mail.smtp_transport import SmtpTransport
from signup_core.settings import load_settings
from tests.unit.test_settings import BASE

GOOD = "relay-pass"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.UTC)
    key, cert = certificates.self_signed("localhost", now, ip="127.0.0.1")
    (folder / "cert.pem").write_bytes(cert)
    (folder / "key.pem").write_bytes(certificates.key_pem(key))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return folder / "cert.pem", context


def check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = auth_data.login == b"relay-user" and auth_data.password == GOOD.encode()
    return AuthResult(success=ok)


@pytest.fixture(params=["starttls", "tls"])
def server(request, tls_files):
    cert, context = tls_files
    catcher, port = Catcher(), free_port()
    options = {"authenticator": check_login}
    if request.param == "starttls":
        options |= {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    else:
        # Implicit TLS: encrypted from the first byte (aiosmtpd's auth_require_tls only
        # knows STARTTLS).
        options |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(catcher, hostname="127.0.0.1", port=port, **options)
    controller.start()
    yield request.param, port, cert, catcher
    controller.stop()


def message(to: str) -> Rendered:
    envelope = Envelope(
        to, None, "News <news@example.org>", None, "example.org", "https://x/unsubscribe?token=u"
    )
    return Rendered("hello", "hello", "<p>hello</p>", envelope, "<1@example.org>", "now")


def transport(mode: str, port: int, password: str, ca_file=None) -> SmtpTransport:
    env = {
        **BASE,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": mode,
        "SMTP_USERNAME": "relay-user",
        "SMTP_PASSWORD": password,
        "SMTP_TIMEOUT": "2",
    }
    if ca_file is not None:
        env["SMTP_CA_FILE"] = str(ca_file)
    return SmtpTransport(load_settings(env))


async def test_encrypted_authenticated_send_reuses_its_connection(server):
    mode, port, cert, catcher = server
    smtp = transport(mode, port, GOOD, cert)
    addresses = [f"tls-{uuid.uuid4().hex[:8]}@example.com" for _ in range(3)]
    for address in addresses:
        await smtp.send(message(address))
    [first_connection] = smtp._idle  # sent one after another: one connection did it all
    await smtp.send(message(addresses[0]))
    assert smtp._idle == [first_connection] and first_connection.is_connected
    await smtp.close()
    assert sorted({str(m["To"]) for m in catcher.messages}) == sorted(addresses)


async def test_wrong_password_is_transient_so_a_fixed_config_still_delivers(server):
    # aiosmtpd goes quiet after a failed AUTH where a relay answers 535; either way the
    # failure must be one a retry recovers from (the 535 case: tests/unit/test_smtp_classify).
    mode, port, cert, catcher = server
    smtp = transport(mode, port, "wrong", cert)
    with pytest.raises(TransientMailError):
        await smtp.send(message("x@example.com"))
    await smtp.close()
    assert catcher.messages == []


async def test_untrusted_certificate_is_refused(server):
    mode, port, _, catcher = server
    smtp = transport(mode, port, GOOD)
    with pytest.raises(TransientMailError):
        await smtp.send(message("x@example.com"))
    await smtp.close()
    assert catcher.messages == []


async def test_concurrent_sends_use_at_most_the_configured_connections(smtp_server):
    import asyncio

    smtp = SmtpTransport(
        load_settings(
            {
                **BASE,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_server.port),
                "SIGNUP_SMTP_CONNECTIONS": "3",
            }
        )
    )
    addresses = [f"pool-{uuid.uuid4().hex[:8]}@example.com" for _ in range(12)]
    await asyncio.gather(*(smtp.send(message(a)) for a in addresses))
    assert 1 <= len(smtp._idle) <= 3
    await smtp.close()
    smtp_server.wait_for(lambda m: str(m["To"]) in addresses, count=12)
