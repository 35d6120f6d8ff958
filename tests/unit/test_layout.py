"""The API, the worker and the CLI never import each other; the core imports no framework and
not click; the wheel lists every package of the four and no development code (devstack,
tests, bench)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "signup_api": {"signup_worker", "signupctl", "dramatiq"},
    "signup_worker": {"signup_api", "signupctl", "starlette", "uvicorn"},
    "signup_core": {
        "signup_api",
        "signup_worker",
        "signupctl",
        "starlette",
        "dramatiq",
        "uvicorn",
        "click",
    },
    "signupctl": {"signup_api", "signup_worker", "starlette", "dramatiq", "uvicorn"},
}


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_boundaries(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        bad = imported(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_sql_strings_in_application_code():
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")
    for package in FORBIDDEN:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    assert not any(k in node.value.upper() for k in keywords), path


def test_the_wheel_lists_every_package_and_no_development_code():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    with_code = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for package in FORBIDDEN
        for path in (ROOT / package).rglob("*.py")
    }
    assert set(setuptools["packages"]) == with_code | {"signup_core.sql", "signup_api.kit"}
    assert setuptools["package-dir"] == {"signup_core.sql": "sql", "signup_api.kit": "kit"}
