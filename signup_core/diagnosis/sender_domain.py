"""The sender domain in DNS: SPF present (and covering the SMTP relay where its address is
known), a DKIM key for each configured selector, DMARC present with its policy and alignment."""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr

from signup_core.diagnosis.dns_lookup import Lookup, LookupFailed, organisational, tags
from signup_core.diagnosis.results import Result, failed, passed, skipped
from signup_core.diagnosis.spf import authorises, spf_records
from signup_core.settings import Settings

NAMES = ("spf", "dkim", "dmarc")
# Names that are never in public DNS (RFC 6761, 6762): a local run's sender.
LOCAL_SUFFIXES = (".localhost", ".invalid", ".local", ".internal")


def from_domain(settings: Settings) -> str:
    return parseaddr(settings.mail_from)[1].rpartition("@")[2].lower().rstrip(".")


def _public(domain: str) -> bool:
    if "." not in domain or domain.endswith(LOCAL_SUFFIXES):
        return False
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        return True
    return False


async def check(
    settings: Settings, resolver: tuple[str, int] | None, lifetime: float = 5.0
) -> list[Result]:
    domain = from_domain(settings)
    if not _public(domain):
        why = f"the sender domain {domain or '(none)'} is not in public DNS (a local run)"
        return [skipped(n, why) for n in NAMES]
    fix = "check the resolver this host uses, or name one with --resolver HOST:PORT"
    try:
        look = Lookup(resolver, lifetime)
    except LookupFailed as e:
        return [failed(n, f"DNS: {e}", fix) for n in NAMES]
    results = []
    for name, probe in (("spf", spf), ("dkim", dkim), ("dmarc", dmarc)):
        try:
            results.append(await probe(look, domain, settings))
        except LookupFailed as e:
            results.append(failed(name, f"DNS look-up failed: {e}", fix))
    return results


