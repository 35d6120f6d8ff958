"""docs/configuration.md is generated from the settings model and never drifts from it."""

from __future__ import annotations

from signup_core.settings import variables
from signup_core.settings.docs import PAGE, main, render
from signup_core.settings.model import CONCERNS
from signup_core.settings.service import Concern
from signup_core.settings.types import Duration, var


def test_the_page_is_what_the_model_generates():
    assert PAGE.read_text(encoding="utf-8") == render(), "docs/configuration.md is stale: make docs"


def test_every_variable_has_a_row_in_its_group():
    page = PAGE.read_text(encoding="utf-8")
    for v in variables():
        assert f"| `{v.env}` |" in page
        assert f"\n## {v.group}\n" in page


def test_a_field_added_without_regenerating_is_caught(capsys):
    class Extra(Concern, title="Extra"):
        extra_window: Duration = var("SIGNUP_EXTRA_WINDOW", 3600, "A field nobody documented.")

    grown = render(variables((*CONCERNS, Extra)))
    assert "| `SIGNUP_EXTRA_WINDOW` | duration" in grown and "`1h`" in grown
    assert PAGE.read_text(encoding="utf-8") != grown


def test_check_mode_says_when_the_page_is_stale(tmp_path, monkeypatch):
    import signup_core.settings.docs as docs

    monkeypatch.setattr(docs, "PAGE", tmp_path / "configuration.md")
    assert main(["--check"]) == 1
    assert main([]) == 0
    assert main(["--check"]) == 0
