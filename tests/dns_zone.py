"""A real DNS server on loopback (dnslib's) answering from a small zone: what `signupctl doctor`
reads through dnspython in the tests, never the internet."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dnslib import QTYPE, RCODE, RR
from dnslib.server import BaseResolver, DNSServer

from devstack.processes import free_port

# The relay the tests' SMTP_HOST names, and the senders: one passes, each other misses one thing.
ZONE = """
smtp.relay.test.          60 IN A   198.51.100.7
_spf.relay.test.          60 IN TXT "v=spf1 ip4:198.51.100.0/24 ~all"
good.test.                60 IN TXT "v=spf1 ip4:192.0.2.1 include:_spf.relay.test -all"
s1._domainkey.good.test.  60 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"
_dmarc.good.test.         60 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=r"
nospf.test.               60 IN TXT "google-site-verification=abc"
s1._domainkey.nospf.test. 60 IN TXT "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEB"
_dmarc.nospf.test.        60 IN TXT "v=DMARC1; p=quarantine"
nodkim.test.              60 IN TXT "v=spf1 include:_spf.relay.test -all"
_dmarc.nodkim.test.       60 IN TXT "v=DMARC1; p=none"
nodmarc.test.             60 IN TXT "v=spf1 include:_spf.relay.test -all"
s1._domainkey.nodmarc.test. 60 IN TXT "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEB"
uncovered.test.           60 IN TXT "v=spf1 ip4:192.0.2.1 -all"
s1._domainkey.uncovered.test. 60 IN TXT "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEB"
_dmarc.uncovered.test.    60 IN TXT "v=DMARC1; p=reject"
by-mx.test.               60 IN TXT "v=spf1 mx -all"
by-mx.test.               60 IN MX  10 mx.by-mx.test.
mx.by-mx.test.            60 IN A   198.51.100.7
s1._domainkey.by-mx.test. 60 IN TXT "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEB"
_dmarc.by-mx.test.        60 IN TXT "v=DMARC1; p=reject"
by-redirect.test.         60 IN TXT "v=spf1 ip4:192.0.2.1 redirect=_spf.relay.test"
by-macro.test.            60 IN TXT "v=spf1 exists:%{i}._spf.by-macro.test ptr -all"
revoked.test.             60 IN TXT "v=spf1 include:_spf.relay.test -all"
s1._domainkey.revoked.test. 60 IN TXT "v=DKIM1; p="
_dmarc.revoked.test.      60 IN TXT "v=DMARC1; p=reject"
"""


class ZoneResolver(BaseResolver):
    """Answers what the zone holds for a name and type; NXDOMAIN for a name it lacks."""

    def __init__(self, zone: str) -> None:
        self.records = RR.fromZone(zone)

    def resolve(self, request, handler):
        reply = request.reply()
        name, qtype = request.q.qname, request.q.qtype
        known = [rr for rr in self.records if rr.rname == name]
        for rr in known:
            if rr.rtype == qtype:
                reply.add_answer(rr)
        if not known:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@contextmanager
def dns_server(zone: str = ZONE) -> Iterator[tuple[str, int]]:
    """The (host, port) of a UDP and TCP DNS server for the zone, stopped afterwards."""
    port = free_port()
    resolver = ZoneResolver(zone)
    servers = [
        DNSServer(resolver, port=port, address="127.0.0.1", tcp=tcp, logger=_Quiet())
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    try:
        yield "127.0.0.1", port
    finally:
        for server in servers:
            server.stop()


class _Quiet:
    """dnslib logs every request to stdout by default."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


__all__ = ["QTYPE", "ZONE", "ZoneResolver", "dns_server"]
