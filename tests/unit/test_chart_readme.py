"""The chart's README values table is generated from values.yaml (and its schema's
descriptions) by devstack/chart_readme.py; it fails here when one changes without the other."""

from __future__ import annotations

import pytest

yaml = pytest.importorskip("yaml")

from devstack import chart_readme  # noqa: E402 - needs yaml


def test_the_values_table_is_what_values_yaml_generates():
    readme = (chart_readme.CHART / "README.md").read_text()
    assert readme == chart_readme.generated(), "run `python -m devstack.chart_readme`"


def test_every_key_of_values_yaml_is_a_row_with_its_default():
    text = (chart_readme.CHART / "values.yaml").read_text()
    found = {key: default for key, default, _ in chart_readme.rows(text)}

    def check(values: dict, prefix: str = "") -> None:
        for name, value in values.items():
            key = f"{prefix}{name}"
            assert key in found, key
            if isinstance(value, dict) and value and not found[key]:
                check(value, f"{key}.")  # a section: its keys are rows of their own
            else:  # a value, or a map written inline ({cpu: 100m, ...}): its default shown
                assert found[key] == f"`{chart_readme._compact(value)}`", key

    check(yaml.safe_load(text))


def test_a_changed_default_or_comment_shows_as_drift():
    text = (chart_readme.CHART / "values.yaml").read_text()
    readme = (chart_readme.CHART / "README.md").read_text()
    changed = text.replace("  port: 8001\n", "  port: 8002\n", 1)
    assert changed != text
    assert chart_readme.render(readme, changed) != chart_readme.render(readme, text)
    recommented = text.replace("# SIGNUP_ADMIN_PORT:", "# The admin port:", 1)
    assert chart_readme.render(readme, recommented) != chart_readme.render(readme, text)
