"""The visitor's path in Chromium: a real API and worker (the `make run` programs) on their own
database, our pages at one origin, a static site with the kit at a second origin that is
listed in SIGNUP_CORS_ORIGINS and a third that is not.

Every page a test opens is watched: a console error (Chromium reports CSP violations there),
an uncaught script error, or a request to an origin the test did not allow fails the test.
Screenshots of each state go to BROWSER_SCREENSHOTS (default var/browser-screenshots/).

Skipped, with one line, when SKIP_BROWSER=1 or Chromium is missing; never when CI is set.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack.mailcatcher import text_part
from devstack.processes import free_port
from tests.support import BLIND_INDEX_KEY, app_env, migrated_database
from tests.wheel_processes import Service

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS") or REPO / "var" / "browser-screenshots")
ALTCHA_KEY = "browser-altcha-key-0123456789abcdef"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONFIRM_LINK = re.compile(r"http://\S+/confirm\?token=[A-Za-z0-9_-]+")
UNSUBSCRIBE_LINK = re.compile(r"http://\S+/unsubscribe\?token=[A-Za-z0-9_.-]+")


def run_async(coro) -> object:
    """Run a coroutine to completion off this thread: Playwright's sync API keeps an event
    loop marked running on it."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="package")
def chromium() -> str:
    if os.environ.get("SKIP_BROWSER") == "1" and not os.environ.get("CI"):
        pytest.skip("SKIP_BROWSER=1 (ignored when CI is set)")
    path = shutil.which("chromium")
    if path is None:
        _unavailable("no chromium on PATH (`make test` installs Debian's chromium as root)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (`make test` installs the dev extra)")
    return path


# --- the servers


