"""Writes docs/configuration.md from the settings model: `make docs`, or
`python -m signup_core.settings.docs [--check]` (--check: exit 1 when the page is stale)."""

from __future__ import annotations

import sys
from itertools import groupby
from pathlib import Path

from signup_core.settings.metadata import Variable, variables

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

HEADER = """\
# Configuration

<!-- Generated from signup_core/settings/ by `make docs`; edit the model, not this page. -->

Every setting comes from the environment and is checked once at start: missing or malformed
values stop the process with one message that names every one of them, the admin listener's
included. Any variable can instead be read from a file named by `NAME_FILE` (for example
`SIGNUP_BLIND_INDEX_KEY_FILE=/run/secrets/index-key`), which is how mounted secrets arrive.
Durations take seconds or a number with `s`, `m`, `h` or `d` (`90m`, `12h`, `30d`); rates take
`N/period` (`10/minute`, `3/hour`, `5/30s`) or `off`. Secrets marked *generated* are ones the
service makes itself (`signupctl secrets new`); the others come from a provider or from you.
Read elsewhere, not by this model: `PROMETHEUS_MULTIPROC_DIR` (the worker's multiprocess
metrics folder, emptied at start) and the other `OTEL_*` variables, as OpenTelemetry defines them.
"""


def _row(v: Variable) -> str:
    need = "**required**" if v.required else ""
    secret = "generated secret" if v.generated else "secret" if v.secret else ""
    default = f"`{v.default}`" if v.default is not None else "unset"
    cells = (f"`{v.env}`", v.type, "" if v.required else default, need, secret, v.description)
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def render(found: list[Variable] | None = None) -> str:
    parts = [HEADER]
    for group, members in groupby(variables() if found is None else found, lambda v: v.group):
        parts.append(f"\n## {group}\n\n")
        parts.append("| variable | type | default | required | secret | description |\n")
        parts.append("|---|---|---|---|---|---|\n")
        parts.extend(_row(v) + "\n" for v in members)
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
