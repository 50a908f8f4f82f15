"""loadprofiles/inference.py: its options, its request mix, and a real run against the stack."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_base_port

from harness.load.ledger import reconcile

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "loadprofiles" / "inference.py"


def locust(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(PROFILE), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def test_profile_options_are_registered_with_locust(tmp_path):
    # Locust prints --help before it loads the locustfile, so custom options never show
    # there (locust 2.47); a bad value for one proves Locust parsed it as ours.
    result = locust("--headless", "--score-weight", "lots", cwd=tmp_path)
    assert result.returncode != 0
    assert "argument --score-weight: invalid float value: 'lots'" in result.stderr


@pytest.mark.parametrize("flag", ["--events-weight", "--repeat-share", "--gameday-sink-drain"])
def test_each_numeric_option_is_parsed(tmp_path, flag):
    result = locust("--headless", flag, "x", cwd=tmp_path)
    assert f"argument {flag}: invalid float value" in result.stderr


def load_profile_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("inference_profile_under_test", PROFILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Options:
    def __init__(self, score_weight=10.0, events_weight=1.0, repeat_share=0.1):
        self.score_weight, self.events_weight, self.repeat_share = score_weight, events_weight, repeat_share


@pytest.fixture(scope="module")
def profile():
    return load_profile_module()


def test_mix_turns_weights_into_a_score_share(profile):
    assert profile.Mix(Options(score_weight=3, events_weight=1)).score_share == 0.75


def test_mix_rejects_two_zero_weights(profile):
    with pytest.raises(ValueError, match="not both 0"):
        profile.Mix(Options(score_weight=0, events_weight=0))


def test_repeat_share_draws_that_share_from_the_hot_pool(profile):
    from stack.model import example_features

    mix, rng = profile.Mix(Options(repeat_share=0.2)), random.Random(7)
    hot = {tuple(example_features(i)) for i in range(profile.HOT_POOL)}
    share = sum(tuple(mix.features(rng)) in hot for _ in range(5000)) / 5000
    assert 0.17 < share < 0.23


@pytest.mark.slow
def test_headless_run_against_the_stack_records_correctness_and_ledger(tmp_path):
    base = free_base_port()
    name = f"t{base}"
    up = subprocess.run(
        [sys.executable, "-m", "harness.cli", "stack", "up", "--name", name, "--base-port", str(base)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        run_dir = tmp_path / "run"
        result = locust(
            "--headless",
            "-u",
            "10",
            "-r",
            "10",
            "-t",
            "15s",
            "--host",
            f"http://127.0.0.1:{base + 1}",
            "--gameday-run-dir",
            str(run_dir),
            "--events-weight",
            "3",
            "--gameday-sink",
            "kafka",
            "--gameday-sink-bootstrap",
            f"127.0.0.1:{base + 3}",
            cwd=tmp_path,
            timeout=90,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "stack", "down", "--name", name],
            capture_output=True,
            timeout=60,
            cwd=tmp_path,
        )
    rows = [json.loads(line) for line in (run_dir / "samples" / "samples.jsonl").read_text().splitlines()]
    score_ok = [r for r in rows if r["endpoint"] == "POST /v1/score" and r["outcome"] == "ok"]
    assert sum(r["checked"] for r in score_ok) > 100
    assert sum(r["correct"] for r in score_ok) == sum(r["checked"] for r in score_ok)
    summary = reconcile(run_dir)
    assert summary.produced > 50
    assert summary.lost == ()
    assert len(summary.e2e) == summary.produced
