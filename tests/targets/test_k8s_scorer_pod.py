"""The scorer pods of deploy/stack/scorer.yaml: one identity per pod, and a readiness probe that
means "joined its consumer group and not stuck", run for real against a real scorer and Tansu."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import eventually

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "stack"))

from tansu_support import produce_events, read_scores, running_broker, write_config

ROOT = Path(__file__).resolve().parents[2]
POD_READY_FILE = "/tmp/gameday/scorer.ready"


def scorer_container() -> dict:
    docs = yaml.safe_load_all((ROOT / "deploy" / "stack" / "scorer.yaml").read_text())
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    return deployment["spec"]["template"]["spec"]["containers"][0]


def probe_passes(ready_file: Path) -> bool:
    """Run the manifest's readiness probe here, with the pod's ready file mapped to `ready_file`."""
    command = [
        part.replace(POD_READY_FILE, str(ready_file))
        for part in scorer_container()["readinessProbe"]["exec"]["command"]
    ]
    return subprocess.run(command, check=False, capture_output=True, timeout=30).returncode == 0


def test_each_scorer_pod_runs_under_its_own_name():
    """A constant `--index 1` makes every replica the same member (client id, `scorer` field)."""
    container = scorer_container()
    command = container["command"]
    flag = "--name" if "--name" in command else "--index"
    value = command[command.index(flag) + 1]
    assert value.startswith("$(") and value.endswith(")"), f"every pod runs {flag} {value}"
    env = {e["name"]: e for e in container.get("env", [])}
    assert env[value[2:-1]]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_the_probe_fails_for_a_scorer_that_never_joined(tmp_path):
    """No scorer ran, so no group member: the pod must not be Ready."""
    assert probe_passes(tmp_path / "scorer.ready") is False


@pytest.mark.slow
def test_the_probe_passes_only_while_the_scorer_is_a_live_group_member(tmp_path):
    ready = tmp_path / "scorer.ready"
    config = write_config(tmp_path)
    with running_broker() as bootstrap:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stack.scorer",
                "--config",
                str(config),
                "--name",
                "scorer-pod-a",
                "--bootstrap",
                bootstrap,
                "--ready-file",
                str(ready),
            ],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            eventually(lambda: probe_passes(ready), 60, "readiness after joining the group")
            ids = produce_events(bootstrap, 20)
            scores = read_scores(bootstrap, set(ids), timeout=60)
            assert {r["scorer"] for r in scores} == {"scorer-pod-a"}
            os.killpg(proc.pid, signal.SIGSTOP)  # stuck: alive, but its loop no longer turns
            eventually(lambda: not probe_passes(ready), 60, "not ready while stuck")
            os.killpg(proc.pid, signal.SIGCONT)
            eventually(lambda: probe_passes(ready), 60, "ready again once it runs")
        finally:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert not ready.exists(), "a scorer that left its group must not look ready"
