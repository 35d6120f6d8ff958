"""The GitHub side of "Join with GitHub": OAuth 2 authorisation code with PKCE (S256) and a
`state` bound to the browser by a signed, short-lived cookie, then the visitor's primary
address and whether GitHub verified it. A few calls with httpx; the access token lives in one
local variable for one request and is never stored or logged."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from signup_core.clock import Clock
from signup_core.settings import Settings

AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
TOKEN_URL = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL
EMAILS_URL = "https://api.github.com/user/emails"
SCOPE = "user:email"  # the addresses and their verified flags; nothing else
SALT = "signet-signup.github-state"
STATE_TTL = 600  # a sign-in not finished in ten minutes starts again


class Refused(Exception):
    """GitHub said no: a code used before or expired, a verifier that does not match."""


class Unavailable(Exception):
    """GitHub did not answer, or not in a way we understand."""


@dataclass(frozen=True)
class Flow:
    """One sign-in in progress: what the cookie carries between the start and the callback."""

    state: str
    verifier: str
    list_name: str
    locale: str


@dataclass(frozen=True)
class Address:
    email: str
    verified: bool


def begin(list_name: str, locale: str) -> Flow:
    # 43 and 86 URL-safe characters: RFC 7636 asks for a verifier of 43 to 128.
    return Flow(secrets.token_urlsafe(32), secrets.token_urlsafe(64), list_name, locale)


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_base_url}/github/callback"


def authorize_url(settings: Settings, flow: Flow) -> str:
    query = {
        "client_id": settings.github_client_id,
        "redirect_uri": redirect_uri(settings),
        "scope": SCOPE,
        "state": flow.state,
        "code_challenge": challenge(flow.verifier),
        "code_challenge_method": "S256",
    }
    return f"{AUTHORIZE_URL}?{urlencode(query)}"


def _serializer(settings: Settings, clock: Clock) -> URLSafeTimedSerializer:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(settings.signing_key.value, salt=SALT, signer=Signer)


def seal(settings: Settings, flow: Flow, clock: Clock) -> str:
    values = [flow.state, flow.verifier, flow.list_name, flow.locale]
    return str(_serializer(settings, clock).dumps(values))


def unseal(settings: Settings, value: str | None, clock: Clock) -> Flow | None:
    """The flow a cookie carries, or None when it is missing, forged or too old."""
    if not value:
        return None
    try:
        values = _serializer(settings, clock).loads(value, max_age=STATE_TTL)
    except BadSignature:  # SignatureExpired included
        return None
    if not (
        isinstance(values, list) and len(values) == 4 and all(isinstance(v, str) for v in values)
    ):
        return None
    return Flow(*values)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise Unavailable(f"not JSON (HTTP {response.status_code})") from None


async def address(
    http: httpx.AsyncClient, settings: Settings, code: str, verifier: str
) -> Address | None:
    """The primary address of the account that signed in, or None when it has none."""
    assert settings.github_client_secret is not None
    try:
        answer = await http.post(
            TOKEN_URL,
            data={
                "client_id": settings.github_client_id,
                "client_secret": settings.github_client_secret.value,
                "code": code,
                "redirect_uri": redirect_uri(settings),
                "code_verifier": verifier,
            },
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as e:
        raise Unavailable(type(e).__name__) from None
    if answer.status_code >= 500 or answer.status_code == 429:
        raise Unavailable(f"token endpoint HTTP {answer.status_code}")
    grant = _json(answer)
    # GitHub answers a bad code with 200 and {"error": "bad_verification_code"}.
    if not isinstance(grant, dict) or not isinstance(grant.get("access_token"), str):
        error = grant.get("error") if isinstance(grant, dict) else None
        if error:
            raise Refused(str(error)[:60])
        raise Unavailable(f"token endpoint HTTP {answer.status_code} without a token")
    return await _primary(http, grant["access_token"])


async def _primary(http: httpx.AsyncClient, token: str) -> Address | None:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    try:
        answer = await http.get(EMAILS_URL, headers=headers)
    except httpx.HTTPError as e:
        raise Unavailable(type(e).__name__) from None
    if answer.status_code in (401, 403, 404):
        raise Refused(f"emails HTTP {answer.status_code}")
    if answer.status_code != 200:
        raise Unavailable(f"emails HTTP {answer.status_code}")
    emails = _json(answer)
    if not isinstance(emails, list):
        raise Unavailable("emails is not a list")
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") and isinstance(entry.get("email"), str):
            return Address(entry["email"], entry.get("verified") is True)
    return None
