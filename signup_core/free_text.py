"""What free text from outside (a name, a consent source) may not hold."""

from __future__ import annotations

import unicodedata

# Control, format and line/paragraph separator characters: they reorder or hide text where it
# is shown, break a header, and a NUL cannot even be stored (PostgreSQL text refuses it).
_CONTROLS = frozenset(("Cc", "Cf", "Zl", "Zp"))


def has_controls(text: str) -> bool:
    # isprintable() is false for each of them (and for spaces other than " "): the look-up per
    # character is only paid by text that is not plainly printable.
    return not text.isprintable() and any(unicodedata.category(c) in _CONTROLS for c in text)
