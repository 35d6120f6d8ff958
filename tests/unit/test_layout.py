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
    mapped = {"signup_core.sql": ROOT / "sql", "signup_api.kit": ROOT / "kit"}
    # Folders of data only (templates, messages, SQL) are listed too, or setuptools warns that
    # it ignores them ("Package would be ignored") on every install.
    with_data = {
        ".".join([prefix, *folder.relative_to(base).parts]).rstrip(".")
        for prefix, base in [*((p, ROOT / p) for p in FORBIDDEN), *mapped.items()]
        for folder in [base, *base.rglob("*")]
        if folder.is_dir()
        and "__pycache__" not in folder.parts
        and any(f.is_file() for f in folder.iterdir())
    }
    assert set(setuptools["packages"]) == with_code | with_data | set(mapped)
    assert setuptools["package-dir"] == {k: v.name for k, v in mapped.items()}
    data = setuptools["package-data"]
    for package in with_data - with_code:
        folder = ROOT.joinpath(*package.split(".")) if package not in mapped else mapped[package]
        if package.startswith("signup_core.sql."):
            folder = ROOT / "sql" / package.rsplit(".", 1)[1]
        suffixes = {f"*{f.suffix}" for f in folder.iterdir() if f.is_file() and f.suffix != ".py"}
        assert suffixes <= set(data.get(package, [])), (package, suffixes)
