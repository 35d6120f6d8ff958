"""normalise()'s fast path for plain ASCII addresses gives exactly what validate_email gives:
the same stored form for what it accepts, the same refusal (and message) for the rest."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signup_core import addresses
from signup_core.addresses import (
    InvalidAddress,
    normalise,
    validated,
)


def _reference(raw: str, smtputf8: bool) -> str:
    """normalise() as it was before the fast path: validate_email for every address."""
    return validated(raw, smtputf8=smtputf8)


def _outcome(check, raw: str, smtputf8: bool) -> tuple[str, str]:
    try:
        return "accepted", check(raw, smtputf8)
    except InvalidAddress as e:
        return "refused", str(e)


def _new(raw: str, smtputf8: bool) -> str:
    return normalise(raw, smtputf8=smtputf8)


ATEXT = "abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"
# Everything that can make an ASCII address awkward: specials, quotes, escapes, whitespace.
AWKWARD = ATEXT + '.@"\\ \t\n()<>[],;:'
ROLES = ["info", "postmaster", "abuse", "www", "noc", "ftp", "uucp", "webmaster", "sales"]
SPECIAL_TLDS = ["localhost", "test", "invalid", "onion", "local", "arpa", "example"]
TLDS = ["com", "COM", "io", "x1", "123", "1a", "museum", "xn--p1ai", "xn--bcher-kva", "a"]


def _label(alphabet: str = "abzAZ09-", min_size: int = 1, max_size: int = 64):
    return st.text(alphabet, min_size=min_size, max_size=max_size)


# Labels of 63 and 64 characters, hyphens at either end, "ab--" and "xn--" prefixes, digits.
labels = st.one_of(
    _label(max_size=8),
    _label(min_size=62, max_size=65),
    st.sampled_from(["-a", "a-", "ab--c", "xn--c", "xn--bcher-kva", "XN--BCHER-KVA", "0", "--"]),
)
domains = st.one_of(
    st.sampled_from(["example.com", "Example.ORG", "sub.EXAMPLE.co.uk", "a.io"]),
    st.builds(
        lambda ls, tld: ".".join([*ls, tld]),
        st.lists(labels, min_size=0, max_size=4),
        st.sampled_from(TLDS + SPECIAL_TLDS) | labels,
    ),
    st.text("abAZ09.-", max_size=20),  # dots at the ends, doubled, alone
    st.sampled_from(["[192.0.2.1]", "[IPv6:2001:db8::1]", "192.0.2.1", "[300.1.1.1]", ""]),
)
locals_ = st.one_of(
    st.lists(st.text(ATEXT, min_size=1, max_size=12), min_size=1, max_size=6).map(".".join),
    st.text(ATEXT + ".", max_size=70),
    st.text("a.B-", max_size=6),  # dots at the ends or doubled
    st.integers(62, 66).map(lambda n: "l" * n),
    st.builds(  # role names, in any case
        lambda role, up: "".join(c.upper() if u else c for c, u in zip(role, up, strict=False)),
        st.sampled_from(ROLES),
        st.lists(st.booleans(), min_size=10, max_size=10),
    ),
    st.text(AWKWARD, max_size=20).map(lambda t: f'"{t}"'),  # quoted strings
)


@st.composite
def sized(draw) -> str:
    """A plain address padded to a total length around the 253/254/255 limits."""
    domain = draw(domains)
    total = draw(st.integers(250, 257))
    return "l" * max(1, total - len(domain) - 1) + "@" + domain


ascii_addresses = st.one_of(
    st.builds(lambda lo, d: f"{lo}@{d}", locals_, domains),
    sized(),
    st.text(AWKWARD, max_size=40),  # anything, with any number of @-signs
    st.builds(  # whitespace around or inside
        lambda lo, d, ws, where: (ws + lo + "@" + d) if where else (lo + "@" + d + ws),
        locals_,
        domains,
        st.sampled_from([" ", "\t", "\n", "\r\n"]),
        st.booleans(),
    ),
)


# 500 generated addresses besides the boundary examples: 1,500 cost ~12 s of CPU per run on a
# 2-core machine the whole suite shares; the examples hold the boundaries either way.
@settings(max_examples=500, deadline=None, database=None)
@given(raw=ascii_addresses, smtputf8=st.booleans())
@example(raw="Ada@Example.COM", smtputf8=False)
@example(raw="Info@Example.com", smtputf8=False)
@example(raw="l" * 64 + "@example.com", smtputf8=False)
@example(raw="l" * 65 + "@example.com", smtputf8=False)
@example(raw="a@" + "d" * 63 + ".com", smtputf8=False)
@example(raw="a@" + "d" * 64 + ".com", smtputf8=False)
@example(raw="a@" + ("d" * 61 + ".") * 4 + "com", smtputf8=False)  # a 251-character domain
@example(raw="a@" + ("d" * 62 + ".") * 4 + "com", smtputf8=False)  # 255: too long
@example(raw="a@example.123", smtputf8=False)
@example(raw="a@mail.test", smtputf8=False)
@example(raw="a@xn--bcher-kva.example", smtputf8=False)
@example(raw="a@ab--cd.com", smtputf8=False)
@example(raw="a@-a.com", smtputf8=False)
@example(raw="a@a-.com", smtputf8=False)
@example(raw="a@example.com.", smtputf8=False)
@example(raw=".a@example.com", smtputf8=False)
@example(raw="a.@example.com", smtputf8=False)
@example(raw='"a b"@example.com', smtputf8=False)
@example(raw="a@[192.0.2.1]", smtputf8=False)
@example(raw="a@@example.com", smtputf8=False)
def test_normalise_agrees_with_validate_email(raw, smtputf8):
    assert _outcome(_new, raw, smtputf8) == _outcome(_reference, raw, smtputf8)


@settings(max_examples=500, deadline=None, database=None)
@given(raw=ascii_addresses)
def test_the_fast_path_answers_only_what_validate_email_accepts(raw):
    plain = addresses._plain(raw)
    if plain is not None:
        assert _outcome(_reference, raw, False) == ("accepted", plain)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Ada@Example.COM", "Ada@example.com"),
        ("a.b-c+tag@sub.example.co.uk", "a.b-c+tag@sub.example.co.uk"),
        ("Info@example.com", "info@example.com"),  # a role name, lower-cased as validate_email
        ("WebMaster@example.com", "webmaster@example.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("l" * 65 + "@example.com", "l" * 65 + "@example.com"),  # validate_email allows it
    ],
)
def test_plain_addresses_take_the_fast_path(raw, stored):
    assert addresses._plain(raw) == stored
    assert normalise(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "a@xn--bcher-kva.example",  # stored in Unicode: left to validate_email
        "a@localhost",
        "a@mail.test",
        "a@example.123",
        "a@-a.com",
        "a..b@example.com",
        '"a b"@example.com',
        "a@[192.0.2.1]",
        " a@example.com",
        "jürgen@example.com",
        "a@bücher.example",
    ],
)
def test_everything_else_is_left_to_validate_email(raw):
    assert addresses._plain(raw) is None
