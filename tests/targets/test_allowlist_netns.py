"""A non-loopback target that $GAMEDAY_ALLOWED_HOSTS does not list is refused (exit 2) before any packet:
a listener on a non-loopback address inside a network namespace made here sees nothing, not even one IPv4
packet arriving in the namespace. Listed, the same host is reached (so the listener would have seen it).

Needs root and `ip netns` (CI runs as root); without them these tests fail rather than skip.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from support import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
LISTENER = r"""
import socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
address, port, log, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

class Logged(ThreadingHTTPServer):
    def get_request(self):
        conn, peer = super().get_request()
        with open(log, "a") as out:
            out.write(f"{peer[0]}:{peer[1]}\n")
        return conn, peer

server = Logged((address, port), Ok)
open(ready, "w").write("ready\n")
server.serve_forever()
"""


def sh(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class Namespace:
    """A network namespace joined to this one by a veth pair: host side .1/30, namespace side .2/30."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.name, self.host_if, self.ns_if = f"gd-{tag}", f"gdh{tag}", f"gdn{tag}"
        net = f"10.{random.randrange(200, 250)}.{random.randrange(0, 255)}"
        self.host_ip, self.address = f"{net}.1", f"{net}.2"

    def up(self) -> None:
        sh("ip", "netns", "add", self.name)
        sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        sh("ip", "link", "set", self.ns_if, "netns", self.name)
        sh("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        sh("ip", "link", "set", self.host_if, "up")
        self.run("ip", "addr", "add", f"{self.address}/30", "dev", self.ns_if)
        self.run("ip", "link", "set", self.ns_if, "up")
        self.run("ip", "link", "set", "lo", "up")

    def run(self, *argv: str) -> str:
        return sh("ip", "netns", "exec", self.name, *argv)

    def ipv4_packets_in(self) -> int:
        """IPv4 packets the namespace has received (Ip: InReceives of its /proc/net/snmp)."""
        header, values = [
            line.split() for line in self.run("cat", "/proc/net/snmp").splitlines() if line.startswith("Ip:")
        ][:2]
        return int(values[header.index("InReceives")])

    def down(self) -> None:
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@pytest.fixture
def listener(tmp_path):
    """(namespace, port, log): an HTTP listener on the namespace's non-loopback address, logging each connection."""
    ns = Namespace()
    ns.up()
    port, log, ready = 18080, tmp_path / "connections.log", tmp_path / "ready"
    script = tmp_path / "listener.py"
    script.write_text(LISTENER)
    log.touch()
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, sys.executable, str(script), ns.address, str(port), str(log), str(ready)],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the listener in the namespace did not start"
            time.sleep(0.05)
        yield ns, port, log
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        ns.down()


def gameday(*args: str, home: Path, allowed: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_ALLOWED_HOSTS"}
    env["GAMEDAY_HOME"] = str(home)
    if allowed is not None:
        env["GAMEDAY_ALLOWED_HOSTS"] = allowed
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def spec(tmp_path: Path, base_url: str) -> Path:
    profile = tmp_path / "locustfile.py"
    profile.write_text(
        "from locust import FastHttpUser, task\n\n\nclass Visitor(FastHttpUser):\n"
        "    @task\n    def index(self):\n        self.client.get('/')\n"
    )
    path = tmp_path / "gd.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "elsewhere",
                "target": {"kind": "http", "base_url": base_url},
                "load": {"profile": str(profile), "shape": "constant_rate", "rate": 5, "duration": "5s"},
                "slos": [{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
            }
        )
    )
    return path


def test_a_run_against_a_host_not_allowed_exits_2_and_sends_nothing(listener, tmp_path):
    ns, port, log = listener
    before = ns.ipv4_packets_in()
    result = gameday(
        "run", str(spec(tmp_path, f"http://{ns.address}:{port}")), "--reports", str(tmp_path / "runs"), home=tmp_path
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "target.base_url" in result.stderr and "GAMEDAY_ALLOWED_HOSTS" in result.stderr
    assert "Traceback" not in result.stderr
    assert log.read_text() == ""
    assert ns.ipv4_packets_in() == before, "a packet reached the namespace"


def test_a_gameday_proxy_to_a_host_not_allowed_exits_2_binds_nothing_and_sends_nothing(listener, tmp_path):
    ns, port, log = listener
    before = ns.ipv4_packets_in()
    hop = free_port()
    result = gameday(
        "proxy",
        "--listen",
        f"127.0.0.1:{hop}",
        "--upstream",
        f"{ns.address}:{port}",
        "--api",
        f"127.0.0.1:{free_port()}",
        home=tmp_path,
        timeout=30,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"--upstream host '{ns.address}' is not loopback and not allowed" in result.stderr
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", hop), timeout=2).close()
    assert log.read_text() == ""
    assert ns.ipv4_packets_in() == before, "a packet reached the namespace"


def test_the_same_host_listed_in_gameday_allowed_hosts_is_reached(listener, tmp_path):
    """The control: allowed, the spec validates and a `gameday proxy` to the listener carries a request to it."""
    ns, port, log = listener
    before = ns.ipv4_packets_in()
    validated = gameday(
        "validate",
        "--no-chaos-validate",
        str(spec(tmp_path, f"http://{ns.address}:{port}")),
        home=tmp_path,
        allowed=f"other.example,{ns.address}",
    )
    assert validated.returncode == 0, validated.stderr
    hop, api = free_port(), free_port()
    env = {**os.environ, "GAMEDAY_HOME": str(tmp_path), "GAMEDAY_ALLOWED_HOSTS": ns.address}
    proxy = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "proxy",
            "--listen",
            f"127.0.0.1:{hop}",
            "--upstream",
            f"{ns.address}:{port}",
            "--api",
            f"127.0.0.1:{api}",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(api, 30)
        with socket.create_connection(("127.0.0.1", hop), timeout=5) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {ns.address}\r\n\r\n".encode())
            assert sock.recv(100).startswith(b"HTTP/1.0 200")
    finally:
        os.killpg(proxy.pid, signal.SIGKILL)
        proxy.wait(10)
    assert len(log.read_text().splitlines()) == 1
    assert ns.ipv4_packets_in() > before
