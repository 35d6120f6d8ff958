"""How a transport says a send failed: worth retrying, or never."""

from __future__ import annotations


class TransientMailError(Exception):
    """Worth retrying later: 4xx replies, timeouts, lost connections. `retry_after`: seconds
    the provider asked us to wait (a rate limit's reset), when it said."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentMailError(Exception):
    """Retrying cannot help. `recipient`: the address itself was refused (so suppress it),
    rather than this message."""

    def __init__(self, reason: str, *, recipient: bool = False) -> None:
        super().__init__(reason)
        self.recipient = recipient
