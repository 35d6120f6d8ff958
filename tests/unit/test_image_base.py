"""The image tests' Debian tarball, kept machine-wide: reused while recent, made again when a
week old (the old one still serving when the mirror is out of reach), and a killed run's
partial files swept."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from devstack.postgres import own_folder
from tests import image_build

TARBALL = f"base-bookworm-{'-'.join(image_build.BASE_PACKAGES)}.tar"


@pytest.fixture
def made(monkeypatch):
    """mmdebstrap replaced by a writer of a small file; the calls it got."""
    calls = []

    def debootstrap(target):
        calls.append(target)
        target.write_bytes(b"made %d" % len(calls))

    monkeypatch.setattr(image_build, "_debootstrap", debootstrap)
    return calls


def aged(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_recent_tarball_is_used_as_it_is(tmp_path, made):
    (tmp_path / TARBALL).write_bytes(b"kept")
    assert image_build.base_tarball(tmp_path).read_bytes() == b"kept"
    assert made == []


def test_a_missing_or_week_old_tarball_is_made_again(tmp_path, made):
    first = image_build.base_tarball(tmp_path)
    assert first.read_bytes() == b"made 1"
    aged(first, image_build.BASE_MAX_AGE + 60)
    assert image_build.base_tarball(tmp_path).read_bytes() == b"made 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [TARBALL]


def test_an_old_tarball_serves_when_it_cannot_be_made_again(tmp_path, monkeypatch):
    def unreachable(target):
        target.write_bytes(b"half")
        raise subprocess.CalledProcessError(1, "mmdebstrap")

    monkeypatch.setattr(image_build, "_debootstrap", unreachable)
    (tmp_path / TARBALL).write_bytes(b"old")
    aged(tmp_path / TARBALL, image_build.BASE_MAX_AGE + 60)
    assert image_build.base_tarball(tmp_path).read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [TARBALL]
    # With none at all, the failure is the test run's
    (tmp_path / TARBALL).unlink()
    with pytest.raises(subprocess.CalledProcessError):
        image_build.base_tarball(tmp_path)


def test_a_killed_runs_partial_file_is_swept_once_an_hour_old(tmp_path, made):
    (tmp_path / TARBALL).write_bytes(b"kept")
    left, young = tmp_path / f"{TARBALL}.1.partial", tmp_path / f"{TARBALL}.2.partial"
    left.write_bytes(b"x")
    young.write_bytes(b"y")
    aged(left, 3700)
    image_build.base_tarball(tmp_path)
    assert not left.exists() and young.exists()  # the young one may be another run's


def test_a_shared_folder_someone_else_made_is_refused(tmp_path):
    folder = tmp_path / "image-base"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("needs root to give the folder away")
    os.chown(folder, 12345, 12345)
    with pytest.raises(RuntimeError, match="not owned by this user"):
        own_folder(folder)
    assert own_folder(tmp_path / "ours").stat().st_mode & 0o777 == 0o755
