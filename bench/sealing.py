"""Sealing candidates per signup (an address and a name): AES-256-GCM in the service's own
envelope (signup_core.sealing) against JWE compact, alg dir + enc A256GCM (jwcrypto).

    .venv/bin/python -m bench.sealing
"""

from __future__ import annotations

import json
import timeit

from jwcrypto import jwe, jwk

from signup_core import sealing

ADDRESS, NAME = "someone.with.a.long.name@example.com", "Ada Lovelace"
N = 20_000


def _per_call_us(stmt) -> float:
    best = min(timeit.repeat(stmt, number=N, repeat=5))
    return best / N * 1e6


def main() -> None:
    keys = sealing.parse_keyring("k1:" + "A" * 43)
    sealed = keys.seal(ADDRESS, sealing.EMAIL)
    key = jwk.JWK.generate(kty="oct", size=256, kid="k1")

    def jwe_seal(value: str, purpose: str) -> str:
        # The purpose goes in the protected header, which JWE authenticates.
        header = {"alg": "dir", "enc": "A256GCM", "kid": "k1", "p": purpose}
        token = jwe.JWE(value.encode(), protected=json.dumps(header))
        token.add_recipient(key)
        return token.serialize(compact=True)

    def jwe_open(token: str) -> str:
        opened = jwe.JWE()
        opened.deserialize(token, key=key)
        return opened.payload.decode()

    compact = jwe_seal(ADDRESS, sealing.EMAIL)
    figures = {
        "envelope_seal_us": _per_call_us(lambda: keys.seal(ADDRESS, sealing.EMAIL)),
        "envelope_open_us": _per_call_us(lambda: keys.unseal(sealed, sealing.EMAIL)),
        "envelope_bytes": len(sealed),
        "jwe_seal_us": _per_call_us(lambda: jwe_seal(ADDRESS, sealing.EMAIL)),
        "jwe_open_us": _per_call_us(lambda: jwe_open(compact)),
        "jwe_bytes": len(compact),
    }
    # A signup seals two values (address and name).
    figures["envelope_per_signup_us"] = 2 * figures["envelope_seal_us"]
    figures["jwe_per_signup_us"] = 2 * figures["jwe_seal_us"]
    print(json.dumps({k: round(v, 2) for k, v in figures.items()}, indent=2))


if __name__ == "__main__":
    main()
