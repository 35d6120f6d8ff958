"""The chart's optional parts and promises beyond the basics of test_chart.py: the admin
listener behind admin.enabled, traces over the installed OTLP exporter, the `helm test` Pod,
NOTES.txt's next steps, one repository name everywhere. Rendered by the real Helm engine and
validated against Kubernetes 1.30's schemas, as in test_chart.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.chart_render import (
    CHART,
    ENVIRONMENTS,
    defaults,
    merge,
    named,
    need,
    notes,
    of_kind,
    overlay,
    pod_spec,
    policies,
    render,
    selects,
)

ROOT = Path(__file__).resolve().parents[2]
KUBE_VERSION = "1.30.0"


helm = need("helm_python")
kubernetes_validate = need("kubernetes_validate")
yaml = need("yaml")
CUSTOM_RESOURCES = ("VaultStaticSecret", "ServiceMonitor", "PrometheusRule", "Route")


ADMIN = {
    "enabled": True,
    "jwks": {
        "url": "https://idp.example.org/.well-known/jwks.json",
        "egress": {"cidrs": ["192.0.2.0/24"], "port": 443},
    },
    "issuer": "https://idp.example.org/",
    "from": {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ops"}},
        "podSelector": {"matchLabels": {"app": "ops-console"}},
    },
}


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_admin_enabled_renders_its_port_service_port_and_network_policy(name):
    values = merge(overlay(name), {"admin": ADMIN})
    objects = render(values)
    for obj in objects:
        if obj["kind"] not in CUSTOM_RESOURCES:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    [api] = pod_spec(named(objects, "Deployment", "-api"))["containers"]
    port = defaults()["admin"]["port"]
    assert {"name": "admin", "containerPort": port, "protocol": "TCP"} in api["ports"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["SIGNUP_ADMIN_PORT"] == str(port)
    assert env["SIGNUP_ADMIN_JWKS"] == ADMIN["jwks"]["url"]
    assert env["SIGNUP_ADMIN_JWT_ISSUER"] == ADMIN["issuer"]
    # The worker has no admin listener.
    [worker] = pod_spec(named(objects, "Deployment", "-worker"))["containers"]
    assert not any(e["name"].startswith("SIGNUP_ADMIN") for e in worker["env"])

    service = named(objects, "Service", "signet-signup")
    assert {"name": "admin", "port": port, "targetPort": "admin", "protocol": "TCP"} in service[
        "spec"
    ]["ports"]
    # The public routes still reach "http" only.
    for ingress in of_kind(objects, "Ingress"):
        backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]
        assert backend["service"]["port"] == {"name": "http"}

    found = policies(objects)
    [rule] = found["admin-ingress"]["ingress"]
    assert rule["from"] == [ADMIN["from"]]
    assert rule["ports"] == [{"port": "admin", "protocol": "TCP"}]
    assert found["admin-ingress"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == (
        "api"
    )
    # The JWKS URL's host is reachable from the API pods, on its port only.
    [egress] = found["admin-jwks"]["egress"]
    assert egress == {"to": [{"ipBlock": {"cidr": "192.0.2.0/24"}}], "ports": [
        {"port": 443, "protocol": "TCP"}
    ]}  # fmt: skip
    assert "Admin API" in notes(values)


def test_admin_is_off_by_default_and_refuses_to_render_without_a_way_to_verify_tokens():
    objects = render()
    [api] = pod_spec(named(objects, "Deployment", "-api"))["containers"]
    assert [p["name"] for p in api["ports"]] == ["http", "metrics"]
    assert "admin-ingress" not in policies(objects)
    with pytest.raises(helm.HelmError, match=r"admin\.enabled needs"):
        render({"admin": {"enabled": True}})
    with pytest.raises(helm.HelmError, match=r"egress\.cidrs"):
        render({"admin": {"enabled": True, "issuer": "x", "jwks": {"url": "https://idp/jwks"}}})
    with pytest.raises(helm.HelmError, match=r"admin\.issuer"):
        render({"admin": {"enabled": True, "jwks": {"secretKey": "ADMIN_JWKS"}}})


def test_admin_keys_come_as_files_from_secrets():
    keys = {"name": "signet-signup-admin-keys", "key": "k.json"}
    values = {
        "admin": {
            "enabled": True,
            "jwks": {"secretKey": "ADMIN_JWKS"},
            "issuer": "idp",
            "keysSecret": keys,
        }
    }
    objects = render(values)
    spec = pod_spec(named(objects, "Deployment", "-api"))
    [api] = spec["containers"]
    env = {e["name"]: e.get("value") for e in api["env"]}
    mounts = {m["name"]: m for m in api["volumeMounts"]}
    # The JWKS document: a key of the pods' Secret.
    assert env["SIGNUP_ADMIN_JWKS"] == f"{mounts['secrets']['mountPath']}/ADMIN_JWKS"
    # The service's own keys: the Secret the key-rotation runbook makes, mounted whole (no
    # subPath, so a rotation reaches the pods) and read-only.
    assert env["SIGNUP_ADMIN_KEYS_FILE"] == f"{mounts['admin-keys']['mountPath']}/k.json"
    assert mounts["admin-keys"]["readOnly"] is True and "subPath" not in mounts["admin-keys"]
    [volume] = [v for v in spec["volumes"] if v["name"] == "admin-keys"]
    assert volume["secret"]["secretName"] == "signet-signup-admin-keys"
    # A file, not a URL: no egress is opened for it.
    assert "admin-jwks" not in policies(objects)
    kubernetes_validate.validate(named(objects, "Deployment", "-api"), KUBE_VERSION, strict=True)


def test_otlp_egress_is_the_http_exporters_port():
    """The image installs opentelemetry-exporter-otlp-proto-http: OTLP over HTTP, port 4318."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "opentelemetry-exporter-otlp-proto-http" in pyproject
    assert "opentelemetry-exporter-otlp-proto-grpc" not in pyproject
    values = overlay("prod")
    egress = policies(render(values))["egress"]["egress"]
    assert {"port": 4318, "protocol": "TCP"} in [p for rule in egress for p in rule["ports"]]
    assert values["config"]["OTEL_TRACES_EXPORTER"] == "otlp"
    assert values["config"]["OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
    with pytest.raises(helm.HelmError, match="schema"):
        render({"config": {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}})


def test_helm_test_hook_runs_signupctl_doctor_with_the_pods_settings():
    objects = render()
    [pod] = of_kind(objects, "Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [doctor] = pod["spec"]["containers"]
    assert doctor["args"] == ["signupctl", "doctor"]
    # An air-gapped site (or a test) names the DNS server for the sender-domain checks.
    [named_resolver] = of_kind(render({"tests": {"resolver": "10.0.0.53:53"}}), "Pod")
    assert named_resolver["spec"]["containers"][0]["args"][2:] == ["--resolver", "10.0.0.53:53"]
    with pytest.raises(helm.HelmError, match="schema"):
        render({"tests": {"resolver": "10.0.0.53"}})
    assert pod["spec"]["restartPolicy"] == "Never"
    [api] = pod_spec(named(objects, "Deployment", "-api"))["containers"]
    shared = {e["name"] for e in api["env"]} - {"HOST", "PORT", "SIGNUP_METRICS_PORT"}
    assert shared <= {e["name"] for e in doctor["env"]}
    # It may reach the mail relay, as the worker does, to check the transport.
    net = merge(defaults(), overlay("prod"))
    mail = policies(render(overlay("prod")))["worker-mail"]["podSelector"]
    assert selects(mail, pod["metadata"]["labels"]) and net["networkPolicy"]["mail"]["cidrs"]


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_notes_say_what_to_do_next(name):
    text = notes(overlay(name))
    assert "signupctl secrets new" in text
    assert "--format vault" in text if overlay(name).get("secrets", {}).get("vault") else True
    for step in ("DNS", "SPF", "DKIM", "DMARC", "/webhooks/", "helm test", "signupctl doctor"):
        assert step in text, (name, step)


def test_one_organisation_and_repository_name_everywhere():
    """The image reference, the chart's home and sources, the alerts' runbook URLs, the OCI
    source label and the compose file name the same GitHub repository."""
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    repo = chart["home"].removeprefix("https://github.com/")
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", repo), chart["home"]
    assert chart["sources"] == [chart["home"]]
    assert defaults()["image"]["repository"] == f"ghcr.io/{repo}"
    containerfile = (ROOT / "Containerfile").read_text()
    assert f"ARG SOURCE=https://github.com/{repo}\n" in containerfile
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert compose["x-app"]["image"].startswith(f"${{SIGNUP_IMAGE:-ghcr.io/{repo}:")
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text())
    urls = [r["annotations"]["runbook_url"] for g in alerts["groups"] for r in g["rules"]]
    assert urls and all(u.startswith(f"https://github.com/{repo}/blob/main/") for u in urls)
    for doc in ("docs/deploy.md", "docs/runbooks/vault-secrets.md"):
        text = (ROOT / doc).read_text()
        for found in re.findall(r"ghcr\.io/[\w.-]+/[\w.-]+(?:/[\w.-]+)?", text):
            # The image, or the chart the release workflow pushes beside it.
            owner = repo.split("/")[0]
            assert found in (f"ghcr.io/{repo}", f"ghcr.io/{owner}/charts/signet-signup"), found