def _relay_is_local(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or host.endswith(LOCAL_SUFFIXES)
    return address.is_loopback or address.is_private


async def spf(look: Lookup, domain: str, settings: Settings) -> Result:
    records = spf_records(await look.txt(domain))
    if not records:
        return failed(
            "spf",
            f"no SPF record (TXT v=spf1) at {domain}",
            f'publish one at {domain}, e.g. "v=spf1 include:<your relay\'s SPF domain> -all"',
        )
    if len(records) > 1:
        return failed(
            "spf",
            f"{len(records)} SPF records at {domain}: receivers treat that as an error",
            "merge them into one v=spf1 record",
        )
    record = records[0]
    if settings.mail_transport != "smtp":
        return passed(
            "spf",
            f"{domain}: {record}; whether it covers {settings.mail_transport} is not checked "
            "(the provider sends with its own return-path domain unless you set a custom one)",
        )
    host = settings.smtp_host
    if _relay_is_local(host):
        return passed(
            "spf",
            f"{domain}: {record}; coverage not checked: SMTP_HOST {host} is a local relay, "
            "and the address it sends out from is unknown here",
        )
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await look.addresses(host)
    if not addresses:
        return failed("spf", f"SMTP_HOST {host} does not resolve", "check SMTP_HOST")
    verdict = await authorises(look, domain, record, addresses)
    shown = ", ".join(str(a) for a in addresses)
    unchecked = (
        f"; not evaluated: {', '.join(sorted(verdict.not_evaluated))}"
        if verdict.not_evaluated
        else ""
    )
    if verdict.matched:
        return passed(
            "spf", f"{domain} authorises SMTP_HOST {host} ({shown}) by {verdict.matched}{unchecked}"
        )
    refused = f" ({verdict.refused_by} matched first)" if verdict.refused_by else ""
    return failed(
        "spf",
        f"{domain}'s SPF does not authorise SMTP_HOST {host} ({shown}){refused}{unchecked}; "
        "only the relay's own address was tried, which may differ from the one it sends from",
        f"add the relay to the record: include:<its SPF domain> as its documentation says, "
        f"or ip4:{addresses[0]}",
    )


def dkim_domain(settings: Settings, domain: str) -> str:
    """Where the selectors' keys live: the domain that signs (d=)."""
    if settings.mail_transport == "mailgun" and settings.mailgun_domain:
        return settings.mailgun_domain.lower()
    return domain


async def dkim(look: Lookup, domain: str, settings: Settings) -> Result:
    if not settings.dkim_selectors:
        return skipped(
            "dkim",
            "no selectors to look up",
            "set SIGNUP_DKIM_SELECTORS to the selector(s) your provider signs with",
        )
    signer = dkim_domain(settings, domain)
    found, problems = [], []
    for selector in settings.dkim_selectors:
        name = f"{selector}._domainkey.{signer}"
        keys = [tags(t) for t in await look.txt(name)]
        keys = [k for k in keys if "p" in k]
        if not keys:
            problems.append(f"no DKIM key at {name}")
        elif not keys[0]["p"]:
            problems.append(f"the key at {name} is revoked (empty p=)")
        elif keys[0].get("v", "DKIM1") != "DKIM1":
            problems.append(f"{name} is not a DKIM1 record")
        else:
            found.append(f"{selector} ({keys[0].get('k', 'rsa')})")
    if problems:
        return failed(
            "dkim",
            "; ".join(problems),
            "publish the TXT (or CNAME) record your provider shows for each selector, or "
            "correct SIGNUP_DKIM_SELECTORS",
        )
    return passed("dkim", f"key published at {signer} for {', '.join(found)}")


async def _dmarc_record(look: Lookup, domain: str) -> tuple[str, str | None, int]:
    """The name it was found at, the record, and how many were there."""
    for name in dict.fromkeys((f"_dmarc.{domain}", f"_dmarc.{organisational(domain)}")):
        records = [
            t for t in await look.txt(name) if t.replace(" ", "").lower().startswith("v=dmarc1")
        ]
        if records:
            return name, records[0], len(records)
    return f"_dmarc.{domain}", None, 0


def _aligned(identifier: str, domain: str, mode: str) -> bool:
    if mode == "s":
        return identifier == domain
    return organisational(identifier) == organisational(domain)


async def dmarc(look: Lookup, domain: str, settings: Settings) -> Result:
    where, record, count = await _dmarc_record(look, domain)
    if record is None:
        return failed(
            "dmarc",
            f"no DMARC record at {where}",
            f'publish TXT at _dmarc.{domain}: "v=DMARC1; p=none; rua=mailto:<reports address>",'
            " then raise p to quarantine or reject once the reports are clean",
        )
    if count > 1:
        return failed("dmarc", f"{count} DMARC records at {where}", "keep exactly one")
    t = tags(record)
    sub = where != f"_dmarc.{domain}"
    policy = t.get("sp", t.get("p")) if sub else t.get("p")
    if policy not in ("none", "quarantine", "reject"):
        return failed(
            "dmarc",
            f"{where}: no valid policy (p=) in {record!r}",
            "set p=none, quarantine or reject",
        )
    adkim, aspf = t.get("adkim", "r"), t.get("aspf", "r")
    aligned, unknown = _alignment(settings, domain, adkim, aspf)
    found = f"{where}{' (organisational domain: the last two labels)' if sub else ''}"
    summary = f"{found}: p={policy}, adkim={adkim}, aspf={aspf}"
    if not aligned and not unknown:
        return failed(
            "dmarc",
            f"{summary}; nothing that sends or signs for {domain} aligns with it",
            "sign with d= on the From domain, or send From an address on the sending domain",
        )
    note = "; p=none only asks for reports" if policy == "none" else ""
    shown = "; ".join([f"aligned by {', '.join(aligned)}"] * bool(aligned) + unknown)
    return passed("dmarc", f"{summary}; From {domain}: {shown}{note}")


def _alignment(settings: Settings, domain: str, adkim: str, aspf: str) -> tuple[list, list]:
    """What is known to align with the From domain, and what could not be checked."""
    aligned, unknown = [], []
    if settings.mail_transport == "smtp":
        aligned.append("SPF (the envelope sender is the From address)")
    elif settings.mail_transport == "mailgun" and settings.mailgun_domain:
        if _aligned(settings.mailgun_domain.lower(), domain, aspf):
            aligned.append(f"SPF (return path on {settings.mailgun_domain})")
    else:
        unknown.append(f"SPF alignment depends on {settings.mail_transport}'s return-path setting")
    signer = dkim_domain(settings, domain)
    if not settings.dkim_selectors:
        unknown.append("DKIM alignment not checked (no SIGNUP_DKIM_SELECTORS)")
    elif _aligned(signer, domain, adkim):
        aligned.append(f"DKIM (d={signer})")
    return aligned, unknown
