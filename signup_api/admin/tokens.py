"""Bearer tokens of the admin API, checked before anything else runs.

ES256 / RS256 tokens must name their key (`kid`), found in the identity provider's JWKS or in
this service's own keys, and the algorithm must be the key's. HS256 (the platform's legacy
shared secret) verifies only against that secret, never against a public key (algorithm
confusion), and only through SIGNUP_ADMIN_HS256_UNTIL. `none` and anything else are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from jwcrypto import jwk, jwt
from jwcrypto.common import JWException

from signup_api import metrics
from signup_api.admin.jwks import KeySource
from signup_core.clock import Clock
from signup_core.settings import Settings

# What each algorithm's key must be.
_KEY_TYPES = {"ES256": ("EC", "P-256"), "RS256": ("RSA", None)}
MAX_TOKEN_BYTES = 8 * 1024
MIN_RSA_BITS = 2048


class Refused(Exception):
    """The token does not authenticate (401) or does not allow the call (403)."""

    def __init__(self, status: int, detail: str, reason: str) -> None:
        super().__init__(detail)
        self.status, self.detail, self.reason = status, detail, reason


@dataclass(frozen=True)
class Principal:
    subject: str
    scopes: frozenset[str]
    algorithm: str


@dataclass(frozen=True)
class Trusted:
    """A key source and the one issuer whose tokens its keys may verify."""

    issuer: str
    keys: KeySource


class Verifier:
    def __init__(
        self,
        settings: Settings,
        sources: list[Trusted],
        clock: Clock,
    ) -> None:
        self.sources = sources
        self.clock = clock
        self.audience = settings.admin_audience
        self.algorithms = frozenset(settings.admin_algorithms)
        self.leeway = settings.admin_leeway
        self.hs256 = (
            jwk.JWK(kty="oct", k=_b64(settings.admin_hs256_secret.bytes()))
            if settings.admin_hs256_secret
            else None
        )
        self.hs256_until = settings.admin_hs256_until
        self.hs256_issuers = {settings.admin_issuer} if settings.admin_issuer else set()

    async def verify(self, authorization: str | None) -> Principal:
        """The token's principal; raises Refused. Counts every token by algorithm."""
        try:
            principal = await self._verify(authorization)
        except Refused as e:
            metrics.ADMIN_TOKENS.labels(_algorithm_label(authorization), e.reason).inc()
            raise
        metrics.ADMIN_TOKENS.labels(principal.algorithm, "accepted").inc()
        return principal

    async def _verify(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Refused(401, "An Authorization: Bearer token is required.", "missing")
        scheme, _, raw = authorization.partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            raise Refused(401, "Use the Bearer scheme.", "malformed")
        if len(raw) > MAX_TOKEN_BYTES:
            raise Refused(401, "The token is too large.", "malformed")
        header = _header(raw)
        alg = header.get("alg")
        if alg == "HS256":
            return self._legacy(raw)
        if alg not in self.algorithms:
            raise Refused(401, f"Tokens signed with {_shown(alg)} are not accepted.", "algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Refused(401, "The token names no key (kid).", "kid")
        for source in self.sources:
            key = await source.keys.get(kid)
            if key is not None:
                _key_fits(key, alg)
                claims = self._signed(raw, key, alg)
                return self._claims(claims, {source.issuer}, alg)
        raise Refused(401, "The token's key (kid) is not known.", "unknown-kid")

    def _legacy(self, raw: str) -> Principal:
        if self.hs256 is None or self.hs256_until is None:
            raise Refused(401, "Tokens signed with HS256 are not accepted.", "algorithm")
        if self.clock.now().date() > self.hs256_until:
            raise Refused(
                401,
                f"HS256 tokens were accepted until {self.hs256_until.isoformat()};"
                " use an ES256 token from the identity provider.",
                "hs256-ended",
            )
        return self._claims(self._signed(raw, self.hs256, "HS256"), self.hs256_issuers, "HS256")

    def _signed(self, raw: str, key: jwk.JWK, alg: str) -> dict[str, Any]:
        try:
            token = jwt.JWT(jwt=raw, key=key, algs=[alg], check_claims=False, expected_type="JWS")
            claims = json.loads(token.claims)
        except (JWException, ValueError, TypeError):
            raise Refused(401, "The token's signature does not verify.", "signature") from None
        if not isinstance(claims, dict):
            raise Refused(401, "The token's payload is not a claim set.", "claims")
        return claims

    def _claims(self, claims: dict[str, Any], issuers: set[str], alg: str) -> Principal:
        now = self.clock.now().timestamp()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not _number(exp):
            raise Refused(401, "The token has no expiry (exp) in whole seconds.", "claims")
        if now > exp + self.leeway:
            raise Refused(401, "The token has expired.", "expired")
        if nbf is not None and (not _number(nbf) or now + self.leeway < nbf):
            raise Refused(401, "The token is not valid yet (nbf).", "not-yet-valid")
        if iat is not None and (not _number(iat) or iat > now + self.leeway):
            raise Refused(401, "The token was issued in the future (iat).", "not-yet-valid")
        if claims.get("iss") not in issuers:
            raise Refused(401, "The token's issuer (iss) is not trusted.", "issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise Refused(401, "The token is not meant for this service (aud).", "audience")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise Refused(401, "The token names no subject (sub).", "claims")
        if not _text(subject):
            # It becomes the audit trail's actor: a lone surrogate cannot be stored (or logged).
            raise Refused(401, "The token's subject (sub) is not text.", "claims")
        return Principal(subject, _scopes(claims), alg)


def allows(principal: Principal, scope: str) -> bool:
    """signup:admin holds every other scope."""
    return scope in principal.scopes or "signup:admin" in principal.scopes


def _header(raw: str) -> dict[str, Any]:
    parts = raw.split(".")
    if len(parts) != 3:
        raise Refused(401, "The token is not a signed JWT.", "malformed")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Refused(401, "The token's header is unreadable.", "malformed") from None
    if not isinstance(header, dict):
        raise Refused(401, "The token's header is unreadable.", "malformed")
    return header


def _algorithm_label(authorization: str | None) -> str:
    try:
        alg = _header((authorization or "").partition(" ")[2].strip()).get("alg")
    except Refused:
        return "unreadable"
    return alg if alg in metrics.ADMIN_ALGORITHMS else "other"


def _key_fits(key: jwk.JWK, alg: str) -> None:
    kty, crv = _KEY_TYPES[alg]
    declared = key.get("alg")
    if key.get("kty") != kty or (crv and key.get("crv") != crv) or declared not in (None, alg):
        raise Refused(401, "The token's algorithm is not its key's.", "algorithm")
    if kty == "RSA":
        n = key.get("n")
        modulus = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
        if len(modulus.lstrip(b"\0")) * 8 < MIN_RSA_BITS:
            raise Refused(401, "The token's RSA key is too short.", "algorithm")


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(s for s in value if isinstance(s, str))
    return frozenset()


# A time claim is whole seconds between 1970 and the year 9999: not a float (1e400 reads as
# infinity, NaN compares false with everything, so neither would ever expire), not a bool.
_LAST_SECOND = 253_402_300_799


def _number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LAST_SECOND


def _text(value: str) -> bool:
    """Encodable as UTF-8 and free of control characters."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return value.isprintable()


def _shown(alg: Any) -> str:
    # Echo only a short, printable name: the header is the caller's text.
    return alg if isinstance(alg, str) and alg.isalnum() and len(alg) <= 10 else "that algorithm"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
