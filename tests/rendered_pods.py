"""A rendered pod started from the built image the way a kubelet would start it, as far as
buildah's chroot isolation allows (tests/image_build.py): the container's command and args, its
env and envFrom resolved against the rendered objects and the Secret, every volume mounted at
its mountPath (the Secret's keys as files with the volume's defaultMode, emptyDirs as empty
writable folders), the user and group of the security contexts, a read-only root (every
top-level folder of the image bound read-only over itself), the dropped capabilities; then its
probes polled at their paths and ports.

What it cannot do: a network namespace (the pod shares the host's, so the chart is rendered
with free ports for its listeners), supplementary groups (the fsGroup is the primary group
where the chart leaves runAsGroup to the platform), no_new_privs.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from signup_core import tls
from tests import image_build

# The user OpenShift's restricted-v2 SCC picks when the chart leaves it open (values-sno.yaml):
# the first of the namespace's range, as its fsGroup too.
PLATFORM_UID = 1000650000
# Files the runtime binds over (kubelet: /etc/hosts, /etc/resolv.conf, /etc/hostname): they must
# exist before the root goes read-only.
RUNTIME_FILES = ("etc/hosts", "etc/resolv.conf", "etc/hostname")


@dataclass
class Pod:
    name: str
    argv: list[str]
    env: dict[str, str]
    uid: int
    gid: int
    options: tuple[str, ...]
    ports: dict[str, int]
    probes: dict[str, dict] = field(default_factory=dict)


def _resolve_in(root: Path, path: str) -> str:
    """`path` inside the image with its symlinks followed (/var/run -> /run), as the mount
    must name the real folder for buildah's bind."""
    parts, out = Path(path).parts[1:], Path("/")
    for part in parts:
        candidate = root / str(out / part).lstrip("/")
        if candidate.is_symlink():
            target = os.readlink(candidate)
            out = Path(target) if target.startswith("/") else (out / target)
        else:
            out = out / part
    return str(out)


