"""Does a domain's SPF record authorise an address? The mechanisms that name addresses are
evaluated (ip4, ip6, a, mx, include, redirect, all); exists, ptr and macros are not, and the
result says so."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from signup_core.diagnosis.dns_lookup import IPAddress, Lookup

# RFC 7208 4.6.4: at most 10 terms that cause DNS look-ups.
MAX_LOOKUPS = 10


@dataclass
class Verdict:
    matched: str | None = None  # the term that authorised the address, e.g. "include:_spf.x"
    refused_by: str | None = None  # a -all, ~all, ?all or qualified term that matched first
    not_evaluated: set[str] = field(default_factory=set)
    lookups: int = 0


def spf_records(texts: list[str]) -> list[str]:
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def _split(term: str) -> tuple[str, str, str, int | None]:
    """qualifier, mechanism, argument, prefix length (for a, mx, ip4, ip6)."""
    qualifier = term[0] if term[0] in "+-~?" else "+"
    body = term.lstrip("+-~?")
    name, sep, argument = body.partition(":")
    if not sep and "=" in body:
        name, _, argument = body.partition("=")
        return qualifier, name.lower() + "=", argument, None
    prefix = None
    if name.lower() in ("a", "mx") and "/" in (argument or name):
        if argument:
            argument, _, length = argument.partition("/")
        else:
            name, _, length = name.partition("/")
        prefix = int(length.split("//")[0]) if length.split("//")[0].isdigit() else None
    return qualifier, name.lower(), argument, prefix


def _within(address: IPAddress, host: IPAddress, prefix: int | None) -> bool:
    if address.version != host.version:
        return False
    length = prefix if prefix is not None and address.version == 4 else host.max_prefixlen
    return address in ipaddress.ip_network(f"{host}/{length}", strict=False)


async def authorises(look: Lookup, domain: str, record: str, addresses: list[IPAddress]) -> Verdict:
    verdict = Verdict()
    await _evaluate(look, domain, record, addresses, verdict)
    return verdict


async def _evaluate(
    look: Lookup, domain: str, record: str, addresses: list[IPAddress], verdict: Verdict
) -> bool:
    """True when the record decided (matched or refused), False when it fell through."""
    redirect = None
    for term in record.split()[1:]:
        if "%" in term:
            verdict.not_evaluated.add("macros")
            continue
        qualifier, name, argument, prefix = _split(term)
        if name == "redirect=":
            redirect = argument
            continue
        if name.endswith("=") or name in ("exists", "ptr"):
            if name in ("exists", "ptr"):
                verdict.not_evaluated.add(name)
            continue
        hit = await _matches(look, domain, name, argument, prefix, addresses, verdict)
        if hit:
            if qualifier == "+":
                verdict.matched = verdict.matched or term
            else:
                verdict.refused_by = term
            return True
    if redirect and verdict.lookups < MAX_LOOKUPS:
        verdict.lookups += 1
        records = spf_records(await look.txt(redirect))
        if records:
            return await _evaluate(look, redirect, records[0], addresses, verdict)
    return False


async def _matches(
    look: Lookup,
    domain: str,
    name: str,
    argument: str,
    prefix: int | None,
    addresses: list[IPAddress],
    verdict: Verdict,
) -> bool:
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(argument, strict=False)
        except ValueError:
            return False
        return any(a.version == network.version and a in network for a in addresses)
    if name not in ("a", "mx", "include"):
        return False
    if verdict.lookups >= MAX_LOOKUPS:
        verdict.not_evaluated.add(f"terms past the {MAX_LOOKUPS}-lookup limit")
        return False
    verdict.lookups += 1
    target = argument or domain
    if name == "include":
        records = spf_records(await look.txt(target))
        if not records:
            return False
        inner = Verdict(lookups=verdict.lookups)
        decided = await _evaluate(look, target, records[0], addresses, inner)
        verdict.lookups = inner.lookups
        verdict.not_evaluated |= inner.not_evaluated
        # include matches only when the included record passes the address.
        return decided and inner.matched is not None
    hosts = [target] if name == "a" else await look.mx(target)
    for host in hosts:
        for found in await look.addresses(host):
            if any(_within(a, found, prefix) for a in addresses):
                return True
    return False
