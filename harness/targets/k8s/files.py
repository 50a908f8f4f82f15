"""`python -m harness.targets.k8s.files --directory DIR --port 8090`: the Locust master pod's run-file server.

Read-only HTTP over one directory (the master's run directory), for the harness to copy
through the API server's Service proxy (harness.targets.k8s.cluster_load):

    GET /healthz          200 "ok" (the container's readiness probe)
    GET /<relative path>  the file, honouring `Range: bytes=N-M` (206; 416 past its end),
                          so each copy asks only for what it has not got yet; 404 for a
                          missing file, a directory or a path that leaves DIR

aiohttp's FileResponse does the Range handling (`python -m http.server` has none, so
each copy had to download whole files).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web


def make_app(directory: Path) -> web.Application:
    root = Path(directory).resolve()

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def get(request: web.Request) -> web.StreamResponse:
        path = (root / request.match_info["path"]).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound(text=f"no file {request.match_info['path']!r}\n")
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/{path:.+}", get)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.targets.k8s.files", description=__doc__.splitlines()[0])
    parser.add_argument("--directory", required=True)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args(argv)
    Path(args.directory).mkdir(parents=True, exist_ok=True)
    web.run_app(make_app(Path(args.directory)), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
