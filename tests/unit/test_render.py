"""Mail rendering and its MIME form: both parts, our Message-ID, one-click unsubscribe
headers, and no way for user input to add headers."""

from __future__ import annotations

import base64
import email
import email.policy

import pytest

from signup_core.mail.mime import POLICY, NeedsSmtpUtf8, to_bytes
from signup_core.mail.postmark import to_api
from signup_core.mail.render import Envelope, render

ENVELOPE = Envelope(
    to_address="ada@example.com",
    to_name="Ada",
    sender="News <news@example.org>",
    reply_to="help@example.org",
    unsubscribe_url="https://x/unsubscribe?token=u",
    domain="example.org",
)
CONTEXT = {
    "name": "Ada",
    "list_name": "news",
    "confirm_url": "https://x/confirm?token=t",
    "ttl_hours": 48,
}


def parsed(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_confirmation_has_text_and_html_and_our_headers():
    msg = parsed(to_bytes(render("confirmation", "en", ENVELOPE, CONTEXT)))
    assert msg["Subject"] == "Confirm your subscription to news"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Reply-To"] == "help@example.org"
    assert msg["List-Unsubscribe"] == "<https://x/unsubscribe?token=u>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://x/confirm?token=t" in msg.get_body(("plain",)).get_content()
    assert 'href="https://x/confirm?token=t"' in msg.get_body(("html",)).get_content()


def test_non_ascii_subject_name_and_domain_survive_the_trip():
    envelope = Envelope(
        **{**ENVELOPE.__dict__, "to_name": "Jörg Ölmann", "to_address": "joerg@bücher.de"}
    )
    msg = parsed(to_bytes(render("welcome", "de", envelope, {**CONTEXT, "name": "Jörg"})))
    assert msg["Subject"] == "Willkommen bei news"
    assert msg["To"].addresses[0].display_name == "Jörg Ölmann"
    assert msg["To"].addresses[0].domain == "xn--bcher-kva.de"
    assert "Hallo Jörg" in msg.get_body(("plain",)).get_content()


def test_html_part_escapes_the_name():
    msg = parsed(to_bytes(render("welcome", "en", ENVELOPE, {**CONTEXT, "name": "<b>x</b>"})))
    html = msg.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


@pytest.mark.parametrize(
    "name", ["Eve\r\nBcc: victim@example.com", "Eve\nX-Evil: 1", "Eve\rX-Evil: 1"]
)
def test_name_cannot_inject_headers(name):
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_name": name})
    raw = to_bytes(render("welcome", "en", envelope, {**CONTEXT, "name": name}))
    head = raw.split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in head and b"\nX-Evil:" not in head
    assert parsed(raw)["Bcc"] is None and parsed(raw)["X-Evil"] is None


def test_postmark_gets_the_same_parts_and_headers():
    body = to_api(render("confirmation", "en", ENVELOPE, CONTEXT), "outbound")
    assert body["To"] == '"Ada" <ada@example.com>' and body["ReplyTo"] == "help@example.org"
    headers = {h["Name"]: h["Value"] for h in body["Headers"]}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://x/confirm?token=t" in body["TextBody"]


def test_unknown_locale_falls_back_to_english():
    assert render("welcome", "xx", ENVELOPE, CONTEXT).subject == "Welcome to news"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "Confirm your subscription to news"),
        ("From", "News <news@example.org>"),
        ("To", "ada@example.com"),
        ("Date", "Mon, 23 Nov 2026 11:18:45 -0000"),
        ("X-Exactly-78", "x" * (78 - len("X-Exactly-78: "))),
        ("X-One-Over", "x" * (79 - len("X-One-Over: "))),
        ("List-Unsubscribe", "<https://x.example/unsubscribe?s=" + "a" * 90 + ">"),
        ("X-Spaces", "a  b   c"),
        ("Subject", "Grüße aus Köln"),
        ("X-Tab", "a\tb"),
    ],
)
def test_the_header_fold_short_cut_writes_what_compat32_writes(name, value):
    assert POLICY.fold_binary(name, value) == email.policy.compat32.fold_binary(name, value)


def test_the_boundary_is_ours_and_absent_from_both_parts():
    raw = to_bytes(render("confirmation", "en", ENVELOPE, CONTEXT))
    msg = parsed(raw)
    boundary = msg.get_boundary()
    assert boundary.startswith("=_") and len(boundary) == 34
    assert raw.count(boundary.encode()) == 4  # the header, two separators, the closing one
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "base64" for p in msg.iter_parts())
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_parts())


def test_the_domain_goes_out_in_its_idna_2008_form():
    # IDNA 2003 (Python's "idna" codec) maps ß to ss: another domain, someone else's mailbox.
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_address": "leser@straße.de"})
    msg = parsed(to_bytes(render("welcome", "de", envelope, CONTEXT)))
    assert msg["To"].addresses[0].addr_spec == "leser@xn--strae-oqa.de"


@pytest.mark.parametrize(
    "name",
    [
        "=?utf-8?b?PGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?=",  # decodes to <attacker@evil.example>
        "Eve =?utf-8?q?=3Cattacker=40evil=2Eexample=3E?=",
        "Jörg =?utf-8?b?PGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?=",
    ],
)
def test_a_name_written_as_an_encoded_word_shows_as_typed(name):
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_name": name})
    raw = to_bytes(render("welcome", "en", envelope, CONTEXT))
    [to] = parsed(raw)["To"].addresses
    assert to.display_name == name and to.addr_spec == "ada@example.com"
    assert b"attacker" not in raw.split(b"\n\n", 1)[0]


