"""Bounce classification by the enhanced status code's meaning (RFC 3463), then the label."""

from __future__ import annotations

import pytest

from signup_core.providers.bounces import BLOCKED, HARD, OTHER, SOFT, classify


@pytest.mark.parametrize(
    ("status", "label", "kind"),
    [
        ("5.1.1", SOFT, HARD),  # bad mailbox: permanent whatever the provider calls it
        ("smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound", SOFT, HARD),
        ("5.2.1", SOFT, HARD),  # mailbox disabled
        ("5.2.2", HARD, SOFT),  # mailbox full: persistent, but transient
        ("4.2.2 mailbox full", HARD, SOFT),
        ("5.7.1", HARD, BLOCKED),  # policy: the sender's problem
        ("550 5.7.26 unauthenticated mail is prohibited", HARD, BLOCKED),
        ("4.7.0 greylisted", SOFT, BLOCKED),
        ("5.6.0 content rejected", HARD, OTHER),  # what we sent
        ("5.5.1 protocol", HARD, OTHER),
        ("5.4.4 unable to route", HARD, HARD),  # ambiguous subject: class says how lasting
        ("5.0.0", BLOCKED, BLOCKED),  # ... and the label whose fault
        ("4.4.7", HARD, SOFT),
        (None, BLOCKED, BLOCKED),  # no status: the label
        ("550 unknown user", HARD, HARD),
        ("connected to 5.1.1.3 port 25", SOFT, SOFT),  # an IP address is not a status
    ],
)
def test_classify(status, label, kind):
    assert classify(status, label) == kind


@pytest.mark.parametrize(
    ("status", "label", "kind"),
    [
        # An unspecific enhanced code: the basic code and the words decide
        ("smtp; 550 5.0.0 Requested action not taken: mailbox unavailable", OTHER, HARD),
        ("550 5.5.0 Requested action not taken: mailbox unavailable", OTHER, HARD),
        ("550 5.5.0 <a@example.com>: Recipient address rejected: User unknown", SOFT, HARD),
        ("550-5.0.0 No such user here", BLOCKED, HARD),
        ("450 4.0.0 mailbox unavailable, try later", OTHER, SOFT),
        ("552 5.0.0 Mailbox full", HARD, SOFT),
        ("554 5.0.0 Message rejected: listed on a blocklist", HARD, BLOCKED),
        ("550 5.5.0 syntax error", HARD, OTHER),  # still a protocol matter
        ("5.0.0", OTHER, OTHER),  # nothing more to go on
        # No enhanced code and no type from the provider: the basic code and the words
        ("550 Requested action not taken: mailbox unavailable", OTHER, HARD),
        ("550 Sorry, no mailbox here by that name", OTHER, OTHER),  # unknown words
        ("421 mailbox unavailable", OTHER, SOFT),
        ("mailbox unavailable", OTHER, OTHER),  # no code at all
    ],
)
def test_unspecific_codes_fall_back_on_the_basic_code_and_the_words(status, label, kind):
    assert classify(status, label) == kind
