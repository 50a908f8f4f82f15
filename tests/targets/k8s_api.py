"""A small, real HTTP server that speaks the part of the Kubernetes API gameday calls.

It stores objects in memory and answers the `kubernetes` client like an API server:
create (POST, 409 on a duplicate), get, list with labelSelector, delete (404 when
gone), deployment /status (a Deployment is ready as soon as it is created, as if
its pods started at once), and the Service proxy, which forwards to a real local
HTTP server registered with `proxy_to` (passing the Range header on, and waiting
as long as that server takes, as a proxy to a stuck pod does). Every request is
recorded in `calls`; every proxied one in `proxied` as (path, Range, bytes returned).

    with FakeApiServer() as api:
        write_kubeconfig(path, api.url, ["dev"])
"""

from __future__ import annotations

import copy
import http.server
import json
import re
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import yaml
from support import free_port

# A stdlib server, not aiohttp: tests run with gevent's monkey-patching (conftest
# imports locust first), under which asyncio loops in threads share one OS thread.
BASE = r"^/(?P<prefix>api/v1|apis/[a-z0-9.]+/v1)/namespaces/(?P<ns>[^/]+)/(?P<plural>[a-z]+)"
COLLECTION = re.compile(BASE + "$")
ITEM = re.compile(BASE + r"/(?P<name>[^/]+?)(?P<status>/status)?$")
PROXY = re.compile(BASE + r"/(?P<name>[^/]+)/proxy/(?P<path>.*)$")


def write_kubeconfig(path: Path, server: str, contexts: list[str]) -> Path:
    """A kubeconfig whose every context points at `server` with namespace default."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": contexts[0],
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "fake", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": c, "context": {"cluster": "fake", "user": "fake"}} for c in contexts],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


class FakeApiServer:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name) -> object
        self.calls: list[tuple[str, str]] = []
        self.proxies: dict[tuple[str, str], str] = {}  # (ns, "svc:port") -> base url
        self.proxied: list[tuple[str, str | None, int]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    # ---- test helpers --------------------------------------------------------------
    def put(self, plural: str, ns: str, body: dict[str, Any]) -> None:
        """Store an object as if someone else had created it (e.g. an experiment's NetworkPolicy)."""
        self._store(plural, ns, copy.deepcopy(body))

    def names(self, plural: str, ns: str) -> list[str]:
        return sorted(name for (p, n, name) in self.objects if p == plural and n == ns)

    def proxy_to(self, ns: str, service_port: str, base_url: str) -> None:
        self.proxies[(ns, service_port)] = base_url.rstrip("/")

    # ---- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> FakeApiServer:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self)

            def do_POST(self):
                fake._handle(self)

            def do_DELETE(self):
                fake._handle(self)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- handlers ------------------------------------------------------------------
    def _handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        url = urlparse(req.path)
        self.calls.append((req.command, req.path))
        length = int(req.headers.get("Content-Length") or 0)
        body = json.loads(req.rfile.read(length)) if length else None
        for pattern, handler in ((PROXY, self._proxy), (COLLECTION, self._collection), (ITEM, self._item)):
            match = pattern.match(url.path)
            if match:
                groups = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                status, payload = handler(req.command, groups, parse_qs(url.query), body, req.headers)
                break
        else:
            status, payload = _status(404, "NotFound", f"no route for {url.path}")
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        req.send_response(status)
        req.send_header(
            "Content-Type", "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        )
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _collection(self, method: str, m: dict, query: dict, body: Any, headers: Any = None):
        plural, ns = m["plural"], m["ns"]
        if method == "POST":
            if (plural, ns, body["metadata"]["name"]) in self.objects:
                return _status(409, "AlreadyExists", f"{plural} {body['metadata']['name']!r} already exists")
            return 201, self._store(plural, ns, body)
        if method == "GET":
            selector = query.get("labelSelector", [""])[0]
            items = [
                o for (p, n, _), o in sorted(self.objects.items()) if p == plural and n == ns and _matches(o, selector)
            ]
            return 200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}
        return _status(405, "MethodNotAllowed", method)

    def _item(self, method: str, m: dict, query: dict, body: Any, headers: Any = None):
        key = (m["plural"], m["ns"], m["name"])
        if key not in self.objects:
            return _status(404, "NotFound", f"{key[0]} {key[2]!r} not found")
        if method == "DELETE":
            return 200, self.objects.pop(key)
        return 200, self.objects[key]

    def _proxy(self, method: str, m: dict, query: dict, body: Any, headers: Any = None):
        base = self.proxies.get((m["ns"], m["name"]))
        if base is None:
            return _status(503, "ServiceUnavailable", "no endpoints available for service")
        wanted = headers.get("Range") if headers is not None else None
        status, data = _get(f"{base}/{m['path']}", {"Range": wanted} if wanted else {})
        self.proxied.append((m["path"], wanted, len(data)))
        return status, data

    def _store(self, plural: str, ns: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = body.setdefault("metadata", {})
        meta.update(namespace=ns, uid=f"uid-{len(self.objects)}")
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if plural == "deployments":
            n = body.get("spec", {}).get("replicas", 1)
            body["status"] = {"replicas": n, "readyReplicas": n, "availableReplicas": n}
        self.objects[(plural, ns, meta["name"])] = body
        return body


def _get(url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=600) as response:
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


def _status(code: int, reason: str, message: str) -> tuple[int, dict]:
    return code, {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
