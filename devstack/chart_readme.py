"""The values table of helm/signet-signup/README.md, generated from values.yaml: every key with
its default and the comment written above it. `python -m devstack.chart_readme` rewrites the
part between the README's markers; tests/unit/test_chart_readme.py fails when it has drifted.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "signet-signup"
BEGIN, END = "<!-- values:begin -->", "<!-- values:end -->"
_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_./-]+):(?P<rest>.*)$")


def _compact(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(", ", ": "))


def _lookup(values: dict, path: list[str]) -> object:
    for key in path:
        values = values[key]
    return values


def _schema_description(schema: dict, path: list[str]) -> str:
    for key in path:
        schema = schema.get("properties", {}).get(key, {})
    return schema.get("description", "")


def rows(text: str, schema: dict | None = None) -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every key of values.yaml, in its order; the
    description is the comment above the key, else the schema's."""
    values = yaml.safe_load(text)
    stack: list[tuple[int, str]] = []
    comment: list[str] = []
    found = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        match = _KEY.match(line)
        if not match or stripped.startswith("-"):
            comment = []
            continue
        indent = len(match.group("indent"))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group("key")))
        path = [key for _, key in stack]
        value = _lookup(values, path)
        if isinstance(value, dict) and value and not match.group("rest").strip():
            default = ""  # a section: its keys follow
        else:
            default = f"`{_compact(value)}`"
        description = " ".join(comment) or _schema_description(schema or {}, path)
        found.append((".".join(path), default, description))
        comment = []
    return found


def table(text: str, schema: dict | None = None) -> str:
    lines = ["| key | default | description |", "| --- | --- | --- |"]
    for key, default, description in rows(text, schema):
        escaped = description.replace("|", "\\|")
        lines.append(f"| `{key}` | {default} | {escaped} |")
    return "\n".join(lines)


def render(readme: str, values_text: str, schema: dict | None = None) -> str:
    """The README with its values table regenerated."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + table(values_text, schema) + "\n" + readme[end:]


def generated() -> str:
    """What helm/signet-signup/README.md should hold."""
    return render(
        (CHART / "README.md").read_text(),
        (CHART / "values.yaml").read_text(),
        json.loads((CHART / "values.schema.json").read_text()),
    )


def main() -> int:
    readme = CHART / "README.md"
    new = generated()
    if new != readme.read_text():
        readme.write_text(new)
        print(f"rewrote {readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
