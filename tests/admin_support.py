"""Keys, tokens and an admin app for the admin API tests: real keys made here with jwcrypto,
the identity provider's JWKS served by respx."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from jwcrypto import jwk, jwt

from signup_core.clock import FixedClock

JWKS_URL = "https://idp.test/.well-known/jwks.json"
ISSUER = "https://idp.test/"
AUDIENCE = "signet-signup-admin"
HS256_SECRET = "legacy-shared-secret-of-the-platform-0123456789"
NOW = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=datetime.UTC)


def admin_env(env: dict[str, str], **overrides: str) -> dict[str, str]:
    return {
        **env,
        "SIGNUP_ADMIN_PORT": "9443",
        "SIGNUP_ADMIN_JWKS": JWKS_URL,
        "SIGNUP_ADMIN_JWT_ISSUER": ISSUER,
        "SIGNUP_ADMIN_HS256_SECRET": HS256_SECRET,
        "SIGNUP_ADMIN_HS256_UNTIL": "2026-06-30",
        **overrides,
    }


def ec_key(kid: str) -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv="P-256", kid=kid, alg="ES256")


def rsa_key(kid: str) -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid=kid, alg="RS256")


def jwks(*keys: jwk.JWK) -> dict[str, Any]:
    return {"keys": [k.export_public(as_dict=True) for k in keys]}


def claims(now: datetime.datetime = NOW, **overrides: Any) -> dict[str, Any]:
    t = int(now.timestamp())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "oncall@example.org",
        "scope": "signup:read signup:export signup:erase signup:admin",
        "iat": t,
        "nbf": t,
        "exp": t + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: jwk.JWK, alg: str | None = None, kid: Any = "key", **claim_overrides: Any) -> str:
    """A token signed with `key`; kid defaults to the key's own (None leaves it out)."""
    alg = alg or key.get("alg")
    header = {"alg": alg, "typ": "JWT"}
    kid = key.get("kid") if kid == "key" else kid
    if kid is not None:
        header["kid"] = kid
    token = jwt.JWT(header=header, claims=claims(**claim_overrides))
    token.make_signed_token(key)
    return token.serialize()


def sign_raw(key: jwk.JWK, **raw_claims: str) -> str:
    """A token whose payload has some claims spliced in as raw JSON text: `1e400`, `NaN`,
    `"\\ud800"`, which json.dumps would never write as such."""
    payload = json.dumps({**claims(), **{k: f"@{k}@" for k in raw_claims}})
    for name, raw in raw_claims.items():
        payload = payload.replace(f'"@{name}@"', raw)
    token = jwt.JWT(header={"alg": key.get("alg"), "typ": "JWT", "kid": key.get("kid")})
    token.claims = payload
    token.make_signed_token(key)
    return token.serialize()


def hs256(secret: bytes, kid: str | None = None, **claim_overrides: Any) -> str:
    key = jwk.JWK(kty="oct", k=base64.urlsafe_b64encode(secret).rstrip(b"=").decode())
    return sign(key, "HS256", kid=kid, **claim_overrides)


def unsigned(**claim_overrides: Any) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'kid': 'es'})}.{part(claims(**claim_overrides))}."


def tampered(token: str, **claim_overrides: Any) -> str:
    head, _, rest = token.partition(".")
    _, _, signature = rest.partition(".")
    body = base64.urlsafe_b64encode(json.dumps(claims(**claim_overrides)).encode())
    return f"{head}.{body.rstrip(b'=').decode()}.{signature}"


@asynccontextmanager
async def admin_client(settings: Any, clock: FixedClock) -> AsyncIterator[httpx.AsyncClient]:
    from signup_api.admin.app import create_admin_app

    app = create_admin_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://admin.test") as c:
            yield c


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
