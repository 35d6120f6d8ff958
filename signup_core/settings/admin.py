"""The admin API's own listener (docs/admin-api.md): off unless SIGNUP_ADMIN_PORT is set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signup_core.settings.service import Concern
from signup_core.settings.types import (
    Algorithms,
    Date,
    JwksLocation,
    Key,
    PositiveInt,
    Rate,
    RateLimit,
    var,
)


class Admin(Concern, title="Admin API"):
    admin_port: PositiveInt | None = var(
        "SIGNUP_ADMIN_PORT",
        None,
        "The admin listener's port (unset: off); must differ from PORT and the metrics port.",
    )
    admin_host: str | None = var("SIGNUP_ADMIN_HOST", None, "Its interface (unset: HOST).")
    admin_jwks: JwksLocation | None = var(
        "SIGNUP_ADMIN_JWKS", None, "The identity provider's JWKS: an https URL or a file."
    )
    admin_issuer: str | None = var(
        "SIGNUP_ADMIN_JWT_ISSUER", None, "Its `iss`; required with the JWKS or the HS256 secret."
    )
    admin_audience: str = var(
        "SIGNUP_ADMIN_JWT_AUDIENCE", "signet-signup-admin", "The `aud` every token must hold."
    )
    admin_algorithms: Algorithms = var(
        "SIGNUP_ADMIN_JWT_ALGORITHMS", ("ES256", "RS256"), "Asymmetric algorithms accepted."
    )
    admin_leeway: int = var("SIGNUP_ADMIN_JWT_LEEWAY", 30, "Seconds of clock skew allowed (0-300).")
    admin_hs256_secret: Key | None = var(
        "SIGNUP_ADMIN_HS256_SECRET", None, "The legacy shared HS256 secret, during its grace."
    )
    admin_hs256_until: Date | None = var(
        "SIGNUP_ADMIN_HS256_UNTIL",
        None,
        "The last day (UTC) HS256 is accepted; required with the secret.",
    )
    admin_keys_file: str | None = var(
        "SIGNUP_ADMIN_KEYS_FILE", None, "This service's private signing keys (JWKS, mode 0600)."
    )
    admin_token_issuer: str | None = var(
        "SIGNUP_ADMIN_TOKEN_ISSUER",
        None,
        "`iss` of tokens `signupctl token` mints (unset: PUBLIC_BASE_URL/admin).",
    )
    admin_rate: RateLimit = var(
        "SIGNUP_ADMIN_RATE_LIMIT", Rate(120, 60), "Admin calls per token subject."
    )


def admin_problems(values: Mapping[str, Any]) -> list[str]:
    """What the admin listener cannot work without; nothing when it is off. `values` holds the
    fields that parsed (a bad one is reported on its own and left out here)."""
    if values.get("admin_port") is None:
        return []
    get = values.get
    errors = []
    if get("admin_port") in (get("port", 8000), get("metrics_port", 9181)):
        errors.append("SIGNUP_ADMIN_PORT must differ from PORT and SIGNUP_METRICS_PORT")
    if not (get("admin_jwks") or get("admin_keys_file") or get("admin_hs256_secret")):
        errors.append(
            "SIGNUP_ADMIN_PORT needs SIGNUP_ADMIN_JWKS, SIGNUP_ADMIN_KEYS_FILE"
            " or SIGNUP_ADMIN_HS256_SECRET"
        )
    if get("admin_jwks") and not get("admin_issuer"):
        errors.append("SIGNUP_ADMIN_JWT_ISSUER is required with SIGNUP_ADMIN_JWKS")
    if get("admin_hs256_secret") and not get("admin_hs256_until"):
        errors.append("SIGNUP_ADMIN_HS256_UNTIL is required with SIGNUP_ADMIN_HS256_SECRET")
    if get("admin_hs256_secret") and not get("admin_issuer"):
        errors.append("SIGNUP_ADMIN_JWT_ISSUER is required with SIGNUP_ADMIN_HS256_SECRET")
    if not 0 <= get("admin_leeway", 30) <= 300:
        errors.append("SIGNUP_ADMIN_JWT_LEEWAY must be between 0 and 300 seconds")
    return errors
