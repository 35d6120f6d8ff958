"""What a failed delivery means for the recipient, the same for every provider: the enhanced
status code's meaning (RFC 3463) first, then the provider's own type. Only a hard bounce
suppresses at once and only a soft bounce counts towards the threshold; the other kinds are
stored and counted but never held against the subscriber."""

from __future__ import annotations

import re

HARD = "hard_bounce"  # the mailbox does not exist or is disabled
SOFT = "soft_bounce"  # the mailbox exists but did not take the mail this time
BLOCKED = "blocked"  # policy or reputation: the receiving side refused the sender
DEFERRED = "deferred"  # the provider is still trying
OTHER = "other"  # our message or request, or a reason nobody documented
SUPPRESSED = "suppressed"  # on the provider's own suppression list: it will not send there
RECIPIENT = frozenset({HARD, SOFT})

# class.subject.detail, not part of a longer dotted number (an IP address, a version).
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")


def enhanced_status(text: str | None) -> str | None:
    match = _STATUS.search(text or "")
    return match.group(0) if match else None


def classify(status_text: str | None, label: str) -> str:
    """`status_text` holds the recipient's status or diagnostic line; `label` is the kind the
    provider's own type stands for."""
    match = _STATUS.search(status_text or "")
    if match is None:
        return label
    klass, subject, detail = match.groups()
    if subject == "7":
        return BLOCKED  # X.7.X security or policy: spam filters, reputation, DMARC
    if subject in ("5", "6"):
        return OTHER  # protocol or content: what we sent, not where it went
    if klass == "2":
        return label
    if subject in ("1", "2"):  # addressing and mailbox status: the recipient's own
        mailbox_full = subject == "2" and detail == "2"  # X.2.2 is often persistent-transient
        return HARD if klass == "5" and not mailbox_full else SOFT
    # X.0 undefined, X.3 mail system, X.4 routing: the class says how lasting, the label whose.
    if label not in RECIPIENT:
        return label
    return HARD if klass == "5" else SOFT
