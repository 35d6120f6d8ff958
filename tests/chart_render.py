"""The Helm chart rendered by the real Helm engine (helm-python-sdk), for the chart's tests and
the documented-deployment test: the overlays merged as `helm -f` merges them."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "helm" / "signet-signup"
RELEASE, NAMESPACE = "signup", "signup"
ENVIRONMENTS = ("default", "local", "sno", "prod")


def need(module: str) -> Any:
    """A deploy-test tool: skipped with the reason when missing locally, an error under CI."""
    import pytest

    if os.environ.get("CI"):
        return __import__(module)
    return pytest.importorskip(
        module, reason=f"{module}: pip install -e '.[deploy-test]' (make test does)"
    )


def merge(base: dict, overlay: dict) -> dict:
    """Helm's own merge of -f files: maps merge key by key, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def defaults() -> dict:
    import yaml

    return yaml.safe_load((CHART / "values.yaml").read_text())


def overlay(environment: str) -> dict:
    import yaml

    if environment == "default":
        return {}
    return yaml.safe_load((CHART / f"values-{environment}.yaml").read_text())


def render_files(values: dict | None = None, *, upgrade: bool = False) -> dict[str, str]:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    return chart.render(
        values or {},
        name=RELEASE,
        namespace=NAMESPACE,
        is_install=not upgrade,
        is_upgrade=upgrade,
    )


def render(values: dict | None = None, *, upgrade: bool = False) -> list[dict]:
    """Every object the chart renders with these values, hooks included."""
    import yaml

    return [
        doc
        for path, text in sorted(render_files(values, upgrade=upgrade).items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def notes(values: dict | None = None) -> str:
    [text] = [t for p, t in render_files(values).items() if p.endswith("NOTES.txt")]
    return text


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, suffix: str) -> dict:
    [found] = [o for o in of_kind(objects, kind) if o["metadata"]["name"].endswith(suffix)]
    return found


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def policies(objects: list[dict]) -> dict[str, dict]:
    return {
        o["metadata"]["name"].removeprefix(f"{RELEASE}-signet-signup-"): o["spec"]
        for o in of_kind(objects, "NetworkPolicy")
    }


def selects(selector: dict, labels: dict) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        if (
            expression["operator"] != "In"
            or labels.get(expression["key"]) not in expression["values"]
        ):
            return False
    return True
