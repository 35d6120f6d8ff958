"""Fixtures shared by the integration tests: the hostile-input tests' armed client, the built
image of the image and documented-deployment tests."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import respx

from signup_core.clock import FixedClock
from tests import image_build
from tests import providers as p
from tests.support import app_client


@pytest.fixture
async def armed(env, db):
    """A client for an app with every provider's webhook configured with the test keys, the
    SNS certificate served, and the clock at the time the test signatures are made for."""
    with respx.mock(assert_all_called=False) as mock:
        mock.get(p.CERT_URL).respond(content=p.SNS_CERT)
        async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
            yield client


IMAGE_TAG = "localhost/signet-signup:test"


def package_version() -> str:
    root = Path(__file__).resolve().parents[2]
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="session")
def built_image() -> str:
    """The Containerfile built once per run (tests/image_build.py), for every image test. Under
    pytest-xdist each process asks for it: the first builds it while holding a lock on buildah's
    folder, the others wait for the lock and find it built in this run (one build per run id)."""
    missing = [tool for tool in ("buildah", "mmdebstrap") if not shutil.which(tool)]
    if missing or os.geteuid() != 0:
        reason = f"needs root and {', '.join(missing) or 'buildah'} (`make test` installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    image_build.HOME.mkdir(parents=True, exist_ok=True)
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    with open(image_build.HOME / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = image_build.HOME / "built-in-run"
        if run is not None and built.exists() and built.read_text() == run:
            return IMAGE_TAG
        base = image_build.base_image()
        revision = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=image_build.ROOT, capture_output=True, text=True
        ).stdout.strip()
        seconds = image_build.build(
            IMAGE_TAG, base, VERSION=package_version(), REVISION=revision or "unknown"
        )
        # For the report: what the last build took and weighs.
        (image_build.HOME / "last-build.json").write_text(
            json.dumps({"seconds": round(seconds, 1), "size": image_build.image_size(IMAGE_TAG)})
        )
        built.write_text(run or "")
    return IMAGE_TAG
