"""A tiny aiohttp target for the load plugin's integration tests.

    python tests/load/target_server.py PORT [STALL_AT_EPOCH STALL_SECONDS]

GET /ok -> 200 {"value": 42}; GET /status/<code> -> that status; GET /stall -> 200,
but any request arriving while the stall window is open waits until it closes
(a server that stops answering for STALL_SECONDS).
"""

import asyncio
import sys
import time

from aiohttp import web


def make_app(stall_at: float, stall_seconds: float) -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"value": 42})

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def stall(request: web.Request) -> web.Response:
        now = time.time()
        if stall_at <= now < stall_at + stall_seconds:
            await asyncio.sleep(stall_at + stall_seconds - now)
        return web.json_response({"value": 42})

    app = web.Application()
    app.router.add_get("/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/stall", stall)
    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    stall_at = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    stall_seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    web.run_app(make_app(stall_at, stall_seconds), host="127.0.0.1", port=port, print=None, access_log=None)
