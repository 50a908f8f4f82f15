"""The HTTP control API, route for route Toxiproxy 2.x's (see the package docstring).

Errors are Toxiproxy's JSON, `{"error": message, "status": code}`, for refused
requests (4xx) and for anything unexpected (500, logged with its traceback).
As Toxiproxy does, requests from browsers (User-Agent `Mozilla/...`) are
refused, so that a web page cannot drive the proxy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from stack.proxy.errors import ApiError, BadRequest
from stack.proxy.proxy import ProxyCollection

log = logging.getLogger("stack.proxy")

VERSION = "2.12.0-gameday"  # the Toxiproxy API level we follow, and who we are
COLLECTION = web.AppKey("collection", ProxyCollection)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return error_response(403, "user agent not allowed: browsers may not drive the fault proxy")
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, str(exc))
    except web.HTTPException as exc:  # unknown route, wrong method
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.lower())
    except Exception as exc:  # noqa: BLE001 - the API must answer JSON even for our bugs
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, f"internal error: {exc}")


async def body(request: web.Request) -> Any:
    """The request's JSON body; BadRequest (as Toxiproxy's 'bad request body') if it is not JSON."""
    text = await request.text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"bad request body: {exc}") from None


def collection(request: web.Request) -> ProxyCollection:
    return request.app[COLLECTION]


# ---- handlers ------------------------------------------------------------------
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": VERSION})


async def list_proxies(request: web.Request) -> web.Response:
    proxies = collection(request).proxies
    return web.json_response({name: proxy.to_json() for name, proxy in proxies.items()})


async def create_proxy(request: web.Request) -> web.Response:
    proxy = await collection(request).create(await body(request))
    return web.json_response(proxy.to_json(), status=201)


async def populate(request: web.Request) -> web.Response:
    proxies = await collection(request).populate(await body(request))
    return web.json_response({"proxies": [p.to_json() for p in proxies]}, status=201)


async def show_proxy(request: web.Request) -> web.Response:
    return web.json_response(collection(request).get(request.match_info["proxy"]).to_json())


async def update_proxy(request: web.Request) -> web.Response:
    proxy = await collection(request).update(request.match_info["proxy"], await body(request))
    return web.json_response(proxy.to_json())


async def delete_proxy(request: web.Request) -> web.Response:
    await collection(request).delete(request.match_info["proxy"])
    return web.Response(status=204)


async def list_toxics(request: web.Request) -> web.Response:
    proxy = collection(request).get(request.match_info["proxy"])
    return web.json_response([t.to_json() for t in proxy.toxics.values()])


async def create_toxic(request: web.Request) -> web.Response:
    toxic = collection(request).add_toxic(request.match_info["proxy"], await body(request))
    return web.json_response(toxic.to_json())


async def show_toxic(request: web.Request) -> web.Response:
    toxic = collection(request).toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.json_response(toxic.to_json())


async def update_toxic(request: web.Request) -> web.Response:
    names = request.match_info["proxy"], request.match_info["toxic"]
    toxic = collection(request).update_toxic(*names, await body(request))
    return web.json_response(toxic.to_json())


async def delete_toxic(request: web.Request) -> web.Response:
    collection(request).remove_toxic(request.match_info["proxy"], request.match_info["toxic"])
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    await collection(request).reset()
    return web.Response(status=204)


def make_app(proxies: ProxyCollection) -> web.Application:
    """The aiohttp application serving `proxies`; Toxiproxy accepts POST or PATCH for updates."""
    app = web.Application(middlewares=[errors_as_json])
    app[COLLECTION] = proxies
    app.router.add_get("/version", version)
    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", list_proxies)
    app.router.add_post("/proxies", create_proxy)
    app.router.add_post("/populate", populate)
    app.router.add_get("/proxies/{proxy}", show_proxy)
    app.router.add_post("/proxies/{proxy}", update_proxy)
    app.router.add_patch("/proxies/{proxy}", update_proxy)
    app.router.add_delete("/proxies/{proxy}", delete_proxy)
    app.router.add_get("/proxies/{proxy}/toxics", list_toxics)
    app.router.add_post("/proxies/{proxy}/toxics", create_toxic)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", show_toxic)
    app.router.add_post("/proxies/{proxy}/toxics/{toxic}", update_toxic)
    app.router.add_patch("/proxies/{proxy}/toxics/{toxic}", update_toxic)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", delete_toxic)
    return app
