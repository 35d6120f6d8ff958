"""How a transport says a send failed: worth retrying, or never."""

from __future__ import annotations


class TransientMailError(Exception):
    """Worth retrying later: 4xx replies, timeouts, lost connections."""


class PermanentMailError(Exception):
    """Retrying cannot help. `recipient`: the address itself was refused (so suppress it),
    rather than this message."""

    def __init__(self, reason: str, *, recipient: bool = False) -> None:
        super().__init__(reason)
        self.recipient = recipient
