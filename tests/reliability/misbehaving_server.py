"""A small aiohttp target that misbehaves on purpose, for the harness's reliability tests.

    python misbehaving_server.py PORT MODE [--listen-after S] [--recover-after S]

`/` always answers 200 quickly (the http target's reachability check); every other
path behaves as MODE says:
    ok        200 with a small JSON body
    errors    500 for everything
    hang      accepts the request and never answers
    big       200 with a 10 MB body
    badjson   200, content-type application/json, a body that is not JSON
    recover   503 after 0.5 s until --recover-after seconds after the first request, then ok
    echo-401  401 whose body echoes the request's Authorization header (an error path
              that carries a secret back to the client)

--listen-after S: refuse connections for S seconds (nothing listens) before serving.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

BIG = b"x" * (10 * 1024 * 1024)


def handler_for(mode: str, recover_after: float):
    first_seen: list[float] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/":
            return web.Response(text="up")
        if mode == "errors":
            return web.Response(status=500, text="internal error, on purpose")
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "big":
            return web.Response(body=BIG, content_type="application/octet-stream")
        if mode == "badjson":
            return web.Response(text='{"score": 0.5, "truncated', content_type="application/json")
        if mode == "echo-401":
            return web.Response(status=401, text=f"bad credentials: {request.headers.get('Authorization')}")
        if mode == "recover":
            first_seen.append(time.monotonic()) if not first_seen else None
            if time.monotonic() - first_seen[0] < recover_after:
                await asyncio.sleep(0.5)
                return web.Response(status=503, text="warming up")
        return web.json_response({"score": 0.5})

    return handle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("mode", choices=["ok", "errors", "hang", "big", "badjson", "recover", "echo-401"])
    parser.add_argument("--listen-after", type=float, default=0.0)
    parser.add_argument("--recover-after", type=float, default=8.0)
    args = parser.parse_args()
    time.sleep(args.listen_after)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler_for(args.mode, args.recover_after))
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
