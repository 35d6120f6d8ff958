"""How SMTP failures are sorted: what a retry can fix, what it cannot, and whose fault."""

from __future__ import annotations

import aiosmtplib
import pytest

from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.smtp_transport import classify


@pytest.mark.parametrize(
    ("error", "kind", "recipient", "reason"),
    [
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"),
            TransientMailError,
            None,
            "smtp auth 535",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@b.c")]),
            PermanentMailError,
            True,
            "smtp 550",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused(
                [aiosmtplib.SMTPRecipientRefused(450, "busy", "a@b.c")]
            ),
            TransientMailError,
            None,
            "smtp 450",
        ),
        # A 5xx outside the recipient step refuses our sender, login or message: ours to fix.
        (
            aiosmtplib.SMTPSenderRefused(550, "5.7.1 sender not allowed", "a@b.c"),
            TransientMailError,
            None,
            "smtp sender 550",
        ),
        (
            aiosmtplib.SMTPDataError(554, "5.7.1 content rejected"),
            TransientMailError,
            None,
            "smtp data 554",
        ),
        (aiosmtplib.SMTPHeloError(502, "no EHLO"), TransientMailError, None, "smtp relay 502"),
        # ...unless its enhanced status says the mailbox: the recipient's, said after DATA.
        (
            aiosmtplib.SMTPDataError(550, "5.1.1 no such mailbox"),
            PermanentMailError,
            False,
            "smtp 550",
        ),
        (
            aiosmtplib.SMTPResponseException(451, "4.3.0 later"),
            TransientMailError,
            None,
            "smtp 451",
        ),
        (aiosmtplib.SMTPConnectError("refused"), TransientMailError, None, "SMTPConnectError"),
        (TimeoutError(), TransientMailError, None, "TimeoutError"),
    ],
)
def test_classify(error, kind, recipient, reason):
    result = classify(error)
    assert isinstance(result, kind)
    assert str(result) == reason
    if recipient is not None:
        assert result.recipient is recipient
    assert "a@b.c" not in str(result)  # what is logged and stored never names the recipient


def test_a_refusal_of_ours_is_logged_with_its_reason_and_no_address(caplog):
    classify(aiosmtplib.SMTPSenderRefused(550, "5.7.1 not allowed", "noreply@ours.example"))
    [record] = caplog.records
    assert record.levelname == "WARNING" and record.failure == "smtp sender 550"
    assert "noreply@ours.example" not in record.getMessage()
