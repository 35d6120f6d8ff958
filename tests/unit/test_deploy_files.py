"""The single-host compose file and the image workflow, read as data: they run the image's own
commands, hardened as the chart runs them, and tag the image with the package version and SHA."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml") if not os.environ.get("CI") else __import__("yaml")

ROOT = Path(__file__).resolve().parents[2]


def _scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def test_compose_runs_the_image_commands_read_only_and_unprivileged():
    services = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    app = {name: services[name] for name in ("api", "worker", "migrate")}
    assert len({s["image"] for s in app.values()}) == 1
    for name, service in app.items():
        assert service["command"][0] in _scripts(), name
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
    assert app["migrate"]["command"] == ["signupctl", "migrate"]
    # The image's HEALTHCHECK probes the API's port, which the worker does not have.
    assert app["worker"]["healthcheck"] == {"disable": True}
    assert all(p.startswith("127.0.0.1:") for p in app["api"]["ports"])


def test_image_workflow_tags_with_the_package_version_and_the_git_sha():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "image.yaml").read_text())
    steps = workflow["jobs"]["build"]["steps"]
    [push] = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action")]
    tags = push["with"]["tags"].splitlines()
    assert "${{ env.IMAGE }}:${{ steps.version.outputs.version }}" in tags
    assert "${{ env.IMAGE }}:sha-${{ github.sha }}" in tags
    assert "REVISION=${{ github.sha }}" in push["with"]["build-args"]
    assert push["with"]["file"] == "Containerfile"
    [version] = [s for s in steps if s.get("id") == "version"]
    assert "pyproject.toml" in version["run"]


def test_release_workflow_packages_the_chart_and_pushes_it_as_an_oci_artefact():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "image.yaml").read_text())
    job = workflow["jobs"]["chart"]
    assert job["needs"] == "build"  # next to the image it names, never before it
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    [package] = [s for s in steps if "helm package helm/signet-signup" in s.get("run", "")]
    [push] = [s for s in steps if s.get("run", "").startswith("helm push")]
    [login] = [s for s in steps if "helm registry login ghcr.io" in s.get("run", "")]
    assert any("helm lint --strict helm/signet-signup" in r for r in runs)
    # The pushed file is the packaged one, to the same registry as the image, as OCI.
    assert f"${{{{ steps.{package['id']}.outputs.file }}}}" in push["run"]
    assert '"oci://ghcr.io/' in push["run"]
    assert "--password-stdin" in login["run"]
    # Pull requests package without pushing, as they build the image without pushing.
    for step in (login, push):
        assert step["if"] == "github.event_name != 'pull_request'"
    assert runs.index(login["run"]) < runs.index(push["run"])
    assert runs.index(package["run"]) < runs.index(push["run"])
    # Helm 3.8+ pushes OCI charts; the setup step pins a version.
    [setup] = [s for s in steps if s.get("uses", "").startswith("azure/setup-helm@")]
    assert re.fullmatch(r"v3\.(\d+)\.\d+", setup["with"]["version"])
    assert int(setup["with"]["version"].split(".")[1]) >= 8
