"""`gameday proxy`: a standalone fault hop driven by the stock chaostoolkit-toxiproxy provider,
whose faults expire by their TTL even when the harness is killed with -9, and that `gameday cleanup` heals."""

from __future__ import annotations

import json
import os
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from support import eventually, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
TTL_S = 6.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def start_group(argv: list[str], home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "GAMEDAY_HOME": str(home), **kw.pop("env", {})}
    return subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, **kw)


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


def gameday(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        env={**os.environ, "GAMEDAY_HOME": str(home)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def hop(echo, tmp_path):
    """A running `gameday proxy` named 'echo' in front of the echo server: (listen port, api url, home)."""
    listen, api = free_port(), free_port()
    log = open(tmp_path / "proxy.log", "w")
    proc = start_group(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "proxy",
            "--listen",
            f"127.0.0.1:{listen}",
            "--upstream",
            f"127.0.0.1:{echo}",
            "--api",
            f"127.0.0.1:{api}",
            "--name",
            "echo",
            "--default-ttl",
            str(TTL_S),
        ],
        tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(api, 30)
        # ready = registered: the proxy registers itself once everything listens, so a test that
        # looks right after the API port opens can be a moment early (seen once in CI)
        eventually(lambda: list((tmp_path / "proxies").glob("*.json")), 30, "the proxy's registration")
        yield listen, f"http://127.0.0.1:{api}", tmp_path, proc
    finally:
        kill_group(proc)
        log.close()


def round_trip(port: int, timeout: float = 5.0) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        start = time.monotonic()
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        return time.monotonic() - start


def stalls(port: int) -> bool:
    try:
        round_trip(port, timeout=1.5)
    except TimeoutError:
        return True
    return False


def partition_experiment(api_port: int) -> dict:
    """Stock chaostoolkit-toxiproxy only: hold the link's data (a latency toxic far past the TTL), then wait."""
    return {
        "version": "1.0.0",
        "title": "Partition a link through gameday proxy",
        "description": "stock provider",
        "configuration": {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": api_port},
        "method": [
            {
                "type": "action",
                "name": "partition-echo",
                "provider": {
                    "type": "python",
                    "module": "chaostoxi.toxic.actions",
                    "func": "create_latency_toxic",
                    "arguments": {"for_proxy": "echo", "toxic_name": "partition", "latency": 600000},
                },
                "pauses": {"after": 120},
            }
        ],
        "rollbacks": [
            {
                "type": "action",
                "name": "heal-echo",
                "provider": {
                    "type": "python",
                    "module": "chaostoxi.toxic.actions",
                    "func": "delete_toxic",
                    "arguments": {"for_proxy": "echo", "toxic_name": "partition"},
                },
            }
        ],
    }


def toxics(api: str) -> list[dict]:
    return requests.get(f"{api}/proxies/echo", timeout=5).json()["toxics"]


@pytest.mark.slow
def test_a_stock_toxiproxy_partition_through_gameday_proxy_expires_after_the_harness_is_killed_9(hop, tmp_path):
    listen, api, home, _ = hop
    assert round_trip(listen) < 1.0
    experiment = tmp_path / "partition.json"
    experiment.write_text(json.dumps(partition_experiment(int(api.rsplit(":", 1)[1]))))
    chaos = start_group(
        [
            str(Path(sys.executable).with_name("chaos")),
            "run",
            str(experiment),
            "--journal-path",
            str(tmp_path / "journal.json"),
        ],
        home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        toxic = eventually(lambda: toxics(api), 60, "the stock provider's toxic")[0]
        assert (toxic["name"], toxic["type"], toxic["ttl"]) == ("partition", "latency", TTL_S)
        assert stalls(listen), "the link still carries data under the partition"
    finally:
        kill_group(chaos)  # the harness dies with -9: no rollback runs
    killed_at = time.time()
    assert toxics(api), "the toxic was removed by something else than its TTL"
    eventually(lambda: not toxics(api), TTL_S + 20, "the TTL to remove the toxic")
    assert time.time() <= toxic["expires_at"] + 5
    assert killed_at < toxic["expires_at"]
    assert round_trip(listen) < 1.0
    assert not (tmp_path / "journal.json").exists(), "the experiment was not killed before its rollback"


def test_stock_provider_disables_the_hop_and_gameday_cleanup_heals_it(hop):
    from chaostoxi.proxy import actions as proxy_actions
    from chaostoxi.toxic import actions as toxic_actions

    listen, api, home, _ = hop
    cfg = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": int(api.rsplit(":", 1)[1])}
    assert toxic_actions.create_latency_toxic("echo", "slow", latency=3000, configuration=cfg)
    assert proxy_actions.disable_proxy("echo", configuration=cfg)
    with pytest.raises(ConnectionRefusedError):
        round_trip(listen)
    result = gameday("cleanup", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "echo: toxic slow (latency)" in result.stdout
    assert "echo: hop was down, enabled" in result.stdout
    assert "2 fault(s) removed" in result.stdout
    assert toxics(api) == []
    assert round_trip(listen) < 1.0


def test_cleanup_with_nothing_to_heal_says_so_and_leaves_the_hop_alone(hop):
    listen, api, home, _ = hop
    result = gameday("cleanup", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 running, 0 fault(s) removed" in result.stdout
    assert round_trip(listen) < 1.0


def test_cleanup_forgets_a_proxy_that_was_killed(hop):
    _, _, home, proc = hop
    registry = home / "proxies"
    assert len(list(registry.glob("*.json"))) == 1
    kill_group(proc)
    result = gameday("cleanup", home=home)
    assert list(registry.glob("*.json")) == []
    assert "gameday proxies" not in result.stdout


def test_the_api_refuses_to_move_the_hop_to_a_host_that_is_not_allowed(hop, monkeypatch):
    _, api, _, _ = hop
    answer = requests.post(f"{api}/proxies/echo", json={"upstream": "10.1.2.3:80"}, timeout=5)
    assert answer.status_code == 400
    assert "not a loopback address" in answer.json()["error"]


def test_a_taken_listen_port_exits_4_and_unregisters(echo, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = gameday(
            "proxy",
            "--listen",
            f"127.0.0.1:{taken.getsockname()[1]}",
            "--upstream",
            f"127.0.0.1:{echo}",
            "--api",
            f"127.0.0.1:{free_port()}",
            home=tmp_path,
        )
    assert result.returncode == 4
    assert "TargetError: gameday proxy 'upstream' cannot start" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "proxies").glob("*.json"))


def test_bad_flags_exit_2_listing_each(tmp_path):
    result = gameday(
        "proxy",
        "--listen",
        "0.0.0.0:1",
        "--upstream",
        "db.example:5432",
        "--api",
        "x",
        "--default-ttl",
        "0",
        home=tmp_path,
    )
    assert result.returncode == 2
    for text in ("--listen '0.0.0.0:1'", "--api 'x'", "--upstream host 'db.example'", "--default-ttl 0"):
        assert text in result.stderr
    assert "Traceback" not in result.stderr
