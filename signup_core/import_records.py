"""The import's second pass, its CPU part: a spooled batch of checked rows made into the
staging table's records (blind indexes, sealed address and name, consent hashes, a fresh
unsubscribe id per row), a batch at a time, dealt to the lanes that insert them."""

from __future__ import annotations

import datetime
import os
import pickle
from typing import Any

from signup_core import consent, sealing
from signup_core.addresses import blind_indexes, keyed_hash
from signup_core.clock import iso_time
from signup_core.index_keys import index_keys
from signup_core.settings import Settings


class Sealer:
    """Turns a spooled batch into the staging table's records: blind indexes, sealed address
    and name, consent hashes and a fresh unsubscribe id per row."""

    def __init__(self, settings: Settings, now: datetime.datetime, lanes: int) -> None:
        self.lanes = lanes
        keys = index_keys(settings)
        self.index_key, self.held_key = keys.current, keys.held_key
        self.seal, self.now = settings.seal_keys, now
        self.ip_key = consent.ip_key(settings)[0]
        self.stated: dict[str, bytes] = {}

    def next_batch(self, spool: Any) -> list[list[tuple]] | None:
        """The next spooled batch's records, dealt to the lanes; None at the end."""
        try:
            batch = pickle.load(spool)  # noqa: S301 - our own spool, written by first_pass
        except EOFError:
            return None
        addresses, names, lists, locales, ats, sources, ips, _ = zip(*batch, strict=True)
        index = blind_indexes(self.index_key, addresses)
        held = index if self.held_key == self.index_key else blind_indexes(self.held_key, addresses)
        wording = [self._stated(s) for s in sources]
        ip_hashes = [
            keyed_hash(self.ip_key, "consent-ip", ip.encode()) if ip else None for ip in ips
        ]
        records = zip(
            lists,
            index,
            held,
            self.seal.seal_many(list(addresses), sealing.EMAIL),
            self.seal.seal_many(list(names), sealing.NAME),
            locales,
            [iso_time(at) if at else self.now for at in ats],
            wording,
            ip_hashes,
            _unsubscribe_ids(len(batch)),
            strict=True,
        )
        if self.lanes == 1:
            return [list(records)]
        dealt: list[list[tuple]] = [[] for _ in range(self.lanes)]
        for record in records:
            dealt[record[1][0] % self.lanes].append(record)  # by the blind index's first byte
        return dealt

    def _stated(self, source: str | None) -> bytes | None:
        if not source:
            return None
        found = self.stated.get(source)
        if found is None:
            found = self.stated[source] = consent.stated_hash(source)
        return found


# UUID version 4 marks (RFC 9562): the version nibble and the variant bits.
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))


def _unsubscribe_ids(n: int) -> list[str]:
    """n random version 4 UUIDs (as gen_random_uuid() makes), drawn in one os.urandom() call."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    text = raw.hex()
    return [text[at : at + 32] for at in range(0, 32 * n, 32)]
