"""Stack-free behaviour: stack lookup, expiry records, the reaper's token check, live_sli, bad arguments."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from chaoslib.exceptions import ActivityFailed
from support import free_base_port

from harness.chaos import faults, network, probes, replicas, stackref
from stack.config import StackConfig


@pytest.fixture
def config(tmp_path, monkeypatch):
    """A stack.json of a stack that is not running: enough for argument checks and records."""
    monkeypatch.setenv("GAMEDAY_HOME", str(tmp_path))
    monkeypatch.delenv("GAMEDAY_STACK_NAME", raising=False)
    cfg = StackConfig(name="paper", base_port=free_base_port(), state_root=str(tmp_path / "stacks"))
    cfg.state_dir.mkdir(parents=True)
    (cfg.state_dir / "stack.json").write_text(cfg.to_json())
    return cfg


def test_stack_name_prefers_argument_then_configuration_then_env(monkeypatch):
    monkeypatch.setenv("GAMEDAY_STACK_NAME", "from-env")
    assert stackref.stack_name("arg", {"stack": "conf"}) == "arg"
    assert stackref.stack_name(None, {"stack": "conf"}) == "conf"
    assert stackref.stack_name() == "from-env"
    monkeypatch.delenv("GAMEDAY_STACK_NAME")
    assert stackref.stack_name() == "default"


def test_unknown_stack_is_an_activity_failure_that_says_how_to_start_it(config):
    with pytest.raises(ActivityFailed, match="stack 'ghost'.*gameday stack up"):
        stackref.running_stack("ghost")


def test_actions_refuse_bad_arguments_before_touching_the_stack(config):
    with pytest.raises(ActivityFailed, match="unknown replica 'replica-7'"):
        replicas.pause_replica("replica-7", stack="paper")
    with pytest.raises(ActivityFailed, match="count: 5"):
        replicas.kill_replica(count=5, stack="paper")
    with pytest.raises(ActivityFailed, match="unknown hop 'kafak'"):
        network.heal("kafak", stack="paper")
    with pytest.raises(ActivityFailed, match="kbps: 0"):
        network.limit_bandwidth("kafka", kbps=0, stack="paper")


def test_hop_aliases_expand_to_the_stack_hops(config):
    assert network.hops_for(config, "kafka") == ["gateway-kafka", "scorer-kafka"]
    assert network.hops_for(config, "replicas") == ["gateway-replica-1", "gateway-replica-2", "gateway-replica-3"]


def test_records_are_removed_only_with_their_own_token(config):
    record = faults.FaultRecord(
        id="stop-replica-1",
        token="a",
        undo="start",
        target="replica-1",
        created_at=time.time(),
        expires_at=time.time() + 60,
        reaper_pid=None,
    )
    faults.write(config, record)
    assert faults.remove(config, "stop-replica-1", token="b") is False
    assert [r["id"] for r in faults.pending(config)] == ["stop-replica-1"]
    assert faults.remove(config, "stop-replica-1", token="a") is True
    assert faults.pending(config) == []


def test_reaper_leaves_a_replaced_fault_alone(config):
    record = faults.FaultRecord(
        id="pause-replica-1",
        token="newer",
        undo="cont",
        target="replica-1",
        created_at=time.time(),
        expires_at=time.time(),
        reaper_pid=None,
    )
    faults.write(config, record)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.chaos.reaper",
            "--stack",
            "paper",
            "--state-root",
            config.state_root,
            "--after",
            "0",
            "--id",
            "pause-replica-1",
            "--token",
            "older",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert faults.read(config, "pause-replica-1")["token"] == "newer"


def write_live(run_dir, ts):
    run_dir.joinpath("live.json").write_text(
        json.dumps(
            {
                "ts": ts,
                "windows": {
                    "5s": {
                        "seconds": 5,
                        "overall": {"p99_ms": 120.0, "error_rate": 0.01},
                        "endpoints": {"POST /v1/score": {"p99_ms": 150.0, "error_rate": 0.0}},
                    }
                },
            }
        )
    )


def test_live_sli_reads_overall_and_per_endpoint_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUN_DIR", str(tmp_path))
    write_live(tmp_path, time.time())
    assert probes.live_sli("p99_ms") == 120.0
    assert probes.live_sli("p99") == 120.0
    assert probes.live_sli("error_rate") == 0.01
    assert probes.live_sli("p99", endpoint="POST /v1/score") == 150.0
    assert probes.live_sli("p99", endpoint="GET /nothing") is None


def test_live_sli_refuses_a_stale_file_and_an_unknown_window(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_RUN_DIR", str(tmp_path))
    write_live(tmp_path, time.time())
    with pytest.raises(ActivityFailed, match="window: '1m'"):
        probes.live_sli("p99", window="1m")
    write_live(tmp_path, time.time() - 60)
    with pytest.raises(ActivityFailed, match="load generator has stopped"):
        probes.live_sli("p99")


def test_a_health_check_tries_again_after_a_bad_answer_and_gives_up_after_three():
    """One late or failed answer on a busy machine is not an unhealthy service; three in a row are."""
    import http.server
    import threading

    seen: list[int] = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        fail_first = 2

        def do_GET(self):  # noqa: N802 (http.server's name)
            seen.append(1)
            self.send_response(503 if len(seen) <= self.fail_first else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    try:
        assert probes.answers(url, timeout=1.0) is True and len(seen) == 3
        seen.clear()
        Flaky.fail_first = 3
        assert probes.answers(url, timeout=1.0) is False and len(seen) == 3
    finally:
        server.shutdown()
        server.server_close()
