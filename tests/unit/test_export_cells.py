"""The rule that keeps a CSV export's cells from running as spreadsheet formulas."""

from __future__ import annotations

import pytest

from signup_core.export import as_text


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1+2", "@SUM(1+1)", "\t=1", "\rx", "\tplain", "  =1", "\n@x", "\u3000+1"],
)
def test_a_cell_that_would_run_is_quoted(value):
    assert as_text(value) == "'" + value


@pytest.mark.parametrize("value", ["", "Ada", "O'Brien", "a-b", "1-2", "x=y", "'=1", "2026-06-01"])
def test_any_other_cell_is_left_as_it_is(value):
    assert as_text(value) == value
