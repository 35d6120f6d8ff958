"""How SMTP failures are sorted: what a retry can fix, what it cannot, and whose fault."""

from __future__ import annotations

import aiosmtplib
import pytest

from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.smtp_transport import classify


@pytest.mark.parametrize(
    ("error", "kind", "recipient"),
    [
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"),
            TransientMailError,
            None,
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", "a@b.c")]),
            PermanentMailError,
            True,
        ),
        (aiosmtplib.SMTPDataError(554, "5.7.1 content rejected"), PermanentMailError, False),
        (aiosmtplib.SMTPResponseException(451, "4.3.0 later"), TransientMailError, None),
        (aiosmtplib.SMTPConnectError("refused"), TransientMailError, None),
        (TimeoutError(), TransientMailError, None),
    ],
)
def test_classify(error, kind, recipient):
    result = classify(error)
    assert isinstance(result, kind)
    if recipient is not None:
        assert result.recipient is recipient
    assert "a@b.c" not in str(result)  # what is logged and stored never names the recipient
