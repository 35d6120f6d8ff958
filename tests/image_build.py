"""Building and running the Containerfile with buildah where no container registry is reachable:
a Python base image made from Debian packages (cached), the app image on top, containers run
with the host's network as the image's own user. For tests/integration/test_image.py.

Everything buildah keeps (images, layers) lives in one folder the test owns, under the
checkout's var/ (`make clean` removes it), with overlay storage of its own. The base's Debian
tarball, the slow part of a fresh clone's first build, is kept machine-wide for a week, beside
the development PostgreSQL's shared files.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.postgres import own_folder, shared_root

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "var" / "image-test"
BASE = "localhost/signet-test-base:bookworm-python3"
# What the official python:slim image gives the Containerfile: python3 with venv, CA certificates.
BASE_PACKAGES = ("ca-certificates", "python3", "python3-venv")
# pip inside a build step needs the host's CA bundle (the host may reach PyPI through a proxy
# whose CA only the host trusts); mounted for the build only, never part of the image.
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# The base's tarball is shared by every checkout on the machine (a fresh clone, CI's among them,
# then builds no Debian system: ~55 s of CPU); made again when older than this, so the image
# tests do not keep testing last month's security updates.
BASE_MAX_AGE = 7 * 24 * 3600


def env(home: Path = HOME) -> dict[str, str]:
    """The environment for buildah: storage in `home`, not the machine's /var/lib/containers."""
    home.mkdir(parents=True, exist_ok=True)
    conf = home / "storage.conf"
    text = (
        "[storage]\n"
        'driver = "overlay"\n'
        f'graphroot = "{home / "storage"}"\n'
        f'runroot = "{home / "run"}"\n'
    )
    if not conf.exists() or conf.read_text() != text:
        # Renamed into place: buildah runs from other test processes read it meanwhile, and a
        # file truncated for rewriting read as one with no storage driver.
        partial = conf.with_name(f"storage.conf.{os.getpid()}")
        partial.write_text(text)
        partial.replace(conf)
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}


def buildah(*args: str, home: Path = HOME, timeout: float = 600) -> str:
    done = subprocess.run(
        ["buildah", *args],
        env=env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"buildah {' '.join(args)} exited {done.returncode}:\n{done.stdout}")
    return done.stdout.strip()


def has_image(name: str, home: Path = HOME) -> bool:
    done = subprocess.run(
        ["buildah", "inspect", "--type", "image", name],
        env=env(home),
        capture_output=True,
        timeout=60,
    )
    return done.returncode == 0


def debian_mirror() -> str:
    """The Debian mirror apt already uses on this machine (deb822 or one-line sources)."""
    for path in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if path.exists():
            found = re.search(r"(?:URIs:|deb)\s+(https?://\S+/debian)\b", path.read_text())
            if found:
                return found.group(1)
    return "http://deb.debian.org/debian"


def base_image(home: Path = HOME) -> str:
    """The Python base, made from the Debian tarball and kept in `home` until the tarball is
    made again (its name carries the tarball's time)."""
    tarball = base_tarball()
    name = f"{BASE}-{int(tarball.stat().st_mtime)}"
    if has_image(name, home):
        return name
    container = buildah("from", "scratch", home=home)
    try:
        buildah("add", container, str(tarball), "/", home=home)
        buildah("commit", "--quiet", container, name, home=home)
    finally:
        buildah("rm", container, home=home)
    for image in json.loads(buildah("images", "--json", home=home)):
        for old in image.get("names") or []:
            if old.startswith(BASE) and old != name:  # last week's: ~180 MB each
                subprocess.run(
                    ["buildah", "rmi", old], env=env(home), capture_output=True, timeout=120
                )
    return name


def base_tarball(folder: Path | None = None) -> Path:
    """The base's Debian system as a tarball, made by mmdebstrap unless a recent one is kept.
    A stale one still serves when the mirror cannot be reached."""
    folder = folder or own_folder(shared_root() / "image-base")
    tarball = folder / f"base-bookworm-{'-'.join(BASE_PACKAGES)}.tar"
    for left in folder.glob("*.partial"):  # a killed run's: nothing removed them
        with contextlib.suppress(FileNotFoundError):  # another run's, renamed meanwhile
            if time.time() - left.stat().st_mtime > 3600:
                left.unlink(missing_ok=True)
    try:
        fresh = time.time() - tarball.stat().st_mtime < BASE_MAX_AGE
    except FileNotFoundError:
        fresh = None
    if fresh:
        return tarball
    # Its own partial file: two checkouts may make it at once, and the last rename wins.
    partial = tarball.with_name(f"{tarball.name}.{os.getpid()}.partial")
    try:
        _debootstrap(partial)
        partial.rename(tarball)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        if fresh is None:
            raise
        print(f"image tests: the Debian base could not be made again ({e}); using the old one")
    finally:
        partial.unlink(missing_ok=True)  # gone already once renamed
    return tarball


