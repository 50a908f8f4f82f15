"""The fault proxy against real sockets: a `python -m stack.proxy` process, a threaded echo upstream."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest
import requests
from support import free_port, wait_for_port

DEFAULT_TTL = 30.0
# Bounds a busy or a fast machine cannot cross: a toxic's delay is seconds long, a round trip
# without one is judged "fast" when under a second, and waits for a TTL poll for the result.
SLOW_MS = 2000
FAST_S = 1.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture(scope="module")
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api():
    """Base URL of a fault proxy server process in standalone mode."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stack.proxy",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--default-ttl",
            str(DEFAULT_TTL),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_proxy(api: str, upstream_port: int, **extra) -> tuple[str, int]:
    """Create a proxy on a fresh port; return (name, listen port)."""
    name = f"p{free_port()}"
    resp = requests.post(
        f"{api}/proxies",
        json={"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream_port}", **extra},
    )
    assert resp.status_code == 201, resp.text
    return name, int(resp.json()["listen"].rsplit(":", 1)[1])


def add_toxic(api: str, proxy: str, **toxic) -> dict:
    resp = requests.post(f"{api}/proxies/{proxy}/toxics", json=toxic)
    assert resp.status_code == 200, resp.text
    return resp.json()


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(65536)
        assert chunk, "connection closed during round trip"
        received += chunk
    assert received == payload
    return time.monotonic() - start


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def eventually(predicate, timeout: float = 15.0) -> bool:
    """Poll `predicate` until it holds or `timeout` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# ---- API -----------------------------------------------------------------------
def test_version_is_json(api):
    assert "version" in requests.get(f"{api}/version").json()


def test_created_proxy_is_listed_shown_and_deleted(api, echo_port):
    name, port = make_proxy(api, echo_port)
    listed = requests.get(f"{api}/proxies").json()
    assert listed[name]["upstream"] == f"127.0.0.1:{echo_port}"
    shown = requests.get(f"{api}/proxies/{name}").json()
    assert shown == {
        "name": name,
        "listen": f"127.0.0.1:{port}",
        "upstream": f"127.0.0.1:{echo_port}",
        "enabled": True,
        "toxics": [],
        "disabled_until": None,
    }
    assert requests.delete(f"{api}/proxies/{name}").status_code == 204
    assert requests.get(f"{api}/proxies/{name}").status_code == 404
    with pytest.raises(ConnectionRefusedError):
        connect(port)


def test_proxy_forwards_both_ways(api, echo_port):
    _, port = make_proxy(api, echo_port)
    with connect(port) as sock:
        round_trip(sock, b"x" * 200_000)


def test_duplicate_proxy_name_is_409_json(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    resp = requests.post(f"{api}/proxies", json={"name": name, "upstream": f"127.0.0.1:{echo_port}"})
    assert resp.status_code == 409
    assert resp.json() == {"error": f"proxy already exists: '{name}'", "status": 409}


def test_missing_proxy_fields_are_all_reported_as_400(api):
    resp = requests.post(f"{api}/proxies", json={"listen": "127.0.0.1:0"})
    assert resp.status_code == 400
    assert "missing required field: name" in resp.json()["error"]
    assert "missing required field: upstream" in resp.json()["error"]


def test_listen_address_in_use_is_409(api, echo_port):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        resp = requests.post(
            f"{api}/proxies",
            json={"name": "taken", "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{echo_port}"},
        )
    assert resp.status_code == 409
    assert "listen address in use" in resp.json()["error"]


def test_non_loopback_listen_is_refused(api, echo_port):
    resp = requests.post(
        f"{api}/proxies", json={"name": "wide", "listen": "0.0.0.0:0", "upstream": f"127.0.0.1:{echo_port}"}
    )
    assert resp.status_code == 400
    assert "not a loopback address" in resp.json()["error"]


def test_malformed_body_is_400(api):
    resp = requests.post(f"{api}/proxies", data=b"{not json")
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("bad request body")


def test_unknown_proxy_is_404_json(api):
    resp = requests.post(f"{api}/proxies/nope/toxics", json={"type": "latency"})
    assert resp.json() == {"error": "proxy not found: 'nope'", "status": 404}


def test_unknown_toxic_type_is_400(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    resp = requests.post(f"{api}/proxies/{name}/toxics", json={"type": "gremlins"})
    assert resp.status_code == 400
    assert "invalid toxic type: 'gremlins'" in resp.json()["error"]


def test_bad_toxic_fields_are_all_reported(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    resp = requests.post(
        f"{api}/proxies/{name}/toxics",
        json={"type": "latency", "stream": "sideways", "toxicity": 2, "ttl": -1, "attributes": {"latency": "slow"}},
    )
    assert resp.status_code == 400
    for field in ("stream", "toxicity", "ttl", "attributes.latency"):
        assert field in resp.json()["error"]


def test_duplicate_toxic_name_is_409(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    add_toxic(api, name, type="latency", attributes={"latency": 1})
    resp = requests.post(f"{api}/proxies/{name}/toxics", json={"type": "latency"})
    assert resp.status_code == 409
    assert resp.json()["error"] == f"toxic already exists: 'latency_downstream' on proxy '{name}'"


def test_toxic_json_has_toxiproxy_fields_and_default_ttl(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    before = time.time()
    toxic = add_toxic(api, name, type="latency", attributes={"latency": 5})
    assert toxic["name"] == "latency_downstream" and toxic["stream"] == "downstream"
    assert toxic["toxicity"] == 1.0
    assert toxic["attributes"] == {"latency": 5, "jitter": 0}
    assert toxic["ttl"] == DEFAULT_TTL
    assert before + DEFAULT_TTL - 1 < toxic["expires_at"] < time.time() + DEFAULT_TTL + 1
    assert requests.get(f"{api}/proxies/{name}/toxics").json() == [toxic]
    assert requests.get(f"{api}/proxies/{name}/toxics/latency_downstream").json() == toxic


def test_toxic_update_merges_attributes(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    add_toxic(api, name, name="slow", type="latency", attributes={"latency": 5, "jitter": 1})
    resp = requests.post(f"{api}/proxies/{name}/toxics/slow", json={"attributes": {"latency": 9}, "ttl": 60})
    assert resp.json()["attributes"] == {"latency": 9, "jitter": 1}
    assert resp.json()["ttl"] == 60


def test_populate_creates_and_keeps_existing(api, echo_port):
    name, port = make_proxy(api, echo_port)
    other = f"q{free_port()}"
    body = [
        {"name": name, "listen": f"127.0.0.1:{port}", "upstream": f"127.0.0.1:{echo_port}"},
        {"name": other, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"},
    ]
    with connect(port) as sock:
        resp = requests.post(f"{api}/populate", json=body)
        assert resp.status_code == 201
        assert [p["name"] for p in resp.json()["proxies"]] == [name, other]
        round_trip(sock)  # the unchanged proxy kept its connection


def test_reset_enables_proxies_and_removes_toxics(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="latency", attributes={"latency": SLOW_MS})
    requests.post(f"{api}/proxies/{name}", json={"enabled": False})
    assert requests.post(f"{api}/reset").status_code == 204
    shown = requests.get(f"{api}/proxies/{name}").json()
    assert shown["enabled"] and shown["toxics"] == []
    with connect(port) as sock:
        assert round_trip(sock) < FAST_S


# ---- toxics on live traffic -------------------------------------------------------
def test_latency_delays_an_open_connection_until_removed(api, echo_port):
    name, port = make_proxy(api, echo_port)
    with connect(port) as sock:
        assert round_trip(sock) < FAST_S
        add_toxic(api, name, name="slow", type="latency", attributes={"latency": SLOW_MS})
        assert SLOW_MS / 1000 <= round_trip(sock) < 2 * SLOW_MS / 1000  # once, not per direction
        requests.delete(f"{api}/proxies/{name}/toxics/slow")
        assert round_trip(sock) < FAST_S


def test_latency_on_upstream_stream_delays_too(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="latency", stream="upstream", attributes={"latency": SLOW_MS})
    with connect(port) as sock:
        assert SLOW_MS / 1000 <= round_trip(sock) < 2 * SLOW_MS / 1000


def test_removing_latency_releases_data_already_waiting(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, name="slow", type="latency", attributes={"latency": 60_000})
    with connect(port, timeout=60) as sock:
        threading.Timer(0.3, requests.delete, [f"{api}/proxies/{name}/toxics/slow"]).start()
        assert round_trip(sock) < 30  # released by the delete, not after the toxic's 60 s


def test_latency_toxic_expires_after_its_ttl(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="latency", attributes={"latency": SLOW_MS}, ttl=5.0)
    with connect(port) as sock:
        assert round_trip(sock) >= SLOW_MS / 1000
        assert eventually(lambda: requests.get(f"{api}/proxies/{name}/toxics").json() == [])
        assert round_trip(sock) < FAST_S  # on the same connection


def test_timeout_zero_blackholes_and_keeps_connection_open(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, name="hole", type="timeout", attributes={"timeout": 0})
    with connect(port, timeout=0.8) as sock:
        sock.sendall(b"lost")
        with pytest.raises(socket.timeout):
            sock.recv(100)  # no data and no EOF: the connection stays open
        requests.delete(f"{api}/proxies/{name}/toxics/hole")
        sock.settimeout(10)
        round_trip(sock, b"back")  # the same connection carries data again


def test_timeout_closes_connection_after_its_timeout(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="timeout", attributes={"timeout": 300})
    with connect(port) as sock:
        start = time.monotonic()
        sock.sendall(b"lost")
        assert sock.recv(100) == b""  # closed, within the socket's 10 s timeout
        assert time.monotonic() - start >= 0.25


def test_reset_peer_resets_the_connection(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="reset_peer", attributes={"timeout": 1000})
    with connect(port) as sock:
        round_trip(sock)  # data passes until the timeout (1 s: room for a busy machine)

        def reset() -> bool:
            try:
                sock.sendall(b"x")
                assert sock.recv(100) == b"x"
            except ConnectionResetError:
                return True
            time.sleep(0.1)
            return False

        assert eventually(reset), "the connection was never reset"


def test_bandwidth_limits_throughput(api, echo_port):
    name, port = make_proxy(api, echo_port)
    with connect(port) as sock:
        round_trip(sock, b"b" * 100_000)
        add_toxic(api, name, type="bandwidth", attributes={"rate": 200})  # 200 KB/s
        elapsed = round_trip(sock, b"b" * 100_000)
    assert 0.4 <= elapsed < 5.0  # ~0.5 s at the rate; far below what a 10x slower rate would take


def test_slow_close_delays_the_close(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="slow_close", attributes={"delay": 400})
    with connect(port) as sock:
        round_trip(sock)
        start = time.monotonic()
        sock.shutdown(socket.SHUT_WR)  # echo server sees EOF and closes; its close comes back late
        assert sock.recv(100) == b""  # closed, within the socket's 10 s timeout
        assert time.monotonic() - start >= 0.35


def test_toxicity_zero_never_applies(api, echo_port):
    name, port = make_proxy(api, echo_port)
    add_toxic(api, name, type="latency", toxicity=0.0, attributes={"latency": SLOW_MS})
    with connect(port) as sock:
        assert round_trip(sock) < FAST_S


def test_disabled_proxy_drops_connections_and_reenables_after_ttl(api, echo_port):
    name, port = make_proxy(api, echo_port)
    with connect(port) as sock:
        resp = requests.post(f"{api}/proxies/{name}", json={"enabled": False, "ttl": 1.0})
        assert resp.json()["enabled"] is False and resp.json()["disabled_until"] > time.time()
        assert sock.recv(100) == b""  # the open connection was dropped
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    assert eventually(lambda: requests.get(f"{api}/proxies/{name}").json()["enabled"] is True)
    with connect(port) as sock:
        round_trip(sock)


def test_api_errors_never_500_on_wrong_shapes(api, echo_port):
    name, _ = make_proxy(api, echo_port)
    for path, payload in [
        ("/proxies", []),
        ("/populate", {}),
        (f"/proxies/{name}", {"enabled": "no"}),
        (f"/proxies/{name}/toxics", ["latency"]),
        (f"/proxies/{name}", {"ttl": 0}),
        (f"/proxies/{name}/toxics", {"type": "latency", "attributes": [1]}),
    ]:
        resp = requests.post(f"{api}{path}", json=payload)
        assert 400 <= resp.status_code < 500, (path, payload, resp.text)
        assert resp.json()["status"] == resp.status_code
