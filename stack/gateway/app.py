"""The gateway's aiohttp application: routes, the JSON-error and metrics middleware, startup and cleanup."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from stack.config import StackConfig
from stack.gateway import admin, openapi
from stack.gateway.events import PublishError, parse_event
from stack.gateway.metrics import CONTENT_TYPE
from stack.gateway.responses import RequestError, error_response, read_json_object
from stack.gateway.score import score
from stack.gateway.state import GATEWAY, Gateway

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(config: StackConfig, gateway: Gateway | None = None) -> web.Application:
    """The application for `config`; it starts its replica client and Kafka producer on startup."""
    app = web.Application(middlewares=[observe])
    app[GATEWAY] = gateway or Gateway(config)
    app.router.add_post("/v1/score", score)
    app.router.add_post("/v1/events", post_event)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_document)
    app.router.add_routes(admin.routes)
    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    return app


async def _start(app: web.Application) -> None:
    await app[GATEWAY].start()


async def _close(app: web.Application) -> None:
    await app[GATEWAY].close()


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into JSON and count every request by route and status."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except RequestError as exc:
        response = error_response(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:  # aiohttp's own: 404, 405, 413 ...
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = error_response(exc.status, exc.reason, allow)
    except Exception as exc:  # a bug: answer JSON and keep serving
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = error_response(500, f"internal error: {type(exc).__name__}: {exc}")
    _record(request, response.status, time.perf_counter() - started)
    return response


def _record(request: web.Request, status: int, seconds: float) -> None:
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics = request.app[GATEWAY].metrics
    metrics.requests.labels(route=route, method=request.method, status=str(status)).inc()
    metrics.latency.labels(route=route, method=request.method).observe(seconds)


async def post_event(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    try:
        event = parse_event(body)
    except ValueError as exc:
        raise RequestError(400, str(exc)) from None
    try:
        partition, offset = await request.app[GATEWAY].events.publish(event)
    except PublishError as exc:
        raise RequestError(503, str(exc), {"Retry-After": "1"}) from None
    return web.json_response({"event_id": event["event_id"], "partition": partition, "offset": offset})


async def healthz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    if gateway.pool.any_allowed():
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "unavailable", "reason": "every replica's circuit breaker is open"}, status=503)


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = gateway.metrics.render(gateway.breaker_states(), gateway.split.canary_weight)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(openapi.document(request.app[GATEWAY].config))
