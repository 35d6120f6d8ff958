"""Which mail domains are refused: the maintained disposable list plus the operator's lists."""

from __future__ import annotations

import contextlib
import functools

from signup_core.settings import Settings


@functools.cache
def _disposable() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


@functools.lru_cache(maxsize=4096)
def _suffixes(domain: str) -> frozenset[str]:
    """example.mail.co -> {example.mail.co, mail.co, co}: a listed domain covers its
    subdomains. In A-label form, as the lists are. Cached: most signups share a few domains,
    and the IDNA codec is slow. A set, so each list is checked by one isdisjoint()."""
    with contextlib.suppress(UnicodeError):  # not IDNA-encodable: matched as given
        domain = domain.encode("idna").decode("ascii")
    parts = domain.lower().rstrip(".").split(".")
    return frozenset(".".join(parts[i:]) for i in range(len(parts)))


def is_refused(domain: str, settings: Settings) -> bool:
    suffixes = _suffixes(domain)
    if not suffixes.isdisjoint(settings.allowed_domains):
        return False
    if not suffixes.isdisjoint(settings.blocked_domains):
        return True
    return settings.block_disposable and not suffixes.isdisjoint(_disposable())
