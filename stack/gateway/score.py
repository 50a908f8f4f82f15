"""`POST /v1/score`: rate limit, shed, validate, cache, then a replica of the chosen version."""

from __future__ import annotations

from aiohttp import web

from stack.gateway.ratelimit import retry_after_header
from stack.gateway.responses import RequestError, read_json_object
from stack.gateway.state import GATEWAY, Gateway
from stack.gateway.upstream import NoReplicaAvailable, UpstreamError
from stack.model import validate_features

def client_identity(request: web.Request) -> str:
    """Who the rate limit applies to: the X-Client-Id header, else the peer address."""
    return request.headers.get("X-Client-Id") or request.remote or "unknown"


async def score(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    _check_rate_limit(gateway, client_identity(request))
    if not gateway.admit():
        gateway.metrics.shed.inc()
        raise RequestError(503, f"gateway is at its limit of {gateway.max_inflight} requests in flight; retry shortly",
                           {"Retry-After": "1"})
    try:
        return await _score(gateway, request)
    finally:
        gateway.release()


def _check_rate_limit(gateway: Gateway, client: str) -> None:
    wait_s = gateway.limiter.check(client)
    if wait_s:
        gateway.metrics.rate_limited.inc()
        limits = gateway.limiter.settings
        raise RequestError(
            429, f"client '{client}' is over its rate limit ({limits['rps']:g} req/s, burst {limits['burst']:g})",
            {"Retry-After": retry_after_header(wait_s)})


async def _score(gateway: Gateway, request: web.Request) -> web.Response:
    features = await _read_features(request)
    version = gateway.split.choose()
    cached = gateway.cache.get((version, tuple(features)))
    if cached is not None:
        gateway.metrics.cache_hits.inc()
        return _respond(cached, cached=True)
    gateway.metrics.cache_misses.inc()
    try:
        scored = await gateway.upstream.score(features, version)
    except UpstreamError as exc:
        headers = {"Retry-After": "1"} if isinstance(exc, NoReplicaAvailable) else None
        raise RequestError(exc.status, str(exc), headers) from None
    # Keyed by the version that answered: after a fallback that is not the one chosen.
    gateway.cache.put((scored.replica.version, tuple(features)), scored.body)
    return _respond(scored.body, cached=False)


async def _read_features(request: web.Request) -> list[float]:
    body = await read_json_object(request)
    client_id = body.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise RequestError(400, f'"client_id" must be a string, got {client_id!r:.80}')
    try:
        return validate_features(body)
    except ValueError as exc:
        raise RequestError(400, str(exc)) from None


def _respond(body: dict, cached: bool) -> web.Response:
    return web.json_response({**body, "cached": cached}, headers={"X-Replica": str(body.get("replica", ""))})