def _debootstrap(tarball: Path) -> None:
    subprocess.run(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            "--mode=root",
            "--format=tar",
            f"--include={','.join(BASE_PACKAGES)}",
            # What the official slim image also leaves out.
            "--dpkgopt=path-exclude=/usr/share/doc/*",
            "--dpkgopt=path-exclude=/usr/share/man/*",
            "--dpkgopt=path-exclude=/usr/share/locale/*",
            "bookworm",
            str(tarball),
            debian_mirror(),
        ],
        check=True,
        timeout=600,
    )


def build(tag: str, base: str, home: Path = HOME, **build_args: str) -> float:
    """Build the Containerfile as `tag` on `base`; the seconds it took."""
    started = time.monotonic()
    args = [f"--build-arg=BASE_IMAGE={base}"]
    args += [f"--build-arg={k}={v}" for k, v in build_args.items()]
    buildah(
        "bud",
        "--quiet",
        "--isolation=chroot",
        "--format=docker",  # keeps HEALTHCHECK (the OCI format has no field for it)
        "--pull-never",
        f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro",
        *args,
        "--tag",
        tag,
        "--file",
        str(ROOT / "Containerfile"),
        str(ROOT),
        home=home,
        timeout=900,
    )
    seconds = time.monotonic() - started
    # The previous build's image, untagged now: without this each run leaves ~70 MB behind.
    # Not fatal: a container a killed run left behind keeps its image until it is removed.
    subprocess.run(["buildah", "rmi", "--prune"], env=env(home), capture_output=True, timeout=120)
    return seconds


def image_size(tag: str, home: Path = HOME) -> str:
    """The image's size, uncompressed, as buildah shows it ("259 MB")."""
    for image in json.loads(buildah("images", "--json", home=home)):
        if tag in (image.get("names") or []):
            return image["size"]
    raise AssertionError(f"no image {tag}")


@dataclass
class Container:
    """A working container made from an image; run commands in it with the host's network."""

    image: str
    home: Path = HOME

    def __post_init__(self) -> None:
        self.name = buildah("from", "--pull-never", self.image, home=self.home)

    def run_args(
        self,
        *command: str,
        environment: dict[str, str] | None = None,
        options: tuple[str, ...] = (),
    ) -> list[str]:
        """`options`: more `buildah run` flags (--user, --volume, --cap-drop)."""
        envs = [f"--env={k}={v}" for k, v in (environment or {}).items()]
        return [
            "buildah",
            "run",
            "--isolation=chroot",
            "--network=host",
            *envs,
            *options,
            self.name,
            "--",
            *command,
        ]

    def run(self, *command: str, environment: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            self.run_args(*command, environment=environment),
            env=env(self.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}")
        return done.stdout.strip()

    def remove(self) -> None:
        buildah("rm", self.name, home=self.home)


def _zombie(proc: Path) -> bool:
    try:
        return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class Served:
    """A long-running command in a container, in its own session, its output in a log file;
    stopped with SIGTERM to the command when the `with` block ends (or at terminate()), and
    whatever of the session is left after 20 s killed."""

    def __init__(
        self,
        container: Container,
        command: str | list[str],
        environment: dict[str, str],
        log: Path,
        options: tuple[str, ...] = (),
    ):
        argv = [command] if isinstance(command, str) else command
        self.command, self.log_path = " ".join(argv), log
        self._terminated = False
        self._log = open(log, "ab")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            container.run_args(*argv, environment=environment, options=options),
            env=env(container.home),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> Served:
        return self

    def terminate(self) -> None:
        """SIGTERM to the served command alone, as a container runtime stops a container's
        first process: it stops what it started in its own order (the worker's processes
        finish their messages). Signalling buildah too would tear the container down under
        them, leaving orphans that hold on until killed."""
        if self._terminated:
            return
        self._terminated = True
        served = self._served()
        with contextlib.suppress(ProcessLookupError):
            if served is not None:
                os.kill(served, signal.SIGTERM)
            else:
                os.killpg(self.process.pid, signal.SIGTERM)

    def __exit__(self, *exc: object) -> None:
        self.terminate()
        deadline = time.monotonic() + 20
        while self._session() and time.monotonic() < deadline:
            self.process.poll()
            time.sleep(0.1)
        # Whatever is left of the session: buildah and anything the command forked.
        for pid in self._session():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def _served(self) -> int | None:
        """The served command's process: the child of buildah's chroot exec helper."""
        for pid in self._session():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                parent = Path(f"/proc/{stat[1]}/cmdline").read_bytes()
                if parent.startswith(b"buildah-chroot-exec"):
                    return pid
        return None

    def _session(self) -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.getsid(int(proc.name)) == self.process.pid and not _zombie(proc):
                        found.append(int(proc.name))
        return found

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def uids(self) -> set[int]:
        """The real user ids of this session's processes that run the served command."""
        found = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getsid(int(proc.name)) != self.process.pid:
                    continue
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                status = (proc / "status").read_text()
            except (OSError, ProcessLookupError):
                continue
            if self.command in cmdline and not cmdline.startswith("buildah"):
                found.add(int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)))
        return found

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"{self.command} exited early:\n{self.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from {self.command}:\n{self.log()[-3000:]}")
            time.sleep(0.1)
