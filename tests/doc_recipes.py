"""The deployment documents' shell recipes, run as written: a block is cut out of the Markdown by
its heading and run by bash in a scratch folder, with `docker run IMAGE CMD...` running CMD from
this checkout's venv (the image's commands are the same entry points) and `kubectl` / `vault`
recorded instead of reaching a cluster. What the recipe wrote (.env) or handed to kubectl /
vault is what the tests check and deploy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
VAULT_DOC = ROOT / "docs" / "runbooks" / "vault-secrets.md"

# Stand-ins on PATH. docker: `run [--flags] IMAGE CMD...` runs CMD here; kubectl and vault write
# their arguments and standard input to calls.jsonl.
_DOCKER = """#!/bin/sh
[ "$1" = run ] || { echo "docker stand-in: only 'docker run' is known" >&2; exit 99; }
shift
while [ "${1#-}" != "$1" ]; do shift; done
printf '{"argv": ["docker"], "image": "%s"}\\n' "$1" >> "$RECIPE_CALLS"
shift
exec $RECIPE_IN_IMAGE "$@"
"""
_RECORDER = """#!{python}
import json, os, sys
data = sys.stdin.read() if not sys.stdin.isatty() else ""
with open(os.environ["RECIPE_CALLS"], "a") as f:
    f.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]], "stdin": data}}))
    f.write("\\n")
"""


def section(path: Path, heading: str) -> str:
    """The text under a Markdown heading, up to the next heading of the same or a higher level."""
    text = path.read_text()
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert match, f"{path.name}: no heading {heading!r}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start() if end else len(rest)]


def shell_block(path: Path, heading: str, index: int = 0) -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```", section(path, heading), re.M | re.S)
    assert len(blocks) > index, f"{path.name}, {heading!r}: no sh block #{index}"
    return blocks[index]


@dataclass
class Ran:
    folder: Path
    calls: list[dict]
    output: str

    def called(self, program: str, *words: str) -> list[dict]:
        return [c for c in self.calls if c["argv"][: 1 + len(words)] == [program, *words]]


def run(
    script: str, folder: Path, until: str | None = None, in_image: list[str] | None = None
) -> Ran:
    """Run the recipe (up to and including the first line containing `until`) in `folder`.
    `docker run IMAGE CMD` runs CMD from this checkout's venv, or with `in_image` (a command
    prefix such as `buildah run ... CONTAINER --`) in the built image."""
    if until is not None:
        lines = script.splitlines()
        [stop] = [i for i, line in enumerate(lines) if until in line][:1] or [None]
        assert stop is not None, f"no line with {until!r} in:\n{script}"
        script = "\n".join(lines[: stop + 1]) + "\n"
    fakes = folder / ".recipe-bin"
    fakes.mkdir(parents=True, exist_ok=True)
    (fakes / "docker").write_text(_DOCKER)
    for name in ("kubectl", "vault"):
        (fakes / name).write_text(_RECORDER.format(python=sys.executable))
    for fake in fakes.iterdir():
        fake.chmod(0o755)
    calls = folder / ".recipe-calls.jsonl"
    calls.touch()
    path = f"{fakes}:{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
    environment = {"PATH": path, "RECIPE_CALLS": str(calls), "HOME": str(folder), "LANG": "C.UTF-8"}
    if in_image:
        environment["RECIPE_IN_IMAGE"] = " ".join(in_image)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"recipe failed ({done.returncode}):\n{script}\n{done.stderr}"
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    return Ran(folder, recorded, done.stdout)


def dotenv(path: Path) -> dict[str, str]:
    """A .env file as compose reads it: NAME=VALUE lines, single or double quotes taken off."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f"not NAME=VALUE: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def compose_env(folder: Path, in_image: list[str] | None = None) -> dict[str, str]:
    """The .env that docs/deploy.md's single-host recipe writes (run in folder/)."""
    (folder / "deploy").mkdir(parents=True, exist_ok=True)
    ran = run(
        shell_block(DEPLOY_DOC, "A single host"), folder, until="chmod 600 .env", in_image=in_image
    )
    return dotenv(ran.folder / "deploy" / ".env")


def kubernetes_secret(folder: Path, in_image: list[str] | None = None) -> dict:
    """The Secret manifest docs/deploy.md's recipe applies with kubectl."""
    ran = run(shell_block(DEPLOY_DOC, "1. Secrets"), folder, in_image=in_image)
    applied = ran.called("kubectl", "-n", "signup", "apply")
    if applied:
        [one] = applied
        return json.loads(one["stdin"])
    # The older form: kubectl create secret generic NAME --from-literal=KEY=VALUE ...
    [created] = ran.called("kubectl", "-n", "signup", "create", "secret", "generic")
    literals = [a.split("=", 1)[1] for a in created["argv"] if a.startswith("--from-literal=")]
    data = dict(literal.split("=", 1) for literal in literals)
    return {"kind": "Secret", "metadata": {"name": created["argv"][6]}, "stringData": data}


def vault_put(folder: Path, in_image: list[str] | None = None) -> tuple[str, dict[str, str]]:
    """The path and the keys docs/runbooks/vault-secrets.md's seeding recipe writes."""
    ran = run(shell_block(VAULT_DOC, "Seeding (once per environment)"), folder, in_image=in_image)
    [put] = ran.called("vault", "kv", "put")
    return put["argv"][3], dict(word.split("=", 1) for word in put["argv"][4:])


def images(folder: Path) -> set[str]:
    """The images the recipes run in `folder` named in `docker run`."""
    calls = folder / ".recipe-calls.jsonl"
    found = [json.loads(line) for line in calls.read_text().splitlines()]
    return {c["image"] for c in found if c["argv"] == ["docker"]}
