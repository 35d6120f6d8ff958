"""The DNS look-ups the sender-domain checks make, through dnspython: the system's resolver, or
the one named with --resolver HOST:PORT (tests, air-gapped sites)."""

from __future__ import annotations

import ipaddress

import dns.asyncresolver
import dns.exception
import dns.resolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class LookupFailed(Exception):
    """The resolver did not answer (as opposed to: the name has no such record)."""


class Lookup:
    def __init__(self, resolver: tuple[str, int] | None = None, lifetime: float = 5.0) -> None:
        try:
            self._resolver = dns.asyncresolver.Resolver(configure=resolver is None)
        except dns.resolver.NoResolverConfiguration:
            raise LookupFailed("no resolver configured here; name one with --resolver") from None
        if resolver is not None:
            self._resolver.nameservers = [resolver[0]]
            self._resolver.port = resolver[1]
        self._resolver.lifetime = lifetime
        self.queries = 0

    async def _answer(self, name: str, rdtype: str) -> list:
        self.queries += 1
        try:
            return list(await self._resolver.resolve(name, rdtype, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.exception.DNSException as e:
            raise LookupFailed(f"{rdtype} {name}: {type(e).__name__}") from None

    async def txt(self, name: str) -> list[str]:
        """Each TXT record as one string (its character-strings joined, as SPF and DMARC do)."""
        return [
            b"".join(r.strings).decode("utf-8", "replace") for r in await self._answer(name, "TXT")
        ]

    async def addresses(self, name: str) -> list[IPAddress]:
        found = []
        for rdtype in ("A", "AAAA"):
            found += [ipaddress.ip_address(r.address) for r in await self._answer(name, rdtype)]
        return found

    async def mx(self, name: str) -> list[str]:
        return [r.exchange.to_text(omit_final_dot=True) for r in await self._answer(name, "MX")]


def tags(record: str) -> dict[str, str]:
    """A DKIM or DMARC record's tag=value list; names lower-cased, values stripped."""
    found = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            found[key.strip().lower()] = value.strip()
    return found


def organisational(domain: str) -> str:
    """The last two labels: the organisational domain without a public-suffix list (wrong for
    names under suffixes such as co.uk, which the checks' output says)."""
    return ".".join(domain.split(".")[-2:])
