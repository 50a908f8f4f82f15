"""`/admin/*`: read and change breakers, rate limits, the cache, the split; list replicas."""

from __future__ import annotations

from aiohttp import web

from stack.gateway.breaker import CLOSED, OPEN
from stack.gateway.responses import RequestError, number_field, read_json_object
from stack.gateway.state import GATEWAY, Gateway

DEFAULT_FORCE_TTL_S = 300.0

routes = web.RouteTableDef()


def _breakers(gateway: Gateway) -> dict:
    return {
        "breakers": [
            {"replica": r.name, "version": r.version, **gateway.pool.breakers[r.name].snapshot()}
            for r in gateway.pool.replicas
        ]
    }


@routes.get("/admin/breakers")
async def get_breakers(request: web.Request) -> web.Response:
    return web.json_response(_breakers(request.app[GATEWAY]))


# Registered before /admin/breakers/{replica} so that "reset" is not taken for a replica name.
@routes.post("/admin/breakers/reset")
async def reset_breakers(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    for breaker in gateway.pool.breakers.values():
        breaker.reset()
    return web.json_response(_breakers(gateway))


@routes.post("/admin/breakers/{replica}")
async def force_breaker(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    name = request.match_info["replica"]
    if name not in gateway.pool.breakers:
        raise RequestError(404, f"no replica '{name}'; known: {', '.join(gateway.pool.breakers)}")
    body = await read_json_object(request)
    state = body.get("state")
    if state not in (OPEN, CLOSED):
        raise RequestError(400, f'"state" must be "open" or "closed", got {state!r:.80}')
    ttl = number_field(body, "ttl", DEFAULT_FORCE_TTL_S)
    if ttl <= 0:
        raise RequestError(400, f'"ttl" must be a positive number of seconds, got {ttl!r}')
    gateway.pool.breakers[name].force(state, ttl)
    return web.json_response({"replica": name, **gateway.pool.breakers[name].snapshot()})


@routes.get("/admin/ratelimit")
async def get_ratelimit(request: web.Request) -> web.Response:
    return web.json_response(request.app[GATEWAY].limiter.settings)


@routes.post("/admin/ratelimit")
async def set_ratelimit(request: web.Request) -> web.Response:
    limiter = request.app[GATEWAY].limiter
    body = await read_json_object(request)
    try:
        limiter.configure(number_field(body, "rps", limiter.rps), number_field(body, "burst", limiter.burst))
    except ValueError as exc:
        raise RequestError(400, str(exc)) from None
    return web.json_response(limiter.settings)


@routes.get("/admin/cache")
async def get_cache(request: web.Request) -> web.Response:
    return web.json_response(request.app[GATEWAY].cache.stats())


@routes.delete("/admin/cache")
async def clear_cache(request: web.Request) -> web.Response:
    cache = request.app[GATEWAY].cache
    cache.clear()
    return web.json_response(cache.stats())


def _split(gateway: Gateway) -> dict:
    return {
        "canary_weight": gateway.split.canary_weight,
        "stable": [r.name for r in gateway.pool.of_version("stable")],
        "canary": [r.name for r in gateway.pool.of_version("canary")],
    }


@routes.get("/admin/split")
async def get_split(request: web.Request) -> web.Response:
    return web.json_response(_split(request.app[GATEWAY]))


@routes.post("/admin/split")
async def set_split(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body = await read_json_object(request)
    if "canary_weight" not in body:
        raise RequestError(400, 'missing field "canary_weight"; send {"canary_weight": 0.25}')
    try:
        gateway.split.set_weight(body["canary_weight"])
    except ValueError as exc:
        raise RequestError(400, str(exc)) from None
    return web.json_response(_split(gateway))


@routes.get("/admin/replicas")
async def get_replicas(request: web.Request) -> web.Response:
    pool = request.app[GATEWAY].pool
    return web.json_response(
        {
            "replicas": [
                {
                    "replica": r.name,
                    "version": r.version,
                    "url": r.url,
                    "breaker": pool.breakers[r.name].state,
                    "last_error": pool.last_error[r.name],
                }
                for r in pool.replicas
            ]
        }
    )
