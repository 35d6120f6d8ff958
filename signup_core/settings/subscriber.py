"""The subscriber's own controls (wt-subscriber): the preference page's links and "Join with
GitHub" (docs/subscriber.md, docs/github-join.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from signup_core.settings.service import Concern
from signup_core.settings.types import Duration, SecretText, var


class Subscriber(Concern, title="The subscriber's own controls"):
    manage_link_ttl: Duration = var(
        "SIGNUP_MANAGE_LINK_TTL",
        60 * 86400,
        "How long a mail's link to the preference page works.",
    )
    data_link_ttl: Duration = var(
        "SIGNUP_DATA_LINK_TTL", 3600, "How long a mailed link to download one's data works."
    )
    github_client_id: str | None = var(
        "SIGNUP_GITHUB_CLIENT_ID", None, "The GitHub OAuth app's client ID (unset: no GitHub join)."
    )
    github_client_secret: SecretText | None = var(
        "SIGNUP_GITHUB_CLIENT_SECRET", None, "The GitHub OAuth app's client secret."
    )

    @property
    def github_join(self) -> bool:
        return bool(self.github_client_id and self.github_client_secret)


def subscriber_problems(values: Mapping[str, Any]) -> list[str]:
    """GitHub join needs both halves of the OAuth app's credentials, or neither."""
    has_id = bool(values.get("github_client_id"))
    has_secret = bool(values.get("github_client_secret"))
    if has_id == has_secret:
        return []
    missing = "SIGNUP_GITHUB_CLIENT_SECRET" if has_id else "SIGNUP_GITHUB_CLIENT_ID"
    return [f"{missing} is required when the other SIGNUP_GITHUB_CLIENT_* variable is set"]
