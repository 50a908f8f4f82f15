"""`python -m stack.proxy` as the stack runs it, and chaostoolkit-toxiproxy driving it."""

from __future__ import annotations

import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time

import pytest
import requests
from support import free_base_port, free_port, wait_for_port

from stack.config import StackConfig


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stack.proxy", *args], stderr=subprocess.PIPE, text=True)


@pytest.fixture
def stack_config(tmp_path):
    config = StackConfig(base_port=free_base_port(), replicas=2, toxic_ttl_s=42.0, state_root=str(tmp_path))
    path = tmp_path / "stack.json"
    path.write_text(config.to_json())
    return config, path


def test_config_mode_creates_every_hop_and_stops_on_sigterm(stack_config):
    config, path = stack_config
    proc = start("--config", str(path))
    try:
        wait_for_port(config.port("proxy_api"))
        proxies = requests.get(f"{config.url('proxy_api')}/proxies").json()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert {name: (p["listen"], p["upstream"]) for name, p in proxies.items()} == {
        name: (f"127.0.0.1:{listen}", f"127.0.0.1:{upstream}") for name, (listen, upstream) in config.proxies().items()
    }
    assert stderr.count("created proxy") == len(config.proxies())


def test_config_mode_gives_toxics_the_configured_ttl(stack_config):
    config, path = stack_config
    proc = start("--config", str(path))
    try:
        wait_for_port(config.port("proxy_api"))
        toxic = requests.post(
            f"{config.url('proxy_api')}/proxies/client-gateway/toxics",
            json={"type": "latency", "attributes": {"latency": 10}},
        ).json()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert toxic["ttl"] == 42.0


def test_taken_api_port_exits_4_with_a_clear_message():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = start("--port", str(taken.getsockname()[1]))
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 4
    assert "StackError: fault proxy api cannot listen" in stderr


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


def test_chaostoolkit_toxiproxy_drives_our_proxy():
    proxy_actions = pytest.importorskip("chaostoxi.proxy.actions")
    from chaostoxi.proxy import probes
    from chaostoxi.toxic import actions as toxic_actions

    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    echo.daemon_threads = True
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    api_port = free_port()
    proc = start("--port", str(api_port))
    cfg = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api_port}
    try:
        wait_for_port(api_port)
        assert proxy_actions.create_proxy(
            "echo", "127.0.0.1", echo.server_address[1], listen_host="127.0.0.1", listen_port=0, configuration=cfg
        )
        port = int(cfg["echo_PORT"])
        assert probes.proxy_exist("echo", configuration=cfg)
        assert toxic_actions.create_latency_toxic("echo", "slow", latency=2000, configuration=cfg)
        assert _round_trip(port) >= 2.0
        assert toxic_actions.delete_toxic("echo", "slow", configuration=cfg)
        assert _round_trip(port) < 1.0  # well under the toxic's 2 s, even on a busy machine
        assert proxy_actions.disable_proxy("echo", configuration=cfg)
        assert probes.get_proxy_attribute("echo", "enabled", configuration=cfg) is False
        with pytest.raises(ConnectionRefusedError):
            _round_trip(port)
        assert proxy_actions.enable_proxy("echo", configuration=cfg)
        assert toxic_actions.create_timeout_toxic("echo", "hole", timeout=0, configuration=cfg)
        assert proxy_actions.reset(configuration=cfg)
        _round_trip(port)  # the blackhole is gone: data comes back within the socket's timeout
        proxy_actions.delete_proxy("echo", configuration=cfg)
        assert not probes.proxy_exist("echo", configuration=cfg)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        echo.shutdown()
        echo.server_close()


def _round_trip(port: int) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        start_at = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        return time.monotonic() - start_at
