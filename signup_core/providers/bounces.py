"""What a failed delivery means for the recipient, the same for every provider: the enhanced
status code's meaning (RFC 3463) first; where that code says nothing specific (X.0.0, X.5.0,
or none at all beside an unknown type), the basic SMTP code and the server's words; then the
provider's own type. Only a hard bounce suppresses at once and only a soft bounce counts
towards the threshold; the other kinds are stored and counted but never held against the
subscriber."""

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


# The basic reply code (RFC 5321) as servers and providers quote it: "550 ...", "smtp; 550-...".
_BASIC = re.compile(r"(?:^|[\s;:(\[])([245])[0-5]\d(?=[\s-]|$)")
# What a server says beside an unspecific code when the mailbox itself is the problem.
_NO_MAILBOX = re.compile(
    r"mailbox (?:is )?(?:unavailable|not found|does not exist|disabled|inactive)"
    r"|no such (?:user|mailbox|recipient|address|account)"
    r"|user(?:name)? (?:unknown|not found|does not exist)"
    r"|unknown (?:user|recipient|mailbox|address)"
    r"|recipient (?:unknown|not found|does not exist|invalid)"
    r"|invalid (?:recipient|mailbox|address)"
    r"|(?:address|account|mailbox) (?:does ?n[o']t exist|(?:has been |is )?disabled|is inactive)"
    r"|not a valid (?:mailbox|recipient|address)",
    re.IGNORECASE,
)
_MAILBOX_FULL = re.compile(
    r"mailbox (?:is )?full|over ?quota|quota exceeded|insufficient (?:system )?storage",
    re.IGNORECASE,
)
_POLICY = re.compile(
    r"spam|block ?list|blacklist|blocked|reputation|policy|dmarc|\bspf\b|dkim", re.IGNORECASE
)


def enhanced_status(text: str | None) -> str | None:
    match = _STATUS.search(text or "")
    return match.group(0) if match else None


def classify(status_text: str | None, label: str) -> str:
    """`status_text` holds the recipient's status or diagnostic line; `label` is the kind the
    provider's own type stands for."""
    match = _STATUS.search(status_text or "")
    if match is None:
        # No enhanced code: the provider's type decides, unless it is no type at all.
        return _by_words(status_text or "", None, label) if label == OTHER else label
    klass, subject, detail = match.groups()
    if (subject, detail) in (("0", "0"), ("5", "0")):
        # "Other undefined status" / "other protocol status": says nothing; the words might.
        found = _by_words(status_text or "", klass, None)
        if found is not None:
            return found
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


def _by_words(text: str, klass: str | None, default: str | None) -> str | None:
    """The basic code's class (or the enhanced one's) and the server's words: a mailbox that
    does not exist, a full one, or the sender refused; `default` when they say none of it."""
    basic = _BASIC.search(text)
    klass = basic.group(1) if basic else klass
    if klass not in ("4", "5"):
        return default
    if _NO_MAILBOX.search(text):
        return HARD if klass == "5" else SOFT
    if _MAILBOX_FULL.search(text):
        return SOFT
    if _POLICY.search(text):
        return BLOCKED
    return default
