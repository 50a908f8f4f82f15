"""`POST /v1/score`: rate limit, shed, validate, cache, then a replica of the chosen version.

Every answer that a version gave (a score, cached or not, or the error of the version
chosen for it) says which in `X-Model-Version: stable | canary`, so a client can judge
a canary against the stable version (gameday's `load.variant_header`). Each replica
answer is re-scored with that version's own model (`gateway_model_accuracy`): the
gateway's check of model accuracy on the inputs it sees.
"""

from __future__ import annotations

from aiohttp import web

from stack.gateway.ratelimit import retry_after_header
from stack.gateway.responses import RequestError, read_json_object
from stack.gateway.state import GATEWAY, Gateway
from stack.gateway.upstream import NoReplicaAvailable, UpstreamError
from stack.model import check_response, validate_features

VERSION_HEADER = "X-Model-Version"


def client_identity(request: web.Request) -> str:
    """Who the rate limit applies to: the X-Client-Id header, else the peer address."""
    return request.headers.get("X-Client-Id") or request.remote or "unknown"


async def score(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    _check_rate_limit(gateway, client_identity(request))
    if not gateway.admit():
        gateway.metrics.shed.inc()
        raise RequestError(
            503,
            f"gateway is at its limit of {gateway.max_inflight} requests in flight; retry shortly",
            {"Retry-After": "1"},
        )
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
            429,
            f"client '{client}' is over its rate limit ({limits['rps']:g} req/s, burst {limits['burst']:g})",
            {"Retry-After": retry_after_header(wait_s)},
        )


async def _score(gateway: Gateway, request: web.Request) -> web.Response:
    features = await _read_features(request)
    version = gateway.split.choose()
    cached = gateway.cache.get((version, tuple(features)))
    gateway.metrics.cache_lookup(cached is not None)
    if cached is not None:
        return _respond(cached, cached=True, version=version)
    try:
        scored = await gateway.upstream.score(features, version)
    except UpstreamError as exc:
        headers = {VERSION_HEADER: version, **({"Retry-After": "1"} if isinstance(exc, NoReplicaAvailable) else {})}
        raise RequestError(exc.status, str(exc), headers) from None
    answered = scored.replica.version  # after a fallback, not the version chosen
    gateway.metrics.model_check(answered, check_response({"features": features}, scored.body))
    gateway.cache.put((answered, tuple(features)), scored.body)
    return _respond(scored.body, cached=False, version=answered)


async def _read_features(request: web.Request) -> list[float]:
    body = await read_json_object(request)
    client_id = body.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise RequestError(400, f'"client_id" must be a string, got {client_id!r:.80}')
    try:
        return validate_features(body)
    except ValueError as exc:
        raise RequestError(400, str(exc)) from None


def _respond(body: dict, cached: bool, version: str) -> web.Response:
    return web.json_response(
        {**body, "cached": cached}, headers={"X-Replica": str(body.get("replica", "")), VERSION_HEADER: version}
    )
