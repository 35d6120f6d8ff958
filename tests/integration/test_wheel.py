"""The built wheel on its own: it carries the SQL and no development code, and a fresh venv
with only the wheel installed migrates a new database and serves signup → mail → confirm.

Slow (a wheel build and a venv install): skip it locally with SKIP_WHEEL=1 or `-m "not wheel"`;
CI always runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devstack.processes import free_port
from tests.support import app_env, create_database, signup_confirm_over_http
from tests.wheel_processes import Service, clean_env, venv_run

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("signup_core", "signup_api", "signup_worker")
# Build from a copy without these: setuptools packs whatever an earlier build left in build/.
NOT_SOURCE = (".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache")

pytestmark = [
    pytest.mark.wheel,
    pytest.mark.skipif(
        os.environ.get("SKIP_WHEEL") == "1" and not os.environ.get("CI"),
        reason="SKIP_WHEEL=1 (ignored when CI is set)",
    ),
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "signet-signup"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."],
        cwd=source,
        check=True,
        timeout=300,
    )
    [built] = out.glob("signet_signup-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with nothing but the wheel and its dependencies: not even pip. The test
    run's pip installs into it (`--python`): a venv's own pip, installed and then run for one
    install, was half of this fixture's CPU, which the whole suite waits for on two cores."""
    folder = tmp_path_factory.mktemp("venv")
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(folder / "bin" / "python"), "install",
         "--quiet", str(wheel)],
        check=True, timeout=600, env=clean_env(),
    )  # fmt: skip
    return folder


@pytest.fixture
def fresh_database(pg_server) -> str:
    """An empty database, so `signupctl migrate` has to find every migration in the wheel."""
    import asyncio

    return asyncio.run(create_database(pg_server.url, "wheel"))


def test_wheel_holds_the_sql_and_the_code_and_no_development_code(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    sql = {f"signup_core/sql/{p.relative_to(ROOT / 'sql')}" for p in (ROOT / "sql").rglob("*.sql")}
    assert any("/migrations/" in n for n in sql) and any("/queries/" in n for n in sql)
    assert sql <= names, sql - names
    kit = {f"signup_api/kit/{p.name}" for p in (ROOT / "kit").iterdir() if p.is_file()}
    assert kit <= names, kit - names
    shipped = {
        str(p.relative_to(ROOT))
        for package in SHIPPED
        for p in (ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert shipped <= names, shipped - names
    tops = {n.split("/", 1)[0] for n in names}
    assert not tops & {"devstack", "tests", "bench", "sql"}, tops
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)


def test_installed_wheel_migrates_and_serves_signup_mail_confirm(
    venv, fresh_database, redis_server, smtp_server, tmp_path
):
    # Nothing may come from the checkout: run from elsewhere, with no path pointing into it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    # Database 1 of the session's Valkey: the session's own worker listens on database 0.
    env = app_env(
        fresh_database,
        redis_server.url.rsplit("/", 1)[0] + "/1",
        smtp_server.port,
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
    )
    located = venv_run(
        venv, "python", "-c", "import signup_core; print(signup_core.__file__)", cwd=elsewhere
    )
    assert located.startswith(str(venv)), located

    # Given a new database migrated by the installed signupctl
    migrated = venv_run(venv, "signupctl", "migrate", env=env, cwd=elsewhere)
    assert re.search(r"applied [1-9]\d* migration", migrated), migrated

    # And the installed API and worker running
    with (
        Service(venv, "signup-worker", env, elsewhere, tmp_path / "worker.log") as worker,
        Service(venv, "signup-api", env, elsewhere, tmp_path / "api.log") as api,
    ):
        worker.wait_for_log("ready for action")
        api.wait_for_port(port)
        base = f"http://127.0.0.1:{port}"

        # When someone signs up, the mail comes, and the link confirms: the whole path
        signup_confirm_over_http(base, smtp_server, "wheel")
