"""The gateway pod's hops sidecar (harness.targets.k8s.hops) as the pod runs it, and the fault
proxy's --allow-pod-address: a real `python -m ...` process, real sockets, real HTTP."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from support import free_base_port, free_port, wait_for_port

from stack.config import StackConfig

ROOT = Path(__file__).resolve().parents[2]


def start(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> str:
    """Stop the process group; return what it wrote to stderr."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.stderr.read()


def wait_for_api(proc: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}:\n{proc.stderr.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


class _Named(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    """Start HTTP servers that answer GET with their name; yield a starter."""
    servers = []

    def serve(name: str, host: str = "0.0.0.0", port: int = 0) -> int:
        server = http.server.ThreadingHTTPServer((host, port), _Named)
        server.name = name
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


# ---- the fault proxy's flag ---------------------------------------------------------------
@pytest.fixture
def proxy_api():
    """Start `python -m stack.proxy` with extra flags; yield a function returning its API URL."""
    procs = []

    def run(*flags: str) -> str:
        port = free_port()
        proc = start("-m", "stack.proxy", "--host", "127.0.0.1", "--port", str(port), *flags)
        procs.append(proc)
        wait_for_api(proc, port)
        return f"http://127.0.0.1:{port}"

    yield run
    for proc in procs:
        stop(proc)


def test_without_the_flag_the_proxy_refuses_a_pod_address_and_a_service_name(proxy_api):
    api = proxy_api()
    wide = requests.post(f"{api}/proxies", json={"name": "wide", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:9"})
    named = requests.post(
        f"{api}/proxies", json={"name": "named", "listen": "127.0.0.1:0", "upstream": "model-replica:8000"}
    )
    assert wide.status_code == 400 and "'0.0.0.0:0' is not a loopback address" in wide.json()["error"]
    assert "--allow-pod-address" in wide.json()["error"]
    assert named.status_code == 400 and "'model-replica:8000' is not a loopback address" in named.json()["error"]


def test_with_allow_pod_address_a_hop_binds_any_address_and_forwards_to_a_name(proxy_api, http_server):
    name = socket.gethostname()  # a DNS name, not a loopback literal
    upstream = http_server("named-upstream")
    api = proxy_api("--allow-pod-address")
    created = requests.post(
        f"{api}/proxies", json={"name": "svc", "listen": "0.0.0.0:0", "upstream": f"{name}:{upstream}"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["listen"].startswith("0.0.0.0:") and created.json()["upstream"] == f"{name}:{upstream}"
    port = int(created.json()["listen"].rsplit(":", 1)[1])
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == "named-upstream"


def test_allow_pod_address_still_refuses_a_listen_name_and_garbage(proxy_api):
    api = proxy_api("--allow-pod-address")
    bad = requests.post(f"{api}/proxies", json={"name": "x", "listen": "example.org:0", "upstream": "a_b:1"})
    assert bad.status_code == 400
    assert "listen: 'example.org:0'" in bad.json()["error"] and "upstream: 'a_b:1'" in bad.json()["error"]


# ---- the sidecar as deploy/stack/gateway.yaml runs it -----------------------------------------
@pytest.fixture
def pod_config(tmp_path):
    """A copy of deploy/stack/stack.json on a free port block (the pod's own ports are fixed)."""
    config = StackConfig.load(ROOT / "deploy" / "stack" / "stack.json")
    config = StackConfig.from_dict(
        {
            **config.__dict__,
            "gateway": config.gateway.__dict__,
            "base_port": free_base_port(),
            "state_root": str(tmp_path),
        }
    )
    path = tmp_path / "stack.json"
    path.write_text(config.to_json())
    return config, path


def test_the_hops_sidecar_starts_every_hop_and_forwards_to_services(pod_config, http_server):
    config, path = pod_config
    name = socket.gethostname()
    http_server("gateway", "127.0.0.1", config.port("gateway_upstream"))
    model, canary = http_server("model-replica"), http_server("model-canary")
    listen, api = free_port(), free_port()
    proc = start(
        "-m",
        "harness.targets.k8s.hops",
        "--config",
        str(path),
        "--listen-port",
        str(listen),
        "--api-port",
        str(api),
        env={"MODEL_SERVICE": f"{name}:{model}", "CANARY_SERVICE": f"{name}:{canary}"},
    )
    try:
        wait_for_api(proc, api)
        wait_for_port(listen)
        proxies = requests.get(f"http://127.0.0.1:{api}/proxies", timeout=10).json()
        assert proxies["client-gateway"]["listen"] == f"0.0.0.0:{listen}"
        assert all(p["enabled"] for p in proxies.values())
        replicas = [n for n in proxies if n.startswith("gateway-replica-")]
        assert len(replicas) == config.replicas
        assert requests.get(f"http://127.0.0.1:{listen}/", timeout=10).text == "gateway"
        for hop, answer in (
            ("gateway-replica-1", "model-replica"),
            (f"gateway-replica-{config.replicas}", "model-canary"),
        ):
            port = config.port(hop.replace("gateway-replica-", "replica_"))
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).text == answer, hop
    finally:
        err = stop(proc)
    assert "cannot create hop" not in err, err
