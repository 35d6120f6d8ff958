"""The admin listener's application, and the dispatcher that serves it beside the public one
from one uvicorn server: a request goes to the admin app only when it arrived on the admin
socket (the listening port, not anything the client sends)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from signup_api.admin import openapi, routes, subscribers
from signup_api.admin.jwks import KeySource
from signup_api.admin.tokens import Refused, Trusted, Verifier
from signup_api.problems import Problem, problem_response, unavailable
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_core import admin_keys, db, redis_client, tls
from signup_core.clock import Clock
from signup_core.settings import Settings

log = logging.getLogger(__name__)

ROUTES = [
    Route("/admin/v1/stats", routes.stats, methods=["GET"]),
    Route("/admin/v1/subscribers/export", routes.export, methods=["GET"]),
    Route("/admin/v1/subscribers/lookup", subscribers.lookup, methods=["POST"]),
    Route("/admin/v1/subscribers/import", subscribers.import_subscribers, methods=["POST"]),
    Route("/admin/v1/erasures", routes.erase, methods=["POST"]),
    Route("/admin/v1/suppressions", routes.suppress, methods=["POST"]),
    Route("/admin/v1/suppressions/{index}", routes.unsuppress, methods=["DELETE"]),
    Route("/admin/v1/suppressions/lift", subscribers.unsuppress_by_address, methods=["POST"]),
    Route("/admin/v1/dead-letters", routes.dead_letters, methods=["GET"]),
    Route("/admin/v1/dead-letters/replay", routes.replay, methods=["POST"]),
    Route("/admin/v1/audit", routes.audit, methods=["GET"]),
]
OPEN_ROUTES = [
    Route("/admin/v1/openapi.json", lambda _: JSONResponse(openapi.DOCUMENT), methods=["GET"]),
    Route("/.well-known/jwks.json", routes.jwks, methods=["GET"]),
]


def verifier(settings: Settings, http: httpx.AsyncClient, clock: Clock) -> Verifier:
    sources = []
    if settings.admin_keys_file:
        own = KeySource(settings.admin_keys_file, None, clock)
        sources.append(Trusted(admin_keys.own_issuer(settings), own))
    if settings.admin_jwks and settings.admin_issuer:
        sources.append(Trusted(settings.admin_issuer, KeySource(settings.admin_jwks, http, clock)))
    return Verifier(settings, sources, clock)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    response = problem_response(Problem(exc.status, exc.detail, slug=f"token-{exc.reason}"))
    error = "insufficient_scope" if exc.status == 403 else "invalid_token"
    response.headers["www-authenticate"] = f'Bearer realm="signup-admin", error="{error}"'
    return response


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(Problem(exc.status_code, str(exc.detail), slug="http-error"))


async def _database_down(request: Request, exc: Exception) -> Response:
    log.warning("database unavailable on the admin API", extra={"error": type(exc).__name__})
    return problem_response(unavailable("The database"))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled admin error", extra={"error": type(exc).__name__})
    return problem_response(Problem(500, "Something went wrong on our side.", slug="internal"))


def create_admin_app(
    settings: Settings, clock: Clock | None = None, pool: asyncpg.Pool | None = None
) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.clock = clock or Clock()
        own_pool = pool is None
        app.state.pool = await db.create_pool(settings) if own_pool else pool
        app.state.redis = redis_client.async_client(
            settings.redis_url.value, socket_timeout=None, socket_connect_timeout=REDIS_TIMEOUT
        )
        app.state.http = httpx.AsyncClient(follow_redirects=False, verify=tls.client_context())
        app.state.verifier = verifier(settings, app.state.http, app.state.clock)
        try:
            yield
        finally:
            await app.state.http.aclose()
            await app.state.redis.aclose()
            if own_pool:
                await app.state.pool.close()

    app = Starlette(
        routes=ROUTES + OPEN_ROUTES,
        exception_handlers={
            Refused: _refused,
            Problem: _problem,
            HTTPException: _http_error,
            **{error: _database_down for error in db.UNAVAILABLE},
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    return app


class ByPort:
    """One ASGI app for two sockets: the admin port's requests to `admin`, all else to
    `public`; the lifespan runs both apps' startup and shutdown."""

    def __init__(self, public: Starlette, admin: Starlette, admin_port: int) -> None:
        self.public, self.admin, self.admin_port = public, admin, admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        server = scope.get("server") or (None, None)
        app: ASGIApp = self.admin if server[1] == self.admin_port else self.public
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message: dict[str, Any] = await receive()
        assert message["type"] == "lifespan.startup"
        async with contextlib.AsyncExitStack() as stack:
            try:
                for app in (self.public, self.admin):
                    await stack.enter_async_context(app.router.lifespan_context(app))
            except BaseException as e:
                await send({"type": "lifespan.startup.failed", "message": repr(e)})
                raise
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
