"""One list of what a deployment must provide, from the settings themselves
(signup_core.settings.variables()), checked against every place that tells a site owner what to
set: the chart's default secrets.keys and config, its NOTES.txt, the compose file with the .env
docs/deploy.md writes, the Secret docs/deploy.md's kubectl recipe applies, and what
docs/runbooks/vault-secrets.md's `vault kv put` stores. The recipes are run as written
(tests/doc_recipes.py), so a document that forgets a variable fails here, not at a first start.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from signup_core.settings import variables
from tests import chart_render, doc_recipes

yaml = pytest.importorskip("yaml") if not os.environ.get("CI") else __import__("yaml")
ROOT = Path(__file__).resolve().parents[2]


def required() -> set[str]:
    return {v.env for v in variables() if v.required}


def required_secrets() -> set[str]:
    return {v.env for v in variables() if v.required and v.secret}


def test_the_list_is_what_the_settings_refuse_to_start_without():
    from signup_core.settings import ConfigError, load_settings

    with pytest.raises(ConfigError) as refused:
        load_settings({})
    named = set(re.findall(r"([A-Z][A-Z0-9_]+) is required but not set", str(refused.value)))
    assert named == required()
    # Everything required but PUBLIC_BASE_URL is a secret: it goes in the Secret, not config.
    assert required() - required_secrets() == {"PUBLIC_BASE_URL"}


def test_chart_defaults_list_every_required_variable():
    values = chart_render.defaults()
    keys, config = set(values["secrets"]["keys"]), set(values["config"])
    assert required_secrets() <= keys, required_secrets() - keys
    assert required() - required_secrets() <= config, required() - config
    # A secret in config would be rendered into the manifests; the schema refuses it too.
    assert not required_secrets() & config


def test_chart_notes_name_every_required_variable():
    pytest.importorskip("helm_python") if not os.environ.get("CI") else None
    text = chart_render.notes()
    missing = {name for name in required() if not re.search(rf"\b{name}\b", text)}
    assert not missing, f"NOTES.txt does not name {sorted(missing)}:\n{text}"


def test_compose_file_with_the_documented_env_provides_every_required_variable(tmp_path):
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    env = doc_recipes.compose_env(tmp_path)
    for name in ("api", "worker", "migrate"):
        service = compose["services"][name]
        assert service["env_file"] == ".env", name
        provided = set(service.get("environment", {})) | set(env)
        assert required() <= provided, (name, sorted(required() - provided))
    # The compose file's own ${VARIABLE:?...} references are in the .env too.
    text = (ROOT / "deploy" / "compose.yaml").read_text()
    for name in set(re.findall(r"\$\{([A-Z_]+):\?", text)):
        assert env.get(name), name


def test_documented_kubectl_secret_holds_every_required_secret_under_the_charts_name(tmp_path):
    manifest = doc_recipes.kubernetes_secret(tmp_path)
    values = chart_render.defaults()
    assert manifest["kind"] == "Secret"
    assert manifest["metadata"]["name"] == values["secrets"]["name"]
    keys = set(manifest.get("stringData", {})) | set(manifest.get("data", {}))
    assert required_secrets() <= keys, sorted(required_secrets() - keys)
    # And every key the chart's pods read as a file is there (a missing one stops the pods).
    assert set(values["secrets"]["keys"]) <= keys, set(values["secrets"]["keys"]) - keys


def test_documented_vault_put_holds_every_required_secret_at_the_charts_path(tmp_path):
    path, keys = doc_recipes.vault_put(tmp_path)
    vault = chart_render.merge(chart_render.defaults(), chart_render.overlay("prod"))
    assert path == f"{vault['secrets']['vault']['mount']}/{vault['secrets']['vault']['path']}"
    assert required_secrets() <= set(keys), sorted(required_secrets() - set(keys))
    assert set(vault["secrets"]["keys"]) <= set(keys)


def test_every_recipe_runs_the_charts_default_image(tmp_path):
    """The documents' `docker run` name the image the chart and compose deploy by default."""
    values = chart_render.defaults()
    chart = yaml.safe_load((chart_render.CHART / "Chart.yaml").read_text())
    image = f"{values['image']['repository']}:{chart['appVersion']}"
    doc_recipes.compose_env(tmp_path / "compose")
    doc_recipes.kubernetes_secret(tmp_path / "kubectl")
    doc_recipes.vault_put(tmp_path / "vault")
    for folder in ("compose", "kubectl", "vault"):
        assert doc_recipes.images(tmp_path / folder) == {image}, folder
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert compose["x-app"]["image"] == f"${{SIGNUP_IMAGE:-{image}}}"
