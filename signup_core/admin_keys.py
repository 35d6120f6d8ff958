"""The service's own token-signing keys: an ES256 key pair per `kid` in a private JWKS file
(current first, then the previous one), the public half published at /.well-known/jwks.json,
and short-lived admin tokens minted with the current key for on-call."""

from __future__ import annotations

import datetime
import json
import os
import secrets
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jwt

from signup_core.settings import Settings

# Current and previous: a token signed just before a rotation stays valid until it expires.
KEEP = 2
MAX_TTL = 12 * 3600
SCOPES = ("signup:read", "signup:export", "signup:erase", "signup:admin")


def own_issuer(settings: Settings) -> str:
    return settings.admin_token_issuer or f"{settings.public_base_url}/admin"


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The private keys in the file, current first; none if it does not exist yet."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    keys = json.loads(text).get("keys", [])
    if not isinstance(keys, list):
        raise ValueError("the keys file holds no key list")
    return keys


def generate(path: str | os.PathLike[str], now: datetime.datetime) -> str:
    """Put a new ES256 key in front; the old current becomes previous; older ones go. Its kid."""
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    kid = f"{now:%Y%m%d}-{secrets.token_hex(4)}"
    entry = {**key.export_private(as_dict=True), "kid": kid, "alg": "ES256", "use": "sig"}
    keys = [entry, *read(path)][:KEEP]
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    # Private keys: readable by the owner only, replaced in one rename.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"keys": keys}, f, indent=2)
    os.replace(temporary, target)
    return kid


def public_jwks(path: str | os.PathLike[str]) -> dict[str, Any]:
    keys = []
    for entry in read(path):
        public = jwk.JWK(**entry).export_public(as_dict=True)
        keys.append({**public, "kid": entry["kid"], "alg": "ES256", "use": "sig"})
    return {"keys": keys}


def mint(
    settings: Settings,
    subject: str,
    scopes: list[str],
    ttl: int,
    now: datetime.datetime,
) -> str:
    """A signed admin token for `subject`, valid `ttl` seconds from `now`."""
    if not settings.admin_keys_file:
        raise ValueError("SIGNUP_ADMIN_KEYS_FILE is not set")
    keys = read(settings.admin_keys_file)
    if not keys:
        raise ValueError("no key yet: run `signupctl keys generate` first")
    current = keys[0]
    issued = int(now.timestamp())
    token = jwt.JWT(
        header={"alg": "ES256", "typ": "JWT", "kid": current["kid"]},
        claims={
            "iss": own_issuer(settings),
            "aud": settings.admin_audience,
            "sub": subject,
            "scope": " ".join(scopes),
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": secrets.token_hex(8),
        },
    )
    token.make_signed_token(jwk.JWK(**current))
    return token.serialize()
