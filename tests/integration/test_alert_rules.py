"""The alert rules: valid for promtool, unit-tested firing and quiet, each with a runbook page
whose commands exist. promtool comes from Debian's `prometheus` package (`make promtool`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yaml"
RULE_TESTS = [ROOT / "deploy" / "prometheus" / n for n in ("tests.yaml", "tests-daily.yaml")]
RUNBOOKS = ROOT / "docs" / "runbooks"
# Tools a runbook may tell on-call to run, besides our own signupctl.
TOOLS = {
    *("kubectl", "helm", "psql", "redis-cli", "vault", "curl", "openssl", "promtool"),
    *("pg_dump", "pg_restore", "createdb"),
    # A single host: compose, or the wheel under systemd (docs/deploy.md).
    *("docker", "valkey-cli", "systemctl", "journalctl"),
}


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


ALERT_NAMES = sorted({rule["alert"] for rule in _alerts()})


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing; `make promtool` installs it")
        pytest.skip("promtool is not installed (Debian package prometheus; `make promtool`)")
    return found


def test_promtool_accepts_the_rules(promtool):
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass(promtool):
    done = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_firing_and_quiet():
    firing: set[str] = set()
    quiet: set[str] = set()
    cases = [case for f in RULE_TESTS for case in yaml.safe_load(f.read_text())["tests"]]
    for case in cases:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(ALERT_NAMES) - firing == set()
    assert set(ALERT_NAMES) - quiet == set()


@pytest.mark.parametrize("rule", _alerts(), ids=lambda r: f"{r['alert']}-{r['labels']['severity']}")
def test_every_alert_explains_itself_and_links_an_existing_runbook(rule):
    assert re.fullmatch(r"Signup[A-Z][A-Za-z0-9]+", rule["alert"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    notes = rule["annotations"]
    assert notes["summary"].strip() and notes["description"].strip()
    assert notes["runbook_url"].endswith(f"/docs/runbooks/{rule['alert']}.md")
    page = RUNBOOKS / f"{rule['alert']}.md"
    assert page.is_file()
    text = page.read_text()
    for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation", "## Escalation"):
        assert section in text, f"{page.name} lacks {section}"


def test_the_index_lists_every_page():
    index = (RUNBOOKS / "README.md").read_text()
    pages = {p.name for p in RUNBOOKS.glob("*.md")} - {"README.md"}
    linked = set(re.findall(r"\]\(([^)#/]+\.md)\)", index))  # pages here, not ../doctor.md
    assert pages <= linked
    assert linked <= pages
    for name in ALERT_NAMES:
        assert f"({name}.md)" in index


def _commands(text: str) -> list[str]:
    """The command lines of the page's sh blocks (here-document bodies and comments left out)."""
    lines, in_block, heredoc, continued = [], False, None, False
    for line in text.splitlines():
        # A line after one ending in a backslash is the same command, not a new one.
        was_continued, continued = continued, line.rstrip().endswith("\\")
        if was_continued and in_block:
            continue
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if not in_block:
            continue
        if heredoc is not None:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        match = re.search(r"<<-?'?(\w+)'?", line)
        if match:
            heredoc = match.group(1)
        if line.strip() and not line.lstrip().startswith("#"):
            lines.append(line.strip())
    return lines


def _signupctl_commands() -> set[str]:
    binary = Path(sys.executable).with_name("signupctl")
    shown = subprocess.run([str(binary), "--help"], capture_output=True, text=True).stdout
    listed = shown.split("Commands:", 1)[1]
    return set(re.findall(r"^  (\S+)", listed, re.MULTILINE))


@pytest.mark.parametrize("page", sorted(RUNBOOKS.glob("*.md")), ids=lambda p: p.name)
def test_every_runbook_command_exists(page):
    ours = _signupctl_commands()
    for line in _commands(page.read_text()):
        words = line.split()
        while len(words) > 1 and re.match(r"^[A-Z_]+=[^$]", words[0]):
            words = words[1:]  # NAME=value command ...: an environment for the command
        program = words[0]
        if re.match(r"^\w+=\$\(", program):  # name=$(command ...): the command is what runs
            program = program.split("$(", 1)[1]
        assert program in TOOLS | {"signupctl"}, f"{page.name}: unknown command {line!r}"
        for sub in re.findall(r"\bsignupctl (?:--actor \S+ )?(\S+)", line):
            assert sub in ours, f"{page.name}: signupctl has no {sub!r} ({line!r})"
        for name in re.findall(r"deploy/(signet-signup-\w+)", line):
            assert name in {"signet-signup-api", "signet-signup-worker"}, line


def test_runbooks_name_only_real_metrics_and_alerts():
    """Metric names in the runbooks are ones the rules or the code define."""
    code = "\n".join(p.read_text() for p in ROOT.glob("signup_*/**/*.py"))
    for page in RUNBOOKS.glob("*.md"):
        for metric in set(re.findall(r"\b(signup_[a-z_]+)", page.read_text())):
            name = re.sub(r"_(total|count|sum|bucket|)$", "", metric)
            assert name in code, (page.name, metric)
        for alert in set(re.findall(r"\b(Signup[A-Z]\w+)\b", page.read_text())):
            assert alert in ALERT_NAMES, (page.name, alert)
