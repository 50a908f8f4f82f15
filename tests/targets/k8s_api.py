"""A small, real HTTP server that speaks the part of the Kubernetes API gameday calls.

It stores objects in memory and answers the `kubernetes` client like an API server:
create (POST, 409 on a duplicate), get, list with labelSelector, delete (404 when
gone), deployment /status (a Deployment is ready as soon as it is created, as if
its pods started at once), and the Service proxy, which forwards to a real local
HTTP server registered with `proxy_to`. Every request is recorded in `calls`.

    with FakeApiServer() as api:
        write_kubeconfig(path, api.url, ["dev"])
"""

from __future__ import annotations

import asyncio
import copy
import threading
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from support import free_port

ROUTE = r"/{prefix:(api/v1|apis/[a-z.]+/v1)}/namespaces/{ns}/{plural}"


def write_kubeconfig(path: Path, server: str, contexts: list[str]) -> Path:
    """A kubeconfig whose every context points at `server` with namespace default."""
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
           "clusters": [{"name": "fake", "cluster": {"server": server}}],
           "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
           "contexts": [{"name": c, "context": {"cluster": "fake", "user": "fake"}} for c in contexts]}
    path.write_text(yaml.safe_dump(doc))
    return path


class FakeApiServer:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}   # (plural, ns, name) -> object
        self.calls: list[tuple[str, str]] = []
        self.proxies: dict[tuple[str, str], str] = {}                   # (ns, "svc:port") -> base url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()

    # ---- test helpers --------------------------------------------------------------
    def put(self, plural: str, ns: str, body: dict[str, Any]) -> None:
        """Store an object as if someone else had created it (e.g. an experiment's NetworkPolicy)."""
        self._store(plural, ns, copy.deepcopy(body))

    def names(self, plural: str, ns: str) -> list[str]:
        return sorted(name for (p, n, name) in self.objects if p == plural and n == ns)

    def proxy_to(self, ns: str, service_port: str, base_url: str) -> None:
        self.proxies[(ns, service_port)] = base_url.rstrip("/")

    # ---- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> "FakeApiServer":
        threading.Thread(target=self._serve, daemon=True).start()
        if not self._ready.wait(10):
            raise RuntimeError("fake API server did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", ROUTE, self._collection)
        app.router.add_route("*", ROUTE + "/{name}", self._item)
        app.router.add_route("GET", ROUTE + "/{name}/status", self._item)
        app.router.add_route("GET", ROUTE + "/{name}/proxy/{path:.*}", self._proxy)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    # ---- handlers ------------------------------------------------------------------
    async def _collection(self, request: web.Request) -> web.Response:
        plural, ns = request.match_info["plural"], request.match_info["ns"]
        self.calls.append((request.method, request.path_qs))
        if request.method == "POST":
            body = await request.json()
            if (plural, ns, body["metadata"]["name"]) in self.objects:
                return _status(409, "AlreadyExists", f"{plural} {body['metadata']['name']!r} already exists")
            return web.json_response(self._store(plural, ns, body), status=201)
        if request.method == "GET":
            items = [o for (p, n, _), o in sorted(self.objects.items()) if p == plural and n == ns
                     and _matches(o, request.query.get("labelSelector", ""))]
            return web.json_response({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items})
        return _status(405, "MethodNotAllowed", request.method)

    async def _item(self, request: web.Request) -> web.Response:
        key = (request.match_info["plural"], request.match_info["ns"], request.match_info["name"])
        self.calls.append((request.method, request.path_qs))
        if key not in self.objects:
            return _status(404, "NotFound", f"{key[0]} {key[2]!r} not found")
        if request.method == "DELETE":
            return web.json_response(self.objects.pop(key))
        return web.json_response(self.objects[key])

    async def _proxy(self, request: web.Request) -> web.Response:
        self.calls.append((request.method, request.path_qs))
        base = self.proxies.get((request.match_info["ns"], request.match_info["name"]))
        if base is None:
            return _status(503, "ServiceUnavailable", "no endpoints available for service")
        status, body = await asyncio.to_thread(_get, f"{base}/{request.match_info['path']}")
        return web.Response(status=status, body=body)

    def _store(self, plural: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        meta.update(namespace=ns, uid=f"uid-{len(self.objects)}")
        meta.setdefault("creationTimestamp", datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if plural == "deployments":
            n = body.get("spec", {}).get("replicas", 1)
            body["status"] = {"replicas": n, "readyReplicas": n, "availableReplicas": n}
        self.objects[(plural, ns, meta["name"])] = body
        return body


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if key not in labels or ("=" in term and labels[key] != value):
            return False
    return True


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                              "reason": reason, "code": code}, status=code)
