"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) for every environment,
linted strictly, and every object checked offline against the Kubernetes schemas of a pinned
version (kubernetes-validate); custom resources against their required fields.

Needs the `deploy-test` extra (heavy; `make test` installs it); skipped without it unless CI.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.chart_render import (
    CHART,
    ENVIRONMENTS,
    RELEASE,
    merge,
    named,
    need,
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


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def environment(request) -> tuple[str, dict, list[dict]]:
    values = overlay(request.param)
    return request.param, values, render(values)


def workloads(objects: list[dict]) -> list[dict]:
    """Deployments, Jobs and the `helm test` Pod: everything that runs a pod."""
    return of_kind(objects, "Deployment") + of_kind(objects, "Job") + of_kind(objects, "Pod")


def spec_of(workload: dict) -> dict:
    return workload["spec"] if workload["kind"] == "Pod" else pod_spec(workload)


def labels_of(workload: dict) -> dict:
    if workload["kind"] == "Pod":
        return workload["metadata"]["labels"]
    return workload["spec"]["template"]["metadata"]["labels"]


# --- Helm itself -----------------------------------------------------------------------------


def test_release_name_is_valid():
    helm.validate_release_name(RELEASE)


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_chart_lints_strictly(name):
    report = helm.lint(str(CHART), overlay(name), strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["errors"] == [], report
    # Severity 1 is INFO ("icon is recommended"); warnings and errors fail.
    assert [m for m in report["messages"] if m["severity"] > 1] == [], report["messages"]


def test_app_version_is_the_package_version_and_the_default_image_tag():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    api = named(render(), "Deployment", "-api")
    assert pod_spec(api)["containers"][0]["image"].endswith(f":{version}")


# --- Kubernetes schemas ----------------------------------------------------------------------

# Custom resources kubernetes-validate has no schema for: the fields each one cannot do without.
REQUIRED_CR_FIELDS = {
    "VaultStaticSecret": ("mount", "type", "path", "destination.name", "refreshAfter"),
    "ServiceMonitor": ("selector.matchLabels", "endpoints"),
    "PrometheusRule": ("groups",),
    "Route": ("to.kind", "to.name", "port.targetPort", "tls.termination"),
}


def dig(obj: dict, dotted: str) -> Any:
    for key in dotted.split("."):
        obj = obj[key]
    return obj


def test_every_object_is_valid_for_kubernetes(environment):
    _, _, objects = environment
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in REQUIRED_CR_FIELDS:
            for field in REQUIRED_CR_FIELDS[obj["kind"]]:
                assert dig(obj["spec"], field), f"{where}: spec.{field} is empty"
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            raise AssertionError(f"{where}: {e.message} at {list(e.absolute_path)}") from None


def test_prometheus_rule_entries_are_well_formed(environment):
    _, _, objects = environment
    for rule_set in of_kind(objects, "PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            assert group["name"] and isinstance(group["rules"], list), group
            for rule in group["rules"]:
                assert ("alert" in rule) != ("record" in rule) and rule["expr"], rule


# --- Security, probes, resources in every environment ----------------------------------------


def test_every_pod_runs_non_root_read_only_without_privileges(environment):
    name, _, objects = environment
    assert workloads(objects)
    for workload in workloads(objects):
        spec = spec_of(workload)
        where = f"{name}: {workload['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security.get("privileged", False) is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert not security["capabilities"].get("add"), where
            # The one place the image writes: /tmp, on an emptyDir.
            tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert tmp, where
            [volume] = [v for v in spec["volumes"] if v["name"] == tmp[0]["name"]]
            assert "emptyDir" in volume, where


def test_openshift_lets_the_platform_choose_the_user():
    spec = pod_spec(named(render(overlay("sno")), "Deployment", "-api"))
    assert "runAsUser" not in spec["securityContext"], spec["securityContext"]
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_every_container_has_requests_and_limits(environment):
    name, _, objects = environment
    for workload in workloads(objects):
        for container in spec_of(workload)["containers"]:
            resources = container["resources"]
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(part, {})), (name, workload)


def test_api_probes_are_healthz_and_readyz_and_the_worker_is_probed(environment):
    name, _, objects = environment
    [api] = pod_spec(named(objects, "Deployment", "-api"))["containers"]
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
    [worker] = pod_spec(named(objects, "Deployment", "-worker"))["containers"]
    assert worker["livenessProbe"]["tcpSocket"] == {"port": "metrics"}, name
    # Ready only while consuming (signup_worker.readiness), so a rollout waits for it.
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}, name


def test_deployments_spread_over_nodes(environment):
    name, _, objects = environment
    for deployment in of_kind(objects, "Deployment"):
        spread = pod_spec(deployment)["topologySpreadConstraints"]
        labels = deployment["spec"]["selector"]["matchLabels"]
        keys = {c["topologyKey"] for c in spread}
        assert "kubernetes.io/hostname" in keys, name
        assert all(c["labelSelector"]["matchLabels"] == labels for c in spread), name


# --- Secrets ---------------------------------------------------------------------------------


def test_no_secret_is_rendered_and_secrets_arrive_as_files(environment):
    name, values, objects = environment
    assert not of_kind(objects, "Secret"), name
    keys = set(merge(_defaults(), values)["secrets"]["keys"])
    for workload in workloads(objects):
        spec = spec_of(workload)
        [volume] = [v for v in spec["volumes"] if "secret" in v]
        for container in spec["containers"]:
            env = {e["name"]: e for e in container["env"]}
            # Each secret key as NAME_FILE pointing into the Secret's volume; never as a value.
            assert not keys & set(env), (name, keys & set(env))
            for key in keys:
                assert env[f"{key}_FILE"]["value"].endswith(f"/{key}"), (name, key)
            assert all("valueFrom" not in e for e in container["env"]), name
        assert volume["secret"]["secretName"] == merge(_defaults(), values)["secrets"]["name"]


def test_no_rendered_manifest_holds_a_secret_value():
    secret_values = {
        "DATABASE_URL": "postgresql://signup:pg-password-canary@db/signup",
        "SIGNUP_SIGNING_KEY": "signing-key-canary-0123456789abcdef0123456789",
    }
    # Whatever a careless overlay tries, the values never reach a manifest.
    attempts = [{"config": {k: v}} for k, v in secret_values.items()]
    for values in attempts:
        with pytest.raises(helm.HelmError):
            render(values)
    text = yaml.safe_dump_all(render(merge(overlay("prod"), {"secrets": {"keys": ["X_KEY"]}})))
    for value in secret_values.values():
        assert value not in text


def test_vault_static_secret_produces_the_secret_the_pods_read_and_restarts_them():
    values = overlay("prod")
    objects = render(values)
    [vss] = of_kind(objects, "VaultStaticSecret")
    assert vss["apiVersion"] == "secrets.hashicorp.com/v1beta1"
    assert vss["spec"]["path"] == values["secrets"]["vault"]["path"]
    assert vss["spec"]["destination"] == {"name": _defaults()["secrets"]["name"], "create": True}
    deployments = {d["metadata"]["name"] for d in of_kind(objects, "Deployment")}
    restarted = {t["name"] for t in vss["spec"]["rolloutRestartTargets"]}
    assert restarted == deployments
    assert not of_kind(render(), "VaultStaticSecret")


# --- NetworkPolicies -------------------------------------------------------------------------


def test_network_policies_deny_by_default_and_open_only_what_is_needed(environment):
    name, values, objects = environment
    net = merge(_defaults(), values)["networkPolicy"]
    found = policies(objects)

    # Every pod of the release is under the deny-all policy, in and out.
    deny = found["default-deny"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}, name
    assert "ingress" not in deny and "egress" not in deny, name
    for workload in workloads(objects):
        labels = labels_of(workload)
        assert selects(deny["podSelector"], labels), (name, labels)

    # The public port from the ingress controller's namespace, to the API only.
    api = found["api-ingress"]
    assert api["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "api"
    [rule] = api["ingress"]
    assert rule["from"] == [{"namespaceSelector": net["ingressNamespaceSelector"]}], name
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}], name

    # The metrics ports from Prometheus' namespace only.
    [rule] = found["metrics-ingress"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": net["prometheusNamespaceSelector"]}], name
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}], name

    # Out: DNS, PostgreSQL and Redis at their configured addresses and ports.
    egress = found["egress"]["egress"]
    dns = egress[0]
    assert {p["port"] for p in dns["ports"]} == set(net["dns"]["ports"]), name
    for dependency in ("postgres", "redis"):
        if not net[dependency]["cidrs"]:
            continue
        assert {
            "to": [{"ipBlock": {"cidr": c}} for c in net[dependency]["cidrs"]],
            "ports": [{"port": net[dependency]["port"], "protocol": "TCP"}],
        } in egress, (name, dependency)
    if net["mail"]["cidrs"]:
        mail = found["worker-mail"]
        # The worker sends; the helm test Pod checks the transport; the API never reaches it.
        for component, allowed in (("worker", True), ("test", True), ("api", False)):
            labels = {**labels_of(workloads(objects)[0]), "app.kubernetes.io/component": component}
            assert selects(mail["podSelector"], labels) is allowed, (name, component)
        assert {p["port"] for p in mail["egress"][0]["ports"]} == set(net["mail"]["ports"])
    otlp = net["otlp"]
    if otlp["enabled"]:
        assert any(r["ports"] == [{"port": otlp["port"], "protocol": "TCP"}] for r in egress)
    # Nothing open to everywhere on every port.
    for policy in found.values():
        for rule in policy.get("egress", []) + policy.get("ingress", []):
            assert rule.get("ports"), (name, rule)