@dataclass
class Site:
    """A static site on its own origin, as a site owner would serve the kit."""

    url: str
    folder: Path


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _static(folder: Path, host: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    port = free_port()
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{port}"


@dataclass
class Stack:
    api: str
    altcha_api: str
    listed: Site
    unlisted: Site
    database_url: str
    mail: object
    env: dict[str, str] = field(default_factory=dict)


def _kit_page(site: Site, api: str, title: str) -> None:
    """What kit/README.md tells a site owner to do: paste GET /kit/form.html (the snippet for
    every language) into a page, serve kit/signup.js beside it."""
    snippet = httpx.get(f"{api}/kit/form.html", timeout=10).text
    shutil.copy(REPO / "kit" / "signup.js", site.folder / "signup.js")
    (site.folder / "index.html").write_text(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}</title><link rel="icon" href="data:,"></head>\n'
        f'<body><h1>{title}</h1>\n{snippet}\n<script src="signup.js" defer></script>\n'
        "</body></html>\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="package")
def stack(chromium, pg_server, redis_server, smtp_server, tmp_path_factory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("browser")
    database_url = run_async(migrated_database(pg_server.url, "browser"))
    listed_dir, unlisted_dir = root / "listed", root / "unlisted"
    listed_dir.mkdir()
    unlisted_dir.mkdir()
    # "localhost" and another port: two origins other than the API's 127.0.0.1.
    listed_server, listed_url = _static(listed_dir, "localhost")
    unlisted_server, unlisted_url = _static(unlisted_dir, "localhost")
    port, altcha_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    # Database 2 of the session's Valkey: the session worker uses 0, the wheel test 1.
    env = app_env(
        database_url,
        redis_server.url.rsplit("/", 1)[0] + "/2",
        smtp_server.port,
        HOST="127.0.0.1",
        PORT=str(port),
        PUBLIC_BASE_URL=api,
        SIGNUP_CORS_ORIGINS=listed_url,
        SIGNUP_RATE_LIMIT_ADDRESS="3/hour",
        SIGNUP_RESEND_WINDOW="0",  # "send me a new link" sends at once
        SIGNUP_SITE_NAME="Fieldnotes",
        SIGNUP_SITE_URL=f"{listed_url}/",
        SIGNUP_LIST_TITLES="newsletter=Fieldnotes Weekly",
        SIGNUP_SENDER_NAME="Fieldnotes",
        SIGNUP_ACCENT_COLOUR="#0f766e",
    )
    altcha_env = {
        **env,
        "PORT": str(altcha_port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{altcha_port}",
        "SIGNUP_CAPTCHA": "altcha",
        "SIGNUP_ALTCHA_HMAC_KEY": ALTCHA_KEY,
        "SIGNUP_ALTCHA_MAX_NUMBER": "2000",
        "SIGNUP_CONFIRM_AUTOSUBMIT": "true",
    }
    venv = Path(sys.executable).parent.parent
    with (
        Service(venv, "signup-worker", env, REPO, root / "worker.log") as worker,
        Service(venv, "signup-api", env, REPO, root / "api.log") as main_api,
        Service(venv, "signup-api", altcha_env, REPO, root / "altcha-api.log") as altcha_api,
    ):
        worker.wait_for_log("ready for action")
        main_api.wait_for_port(port)
        altcha_api.wait_for_port(altcha_port)
        listed = Site(listed_url, listed_dir)
        unlisted = Site(unlisted_url, unlisted_dir)
        _kit_page(listed, api, "Fieldnotes: a static site")
        _kit_page(unlisted, api, "Somewhere else")
        yield Stack(
            api=api,
            altcha_api=f"http://127.0.0.1:{altcha_port}",
            listed=listed,
            unlisted=unlisted,
            database_url=database_url,
            mail=smtp_server,
            env=env,
        )
    listed_server.shutdown()
    unlisted_server.shutdown()


@pytest.fixture(autouse=True)
def _fresh_limits(request, redis_server) -> None:
    """Rate-limit counters start empty for each browser test (Valkey database 2)."""
    if "stack" not in request.fixturenames:
        return
    import redis

    client = redis.Redis.from_url(redis_server.url.rsplit("/", 1)[0] + "/2")
    client.flushdb()
    client.close()


# --- the browser and its watchers


@pytest.fixture(scope="package")
def browser(chromium) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    """One browser context for a test: its page, what went wrong on it, screenshots."""

    page: object
    name: str
    allowed: set[str]
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    shots: int = 0

    def shot(self, state: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SHOTS / f"{self.name}-{self.shots:02d}-{state}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def allow_origin(self, url: str) -> None:
        self.allowed.add(_origin(url))

    def expect_console(self, fragment: str) -> None:
        """A console line the test causes on purpose (a refused fetch logs its status)."""
        self.expected.append(fragment)


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture
def visit(browser, stack, request) -> Callable[..., Visit]:
    """visit(js=True, locale="en-GB") opens a watched page; the test fails afterwards if
    anything on any page broke the rules."""
    opened: list[tuple[object, Visit]] = []
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")

    def open_page(js: bool = True, locale: str = "en-GB") -> Visit:
        context = browser.new_context(java_script_enabled=js, locale=locale)
        page = context.new_page()
        page.set_default_timeout(15_000)
        v = Visit(page, f"{test}-{len(opened)}" if opened else test, {_origin(stack.api)})

        def console(msg) -> None:
            if msg.type == "error" and not any(e in msg.text for e in v.expected):
                v.problems.append(f"console error on {page.url}: {msg.text}")

        def outbound(req) -> None:
            if req.url.startswith(("data:", "about:")):
                return
            if _origin(req.url) not in v.allowed:
                v.problems.append(f"request to another origin from {page.url}: {req.url}")

        page.on("console", console)
        page.on("pageerror", lambda e: v.problems.append(f"script error on {page.url}: {e}"))
        page.on("request", outbound)
        opened.append((context, v))
        return v

    yield open_page
    problems = [p for _, v in opened for p in v.problems]
    for context, _ in opened:
        context.close()
    assert not problems, "\n".join(problems)


# --- mail


def address(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def mail_to(stack: Stack, email: str, subject: str, timeout: float = 30):
    [message] = stack.mail.wait_for(
        lambda m: email in str(m["To"]) and subject in str(m["Subject"]), timeout=timeout
    )
    return message


def link_in(message, pattern: re.Pattern[str]) -> str:
    found = pattern.search(text_part(message))
    assert found, text_part(message)
    return found.group(0)


def confirm_link(stack: Stack, email: str, subject: str) -> str:
    """The confirmation mail's link, once its token is stored: the worker commits the token
    just after the relay took the mail, and a browser can be quicker than that."""
    import time

    from signup_core import tokens
    from tests.support import inspect

    link = link_in(mail_to(stack, email, subject), CONFIRM_LINK)
    wanted = tokens.digest(link.split("token=", 1)[1])

    async def stored() -> bool:
        conn = await asyncpg.connect(stack.database_url)
        try:
            found = inspect().tokens_for(conn, email_index=blind_index(email))
            return wanted in [bytes(r["token_hash"]) async for r in found]
        finally:
            await conn.close()

    deadline = time.monotonic() + 10
    while not run_async(stored()):
        assert time.monotonic() < deadline, "the confirmation token was never stored"
        time.sleep(0.05)
    return link


def blind_index(email: str) -> bytes:
    from signup_core.addresses import blind_index as index

    return index(BLIND_INDEX_KEY.encode(), email)
