"""Every HTML page: strict headers, the visitor's language, the site's branding; HTML error
pages for browsers while API clients keep problem details."""

from __future__ import annotations

import uuid

import pytest

from signup_core import unsubscribe_links
from signup_core.settings import load_settings
from tests.integration.test_signup import rows
from tests.support import app_client

BRANDED = {
    "SIGNUP_SITE_NAME": "Fieldnotes",
    "SIGNUP_SITE_URL": "https://fieldnotes.example/",
    "SIGNUP_LIST_TITLES": "newsletter=Fieldnotes Weekly",
    "SIGNUP_PRIVACY_URL": "https://fieldnotes.example/privacy",
    "SIGNUP_ACCENT_COLOUR": "#0f766e",
}
PAGES = ["/", "/thanks", "/oops?reason=rate-limited", "/confirm?token=x", "/unsubscribe?token=x"]


@pytest.mark.parametrize("path", [*PAGES, "/no-such-page"])
async def test_every_page_has_a_strict_policy(client, path):
    page = await client.get(path, headers={"accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert "<script>" not in page.text and " style=" not in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


async def test_embedding_is_allowed_only_where_configured(env, db):
    async with app_client({**env, "SIGNUP_FRAME_ANCESTORS": "https://www.example.com"}) as c:
        page = await c.get("/")
    assert "frame-ancestors https://www.example.com;" in page.headers["content-security-policy"]


async def test_pages_speak_the_browsers_language(client):
    page = await client.get("/", headers={"accept-language": "de-CH,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in page.text and "In die Liste eintragen" in page.text
    assert 'name="locale" value="de"' in page.text


async def test_api_clients_get_problems_in_the_forms_language(client, db):
    answer = await client.post("/signup", json={"email": "jemand@example", "locale": "de"})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert answer.json()["errors"][0]["detail"].startswith("Diese Adresse sieht nicht richtig")


@pytest.mark.parametrize(
    ("method", "path", "status"), [("GET", "/nope", 404), ("GET", "/signup", 405)]
)
async def test_browsers_get_error_pages_and_api_clients_problems(client, method, path, status):
    page = await client.request(method, path, headers={"accept": "text/html,*/*;q=0.8"})
    assert page.status_code == status and page.headers["content-type"].startswith("text/html")
    assert "<h1>" in page.text
    api = await client.request(method, path, headers={"accept": "application/json"})
    assert api.status_code == status
    assert api.headers["content-type"] == "application/problem+json"


async def test_branding_shows_on_the_pages_and_in_the_style_sheet(env, db):
    async with app_client({**env, **BRANDED}) as c:
        page = await c.get("/")
        style = await c.get("/assets/site.css")
        script = await c.get("/assets/signup.js")
    assert "<title>Join the list · Fieldnotes</title>" in page.text
    assert 'href="https://fieldnotes.example/privacy"' in page.text
    assert 'href="https://fieldnotes.example/"' in page.text
    assert "--accent: #0f766e;" in style.text and style.headers["content-type"].startswith(
        "text/css"
    )
    assert script.headers["content-type"].startswith("text/javascript")


async def test_the_kit_form_is_the_landing_pages_form_with_absolute_addresses(client):
    kit = await client.get("/kit/form.html", params={"lang": "de"})
    assert 'action="http://signup.test/signup"' in kit.text
    assert "E-Mail-Adresse" in kit.text and "<html" not in kit.text
    landing = await client.get("/")
    assert 'action="/signup"' in landing.text and "data-signup" in landing.text


async def test_unsubscribe_page_names_the_list_and_masks_the_address(env, db):
    email = f"jo-{uuid.uuid4().hex[:8]}@example.com"
    async with app_client({**env, **BRANDED}) as c:
        await c.post("/signup", json={"email": email})
        [row] = await rows(db, email)
        token = unsubscribe_links.sign(load_settings(env), row["unsubscribe_id"])
        page = await c.get("/unsubscribe", params={"token": token})
        done = await c.post("/unsubscribe", params={"token": token})
    assert "Unsubscribe from Fieldnotes Weekly?" in page.text
    assert "j•••@example.com" in page.text and email not in page.text
    assert "Fieldnotes Weekly" in done.text and 'href="https://fieldnotes.example/"' in done.text
    # The body leads back to the site; the footer does not say it a second time.
    assert done.text.count("Back to Fieldnotes") == 1


async def test_a_templates_folder_overrides_pages(env, db, tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "thanks.html").write_text(
        '{% extends "base.html" %}{% block body %}<h1>Merci, {{ site_name }}</h1>{% endblock %}'
    )
    async with app_client({**env, "SIGNUP_TEMPLATES_DIR": str(tmp_path)}) as c:
        thanks = await c.get("/thanks")
        landing = await c.get("/")
    assert "<h1>Merci, signet-signup</h1>" in thanks.text
    assert "Join the list" in landing.text


async def test_the_confirmed_page_leads_back_to_the_site_once(env, db, worker):
    from tests.integration.test_confirm import pending_with_token

    async with app_client({**env, **BRANDED}) as c:
        _, token = await pending_with_token(c, db)
        done = await c.post("/confirm", data={"token": token})
    assert "You are on the list" in done.text
    assert done.text.count("Back to Fieldnotes") == 1
