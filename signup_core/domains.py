"""Which mail domains are refused: the maintained disposable list plus the operator's lists."""

from __future__ import annotations

import functools

from signup_core.settings import Settings


@functools.cache
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


def _suffixes(domain: str) -> list[str]:
    """example.mail.co -> [example.mail.co, mail.co, co]: a listed domain covers its subdomains."""
    parts = domain.lower().rstrip(".").split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


def _ascii(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def is_refused(domain: str, settings: Settings) -> bool:
    suffixes = _suffixes(_ascii(domain))
    if any(s in settings.allowed_domains for s in suffixes):
        return False
    if any(s in settings.blocked_domains for s in suffixes):
        return True
    return settings.block_disposable and any(s in _disposable() for s in suffixes)