def test_a_non_ascii_local_part_goes_out_as_raw_utf8_only_with_smtputf8():
    envelope = Envelope(
        **{**ENVELOPE.__dict__, "to_address": "jürgen@bücher.de", "to_name": "Jürgen Ölmann"}
    )
    mail = render("welcome", "de", envelope, CONTEXT)
    with pytest.raises(NeedsSmtpUtf8):
        to_bytes(mail)
    raw = to_bytes(mail, utf8=True)
    assert "jürgen@xn--bcher-kva.de>".encode() in raw  # RFC 6532: no encoded word around it
    msg = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    [to] = msg["To"].addresses
    assert to.display_name == "Jürgen Ölmann" and to.addr_spec == "jürgen@xn--bcher-kva.de"
    assert "Hallo Ada" in msg.get_body(("plain",)).get_content()


def test_postmark_encodes_an_encoded_word_name_and_refuses_a_non_ascii_local_part():
    name = "=?utf-8?b?PGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?="
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_name": name})
    to = to_api(render("welcome", "en", envelope, CONTEXT), "outbound")["To"]
    header = email.policy.default.header_factory("To", to)
    assert header.addresses[0].display_name == name
    envelope = Envelope(**{**ENVELOPE.__dict__, "to_address": "jürgen@example.com"})
    with pytest.raises(ValueError):
        to_api(render("welcome", "en", envelope, CONTEXT), "outbound")


def test_every_mail_of_a_list_names_it_in_list_id():
    envelope = Envelope(**{**ENVELOPE.__dict__, "list_name": "news", "list_title": "Weekly News"})
    for kind in ("confirmation", "welcome", "unsubscribed", "already_subscribed"):
        msg = parsed(to_bytes(render(kind, "en", envelope, CONTEXT)))
        assert msg["List-Id"] == '"Weekly News" <news.example.org>'


@pytest.mark.parametrize(
    ("key", "title", "expected"),
    [
        ("news letter", 'A "quoted"\r\nBcc: x@y', '"A quoted Bcc: x@y" <news-letter.example.org>'),
        ("bücher", "Bücher", '"Bücher" <b-cher.example.org>'),
    ],
)
def test_list_id_stays_one_header_with_a_dot_atom_id(key, title, expected):
    envelope = Envelope(**{**ENVELOPE.__dict__, "list_name": key, "list_title": title})
    msg = parsed(to_bytes(render("welcome", "en", envelope, CONTEXT)))
    assert str(msg["List-Id"]) == expected
    assert msg["Bcc"] is None


def test_which_template_serves_a_part_is_looked_up_on_disk_once(tmp_path, monkeypatch):
    # Given a site's template folder without a confirmation of its own, and a count of the
    # loader's visits to the disk
    import jinja2

    visits = []
    get_source = jinja2.FileSystemLoader.get_source

    def counted(self, environment, template):
        visits.append(template)
        return get_source(self, environment, template)

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", counted)
    render("confirmation", "en", ENVELOPE, CONTEXT, templates_dir=str(tmp_path))
    assert visits  # the first mail finds its templates
    visits.clear()
    # When a second mail of that kind and locale is rendered
    render("confirmation", "en", ENVELOPE, CONTEXT, templates_dir=str(tmp_path))
    # Then nothing is looked for on disk again (not even the <kind>/<locale>/ folder that
    # is not there)
    assert visits == []


@pytest.mark.parametrize(
    ("name", "subject", "reply_to", "utf8"),
    [
        ("Ada", "Confirm your subscription", None, False),
        ("Zoë Ünï " * 12, "Bestätigen Sie ✓ " * 8, '"Ünï Team" <r@example.org>', False),
        ('A "quoted" <odd>', "S" * 120, "help@example.org", True),
        (None, "=?utf-8?q?x?=", None, True),
    ],
)
def test_the_mime_bytes_are_what_the_email_package_writes(
    monkeypatch, name, subject, reply_to, utf8
):
    # Given a mail, and the email package's own generator building the same layout (the
    # boundary fixed, so the two can be compared byte for byte)
    import dataclasses
    from email.mime.multipart import MIMEMultipart
    from email.mime.nonmultipart import MIMENonMultipart

    from signup_core.mail import mime

    monkeypatch.setattr(mime.secrets, "token_hex", lambda n: "ab" * n)
    envelope = dataclasses.replace(
        ENVELOPE,
        to_address="zoë@example.com" if utf8 else "ada@example.com",
        to_name=name,
        reply_to=reply_to,
        list_name="news",
        list_title="News",
    )
    mail = dataclasses.replace(render("confirmation", "en", envelope, CONTEXT), subject=subject)
    message = MIMEMultipart("alternative", boundary="=_" + "ab" * 16)
    message["Subject"] = mime._text(mail.subject)
    message["From"] = mime._operator_mailbox(envelope.sender)
    message["To"] = mime.mailbox(name, envelope.to_address)
    if reply_to:
        message["Reply-To"] = mime._operator_mailbox(reply_to)
    for header, value in mail.headers():
        message[header] = value
    for body, subtype in ((mail.text, "plain"), (mail.html, "html")):
        part = MIMENonMultipart("text", subtype, charset="utf-8")
        del part["MIME-Version"]
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(base64.encodebytes(body.encode()).decode())
        message.attach(part)
    expected = message.as_bytes(policy=mime.UTF8_POLICY if utf8 else POLICY)
    # Then the hand-written bytes are the generator's
    assert to_bytes(mail, utf8=utf8) == expected