def _env(container: dict, objects: list[dict], secret: dict[str, str], secret_name: str) -> dict:
    def source(kind: str, name: str) -> dict[str, str]:
        if kind == "Secret":
            assert name == secret_name, f"the pod reads Secret {name!r}, not {secret_name!r}"
            return secret
        [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
        return found.get("data", {})

    env: dict[str, str] = {}
    for entry in container.get("envFrom", []):
        prefix = entry.get("prefix", "")
        for key, ref in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if key in entry:
                env.update({prefix + k: v for k, v in source(ref, entry[key]["name"]).items()})
    for entry in container.get("env", []):
        if "value" in entry:
            assert "$(" not in str(entry["value"]), entry  # no dependent expansion to mimic
            env[entry["name"]] = str(entry["value"])
            continue
        ref = entry["valueFrom"]
        [(key, spec)] = ref.items()
        kind = {"secretKeyRef": "Secret", "configMapKeyRef": "ConfigMap"}[key]
        env[entry["name"]] = source(kind, spec["name"])[spec["key"]]
    return env


def prepare(
    workload: dict,
    objects: list[dict],
    secret: dict[str, str],
    secret_name: str,
    rootfs: Path,
    folder: Path,
) -> Pod:
    """What `buildah run` needs to start the workload's one container as rendered."""
    spec = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    assert not spec.get("initContainers"), "init containers are not started here"
    [container] = spec["containers"]
    pod_context, context = spec.get("securityContext", {}), container.get("securityContext", {})
    merged = {**pod_context, **{k: v for k, v in context.items() if k in pod_context}}
    fs_group = pod_context.get("fsGroup") or (PLATFORM_UID if not merged.get("runAsUser") else 0)
    uid = merged.get("runAsUser") or PLATFORM_UID
    gid = merged.get("runAsGroup") or fs_group
    assert merged.get("runAsNonRoot") is not True or uid != 0

    options: list[str] = [f"--user={uid}:{gid}"]
    for cap in context.get("capabilities", {}).get("drop", []):
        options.append(f"--cap-drop={cap}")
    assert not context.get("capabilities", {}).get("add"), "added capabilities"
    assert not context.get("privileged"), "privileged"

    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    targets = set()
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        host = folder / "volumes" / mount["name"]
        if not host.exists():
            host.mkdir(parents=True)
            if "secret" in volume:
                assert volume["secret"]["secretName"] == secret_name
                mode = volume["secret"].get("defaultMode", 0o644)
                for key, value in secret.items():
                    (host / key).write_text(value)
                    os.chown(host / key, 0, fs_group)
                    (host / key).chmod(mode)
            elif "emptyDir" in volume:
                host.chmod(0o777)  # as the kubelet makes an emptyDir
            else:
                raise AssertionError(f"volume kind not started here: {volume}")
        target = _resolve_in(rootfs, mount["mountPath"])
        options.append(f"--volume={host}:{target}:{'ro' if mount.get('readOnly') else 'rw'}")
        targets.add(target)

    if context.get("readOnlyRootFilesystem"):
        options += read_only_root(rootfs, targets)

    argv = list(container.get("command", [])) + list(container.get("args", []))
    assert argv, "the image's CMD would run: the chart always names the command"
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", []) if "name" in p}
    probes = {
        kind: container[kind]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        if kind in container
    }
    return Pod(
        name=container["name"],
        argv=argv,
        env=_env(container, objects, secret, secret_name),
        uid=uid,
        gid=gid,
        options=tuple(options),
        ports=ports,
        probes=probes,
    )


def read_only_root(rootfs: Path, mounted: set[str]) -> list[str]:
    """Every top-level folder of the image bound read-only over itself, but those a volume is
    mounted on; /proc, /sys, /dev are the runtime's, /run holds its .containerenv (and only
    root may write there)."""
    for name in RUNTIME_FILES:
        (rootfs / name).touch()
    options = []
    for top in sorted(rootfs.iterdir()):
        if top.name in ("proc", "sys", "dev", "run") or top.is_symlink() or not top.is_dir():
            continue
        if f"/{top.name}" not in mounted:
            options.append(f"--volume={top}:/{top.name}:ro")
    return options


def probe_once(pod: Pod, probe: dict) -> bool:
    if "httpGet" in probe:
        get = probe["httpGet"]
        port = pod.ports[get["port"]] if isinstance(get["port"], str) else get["port"]
        try:
            answer = httpx.get(
                f"http://127.0.0.1:{port}{get.get('path', '/')}",
                timeout=probe.get("timeoutSeconds", 1),
                verify=tls.client_context(),  # polled: a new TLS context each poll is ~50 ms
            )
        except httpx.TransportError:
            return False
        return 200 <= answer.status_code < 400
    if "tcpSocket" in probe:
        import socket

        port = probe["tcpSocket"]["port"]
        port = pod.ports[port] if isinstance(port, str) else port
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False
    raise AssertionError(f"probe kind not polled here: {probe}")


def wait_until_probes_pass(pod: Pod, served: image_build.Served, timeout: float = 60) -> float:
    """Poll every probe of the pod until each passes; the seconds it took."""
    started = time.monotonic()
    waiting = dict(pod.probes)
    while waiting:
        for kind, probe in list(waiting.items()):
            if probe_once(pod, probe):
                del waiting[kind]
        if not waiting:
            break
        if served.process.poll() is not None:
            raise AssertionError(f"{pod.name} exited:\n{served.log()[-3000:]}")
        if time.monotonic() - started > timeout:
            raise AssertionError(
                f"{pod.name}: {sorted(waiting)} not passing:\n{served.log()[-3000:]}"
            )
        time.sleep(0.2)
    return time.monotonic() - started


class Rootfs:
    """The working container's root folder (buildah mount), read-only binds come from it."""

    def __init__(self, container: image_build.Container) -> None:
        self.container = container
        self.path = Path(image_build.buildah("mount", container.name, home=container.home))

    def unmount(self) -> None:
        image_build.buildah("umount", self.container.name, home=self.container.home)


def clean(folder: Path) -> None:
    shutil.rmtree(folder / "volumes", ignore_errors=True)
