"""The application factory: the whole URL surface, resources made in the lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from signup_api import (
    assets,
    captcha,
    confirm,
    github_join,
    health,
    manage,
    origins,
    own_data,
    pages,
    signup,
    unsubscribe,
    webhooks,
)
from signup_api.client_address import ClientAddress
from signup_api.health import MIGRATE_HINT, SCHEMA_BEHIND
from signup_api.middleware import Edge
from signup_api.problems import Problem, problem_response, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT, Limiter
from signup_api.signup_batch import SignupBatcher, fixed
from signup_core import db, heap, key_registry, keycheck, redis_client, tls, tracing
from signup_core.clock import Clock
from signup_core.index_keys import index_keys
from signup_core.settings import Settings

log = logging.getLogger(__name__)

# The router tries routes in order: the busiest first.
ROUTES = [
    Route("/signup", signup.Signup(), methods=["POST"]),
    Route("/", pages.landing, methods=["GET"]),
    Route("/thanks", pages.thanks, methods=["GET"]),
    Route("/oops", pages.oops, methods=["GET"]),
    Route("/confirm", confirm.show_confirm, methods=["GET"]),
    Route("/confirm", confirm.confirm, methods=["POST"]),
    Route("/unsubscribe", unsubscribe.show_unsubscribe, methods=["GET"]),
    Route("/unsubscribe", unsubscribe.unsubscribe, methods=["POST"]),
    Route("/manage", manage.show, methods=["GET"]),
    Route("/manage", manage.change, methods=["POST"]),
    Route("/manage/erase", own_data.show_erase, methods=["GET"]),
    Route("/manage/erase", own_data.erase, methods=["POST"]),
    Route("/manage/data", own_data.show_data, methods=["GET"]),
    Route("/manage/data", own_data.download, methods=["POST"]),
    Route("/github/start", github_join.start, methods=["POST"]),
    Route("/github/callback", github_join.callback, methods=["GET"]),
    Route("/webhooks/{provider}", webhooks.receive, methods=["POST"]),
    Route("/healthz", health.healthz, methods=["GET"]),
    Route("/readyz", health.readyz, methods=["GET"]),
    Route("/altcha/challenge", captcha.challenge, methods=["GET"]),
    Route("/assets/site.css", assets.style, methods=["GET"]),
    Route("/assets/signup.js", assets.script, methods=["GET"]),
    Route("/assets/icon.svg", assets.icon, methods=["GET"]),
    Route("/kit/form.html", assets.kit_form, methods=["GET"]),
]


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if pages.wants_html(request):
        return pages.error_page(request, exc.status_code, exc.headers)
    return problem_response(Problem(exc.status_code, exc.detail, slug="http-error"))


async def _schema_behind(request: Request, exc: Exception) -> Response:
    log.error(MIGRATE_HINT, extra={"error": type(exc).__name__})
    return problem_response(unavailable("The database"))


async def _database_down(request: Request, exc: Exception) -> Response:
    # The surfaces map an outage themselves; this is the net under every other path, so that
    # no form of a lost connection reaches a visitor as a 500.
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    problem = unavailable("The database")
    if pages.wants_html(request):
        return pages.error_page(request, 503, {"Retry-After": str(problem.retry_after)})
    return problem_response(problem)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error", extra={"error": type(exc).__name__})
    if pages.wants_html(request):
        return pages.error_page(request, 500)
    return problem_response(Problem(500, "Something went wrong on our side.", slug="internal"))


def _middleware(settings: Settings) -> list[Middleware]:
    cors = frozenset(o.lower() for o in settings.cors_origins)
    stack = [Middleware(Edge, cors_origins=cors)]
    if tracing.enabled():
        # Outermost, so the access log and every handler run inside the request's span. Off,
        # it is not in the stack at all (nor is the SDK loaded).
        from signup_api.tracing_middleware import Traced

        stack.insert(0, Middleware(Traced))
    if settings.trusted_proxies:
        stack.append(
            Middleware(
                ClientAddress,
                trusted=settings.trusted_proxies,
                header=settings.forwarded_header,
            )
        )
    return stack


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.pool = await db.create_pool(settings)
        await keycheck.check_keyring(app.state.pool, settings.seal_keys)
        # Refuses to start on keys the database has moved past; may start a rotation.
        await key_registry.register(app.state.pool, index_keys(settings))
        # No socket timeout (redis-py's default is 5 s): with one, every write runs under
        # asyncio.wait_for, a new task per command. Callers bound whole calls with
        # asyncio.timeout(REDIS_TIMEOUT) instead.
        app.state.redis = redis_client.async_client(
            settings.redis_url.value, socket_timeout=None, socket_connect_timeout=REDIS_TIMEOUT
        )
        app.state.clock = Clock()
        app.state.schema_current = False  # set by /readyz once it has seen every migration
        app.state.certificates = {}
        app.state.limiter = Limiter(app.state.redis, settings)
        # Concurrent signups' writes share one statement (signup_api/signup_batch.py).
        app.state.signup_fixed = fixed(settings)
        app.state.signups = SignupBatcher(app.state.pool, app.state.signup_fixed)
        app.state.allowed_origins = origins.allowed_origins(settings)
        # Outbound HTTP (captcha verification) has short timeouts: it sits on the request path.
        app.state.http = httpx.AsyncClient(
            timeout=httpx.Timeout(3.0, connect=2.0), verify=tls.client_context()
        )
        heap.settle()
        try:
            yield
        finally:
            await app.state.http.aclose()
            await app.state.redis.aclose()
            await app.state.pool.close()

    app = Starlette(
        routes=ROUTES,
        middleware=_middleware(settings),
        exception_handlers={
            Problem: _problem,
            HTTPException: _http_error,
            **{error: _schema_behind for error in SCHEMA_BEHIND},
            **{error: _database_down for error in db.UNAVAILABLE},
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    # Starlette would answer "/unsubscribe/" with a redirect to an absolute URL built from the
    # Host header (and the socket's scheme): an open redirect. No route ends in a slash.
    app.router.redirect_slashes = False
    return app
