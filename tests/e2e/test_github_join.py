"""Join with GitHub in Chromium, JS on and off, with GitHub's sign-in page stood in for by a
route that answers as GitHub does when the visitor presses Cancel: the button leaves our page
for GitHub (the page's CSP allows that form target), the state cookie comes back on GitHub's
cross-site redirect (SameSite=Lax), and the visitor lands on a page that says what happened.
A forged callback gets a page too. (The token exchange is tested with respx in
tests/integration/test_github_join.py.)"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from devstack.processes import free_port
from tests.e2e.conftest import REPO
from tests.e2e.test_visitor import JS
from tests.wheel_processes import Service

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def github_api(stack, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    env = {
        **stack.env,
        "PORT": str(port),
        "PUBLIC_BASE_URL": api,
        "SIGNUP_GITHUB_CLIENT_ID": "Iv1.browser-test",
        "SIGNUP_GITHUB_CLIENT_SECRET": "browser-test-github-secret-0123456789",
    }
    venv = Path(sys.executable).parent.parent
    log = tmp_path_factory.mktemp("github") / "api.log"
    with Service(venv, "signup-api", env, REPO, log) as server:
        server.wait_for_port(port)
        yield api


def cancel_on_github(route) -> None:
    """GitHub's answer to Cancel: back to the redirect_uri with error=access_denied."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
    assert query["code_challenge_method"] == "S256" and query["scope"] == "user:email"
    back = {"error": "access_denied", "state": query["state"]}
    route.fulfill(status=302, headers={"Location": f"{query['redirect_uri']}?{urlencode(back)}"})


@JS
def test_cancel_on_github_lands_on_a_page_that_says_so(visit, github_api, js):
    v = visit(js=js)
    v.allow_origin(github_api)
    v.allow_origin("https://github.com")
    v.page.route("https://github.com/**", cancel_on_github)
    v.page.goto(github_api + "/")
    v.shot("landing-with-github")
    v.page.click("button.github")
    v.page.wait_for_url(f"{github_api}/github/callback?*")
    assert v.page.locator("h1").inner_text() == "You did not sign in with GitHub"
    assert v.page.is_visible("#signup-email")  # the address form, the other way in
    v.shot("github-cancelled")


def test_a_forged_callback_lands_on_a_page_that_says_so(visit, github_api):
    v = visit(js=False)
    v.allow_origin(github_api)
    v.expect_console("status of 400")
    v.page.goto(f"{github_api}/github/callback?code=stolen&state=forged")
    assert v.page.locator("h1").inner_text() == "This sign-in did not work"
    v.shot("github-invalid")