def test_sentinel_egress_opens_the_sentinel_port_to_its_addresses():
    values = {"networkPolicy": {"redis": {"cidrs": ["10.1.2.0/24"]},
                                "sentinel": {"cidrs": ["10.1.3.0/24"]}}}  # fmt: skip
    egress = policies(render(values))["egress"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "10.1.3.0/24"}}],
            "ports": [{"port": 26379, "protocol": "TCP"}]} in egress  # fmt: skip
    assert {"to": [{"ipBlock": {"cidr": "10.1.2.0/24"}}],
            "ports": [{"port": 6379, "protocol": "TCP"}]} in egress  # fmt: skip


def test_every_environment_has_dependency_addresses(environment):
    name, values, _ = environment
    if name == "default":
        return  # the defaults allow no dependency until an overlay names it
    net = merge(_defaults(), values)["networkPolicy"]
    for dependency in ("postgres", "redis", "mail"):
        assert net[dependency]["cidrs"], (name, dependency)


# --- Metrics, monitoring, routing ------------------------------------------------------------


def test_metrics_ports_are_named_and_set_by_their_variables(environment):
    name, values, objects = environment
    metrics = merge(_defaults(), values)["metrics"]
    for suffix, variable, port in (
        ("-api", "SIGNUP_METRICS_PORT", metrics["apiPort"]),
        ("-worker", "SIGNUP_WORKER_METRICS_PORT", metrics["workerPort"]),
    ):
        [container] = pod_spec(named(objects, "Deployment", suffix))["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[variable] == str(port), (name, suffix)
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
    service = named(objects, "Service", "-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    # The public Service never exposes a metrics port.
    public = named(objects, "Service", "signet-signup")
    assert [p["targetPort"] for p in public["spec"]["ports"]] == ["http"]


def test_service_monitor_selects_the_metrics_service():
    objects = render(merge(overlay("prod"), {}))
    [monitor] = of_kind(objects, "ServiceMonitor")
    service = named(objects, "Service", "-metrics")
    assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    assert not selects(
        monitor["spec"]["selector"], named(objects, "Service", "signup")["metadata"]["labels"]
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert not of_kind(render(), "ServiceMonitor")


def test_prometheus_rule_is_the_repository_alert_rules_file_itself():
    link = CHART / "files" / "alerts.yaml"
    source = ROOT / "deploy" / "prometheus" / "alerts.yaml"
    assert link.is_symlink() and link.resolve() == source.resolve()
    [rule] = of_kind(render(overlay("prod")), "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(source.read_text())
    assert not of_kind(render(), "PrometheusRule")


def test_prod_ingress_has_tls_from_cert_manager():
    values = overlay("prod")
    [ingress] = of_kind(render(values), "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert (
        annotations["cert-manager.io/cluster-issuer"] == values["ingress"]["tls"]["clusterIssuer"]
    )
    [tls] = ingress["spec"]["tls"]
    assert tls["hosts"] == [values["ingress"]["host"]] and tls["secretName"]


def test_sno_uses_a_route_instead_of_an_ingress():
    objects = render(overlay("sno"))
    assert not of_kind(objects, "Ingress")
    [route] = of_kind(objects, "Route")
    assert route["spec"]["to"]["name"] == named(objects, "Service", "signup")["metadata"]["name"]
    assert route["spec"]["tls"]["termination"] == "edge"
    with pytest.raises(helm.HelmError, match="choose one"):
        render({"route": {"enabled": True}})


def test_disruption_budgets_only_where_more_than_one_pod_runs():
    single = render({"api": {"replicas": 1}, "worker": {"replicas": 1}})
    assert not of_kind(single, "PodDisruptionBudget")
    prod = render(overlay("prod"))
    budgets = {p["metadata"]["name"] for p in of_kind(prod, "PodDisruptionBudget")}
    assert budgets == {f"{RELEASE}-signet-signup-api", f"{RELEASE}-signet-signup-worker"}
    [hpa] = of_kind(prod, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == f"{RELEASE}-signet-signup-api"
    assert "replicas" not in named(prod, "Deployment", "-api")["spec"]


def test_migrations_run_as_a_hook_with_signupctl():
    job = named(render(), "Job", "-migrate")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    [container] = pod_spec(job)["containers"]
    assert container["args"] == ["signupctl", "migrate"]
    # With Vault the Secret exists only after install: the Job runs once it can read it.
    vault_job = named(render(overlay("prod")), "Job", "-migrate")
    assert vault_job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,pre-upgrade"


# --- The values schema -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"api": {"replicas": "two"}},
        {"api": {"port": 0}},
        {"worker": {"resources": "small"}},
        {"metrics": {"apiPort": "9100"}},
        {"ingress": {"tls": {"enabled": "yes"}}},
        {"networkPolicy": {"postgres": {"cidrs": "10.0.0.0/8"}}},
        {"networkPolicy": {"enabled": "false"}},
        {"securityContext": {"readOnlyRootFilesystem": False}},
        {"podSecurityContext": {"runAsNonRoot": False}},
        {"secrets": {"vault": {"enabled": 1}}},
        {"config": {"SMTP_PASSWORD": "x"}},
        {"config": {"SIGNUP_ADMIN_PORT": "8001"}},
        {"config": {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}},
        {"admin": {"enabled": True, "jwks": {"url": "http://idp/jwks"}}},
        {"admin": {"from": {"namespaceSelector": "ops"}}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"unknownTopLevel": True},
    ],
    ids=repr,
)
def test_a_wrong_value_fails_the_schema(values):
    with pytest.raises(helm.HelmError, match="schema"):
        render(values)


def _defaults() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def test_overlays_hold_only_keys_the_defaults_know():
    def unknown(overlay: dict, base: dict, path: str = "") -> list[str]:
        out = []
        for key, value in overlay.items():
            if key not in base and not path.endswith(("config", "labels", "matchLabels")):
                out.append(f"{path}.{key}")
            elif isinstance(value, dict) and isinstance(base.get(key), dict):
                out += unknown(value, base[key], f"{path}.{key}")
        return out

    for name in ENVIRONMENTS[1:]:
        assert unknown(overlay(name), _defaults()) == [], name


def test_chart_templates_name_no_hard_coded_namespace():
    for template in (CHART / "templates").glob("*.yaml"):
        assert not re.search(r"^\s*namespace:", template.read_text(), re.M), template.name
