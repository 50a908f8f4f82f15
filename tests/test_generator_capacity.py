"""The advice to add Locust processes when a game day asks one for more than it kept on schedule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from harness.errors import SpecError
from harness.generator_capacity import (
    CLUSTER,
    ONE_PROCESS_RPS,
    REFERENCE,
    Capacity,
    advice,
    calibration_path,
    current,
    peak_rate,
    suggestion,
)
from harness.run.progress import status_text
from harness.spec.models import LoadSpec

ROOT = Path(__file__).resolve().parents[1]
ONE = ONE_PROCESS_RPS


@pytest.fixture(autouse=True)
def uncalibrated_home(tmp_path, monkeypatch):
    """A GAMEDAY_HOME of its own, so a machine's real calibration never changes these figures."""
    home = tmp_path / "home"
    monkeypatch.setenv("GAMEDAY_HOME", str(home))
    return home


def calibrated(home: Path, rps: float) -> Path:
    home.mkdir(exist_ok=True)
    path = home / "generator-capacity.json"
    path.write_text(json.dumps({"one_process_rps": rps, "measured": "2026-12-07 14:28 UTC", "cores": 2}))
    return path


def load(shape: str = "constant_rate", processes: int | None = None, **params: float) -> LoadSpec:
    return LoadSpec("p.py", shape, 60.0, params or {"rate": 50.0}, processes=processes)


@pytest.mark.parametrize(
    "shape, params, peak",
    [
        ("constant_rate", {"rate": 120.0}, 120.0),
        ("ramp", {"rate": 900.0, "rate_to": 100.0, "over": 60.0}, 900.0),
        ("step", {"rate": 10.0, "rate_step": 10.0, "every": 5.0, "rate_max": 300.0}, 300.0),
        ("spike", {"rate": 50.0, "rate_peak": 700.0, "at": 10.0, "length": 5.0}, 700.0),
        ("diurnal", {"rate": 20.0, "rate_max": 80.0, "period": 600.0}, 80.0),
        ("steady", {"users": 5000.0}, None),
    ],
)
def test_the_peak_rate_is_the_highest_rate_the_shape_asks_for(shape, params, peak):
    assert peak_rate(shape, params) == peak


def test_a_rate_one_process_keeps_gets_no_advice():
    assert suggestion(load(rate=ONE)) is None
    assert advice(load(rate=ONE)) is None
    assert suggestion(load("steady", users=100_000.0)) is None  # a closed model has no schedule to fall behind


def test_a_rate_above_one_process_suggests_enough_processes():
    assert suggestion(load(rate=ONE + 1)) == "load.processes: 2"
    assert suggestion(load("spike", rate=10.0, rate_peak=2.5 * ONE, at=5.0, length=5.0)) == "load.processes: 3"
    assert suggestion(load(rate=2.5 * ONE, processes=3)) is None  # already enough
    assert suggestion(load(rate=2.5 * ONE, processes=2)) == "load.processes: 3"


def test_locust_in_the_cluster_is_told_about_workers():
    cluster = LoadSpec("p.py", "constant_rate", 60.0, {"rate": 3.5 * ONE}, where="cluster", workers=2)
    assert suggestion(cluster) == "load.workers: 4"
    assert "set load.workers: 4" in advice(cluster)


def test_the_progress_line_suggests_processes_only_when_the_rate_needs_them():
    def line(rate: float) -> str:
        ctx = SimpleNamespace(
            load_started=None,
            load=None,
            chaos=None,
            gameday=SimpleNamespace(load=load(rate=rate), warmup=5.0, chaos=()),
        )
        return status_text(ctx, 0.0)

    assert line(3 * ONE).endswith("| generator over one process's pace: load.processes: 3")
    assert "load.processes" not in line(ONE / 2)


def test_without_a_calibration_the_advice_uses_the_reference_figure_and_says_where_it_came_from(uncalibrated_home):
    assert current() == REFERENCE
    assert "on schedule in benchmarks/open_model.py on the reference machine (`gameday calibrate`" in advice(
        load(rate=2 * ONE)
    )


def test_a_calibration_of_this_machine_replaces_the_reference_figure(uncalibrated_home):
    calibrated(uncalibrated_home, 1000)
    assert current() == Capacity(1000.0, "on this machine (`gameday calibrate`, 2026-12-07 14:28 UTC)")
    assert suggestion(load(rate=1000)) is None
    assert suggestion(load(rate=1001)) == "load.processes: 2"  # far below the reference figure
    assert suggestion(load(rate=2500, processes=2)) == "load.processes: 3"
    assert "one process kept 1000 req/s on schedule on this machine (`gameday calibrate`, 2026-12-07" in advice(
        load(rate=2500)
    )


@pytest.mark.parametrize(
    "content, says",
    [
        ("{not json", "not a calibration written by `gameday calibrate`"),
        ('{"measured": "x"}', "KeyError: 'one_process_rps'"),
        ('{"one_process_rps": "fast", "measured": "x"}', "one_process_rps: 'fast' is not a rate"),
        ('{"one_process_rps": 0, "measured": "x"}', "one_process_rps: 0 is not a rate"),
        ('{"one_process_rps": Infinity, "measured": "x"}', "one_process_rps: inf is not a rate"),
        ('{"one_process_rps": true, "measured": "x"}', "one_process_rps: True is not a rate"),
        (b"\xff\xfe not utf-8", "cannot read it"),
        (None, "cannot read it"),  # a directory where the file should be
    ],
)
def test_a_damaged_calibration_is_an_error_that_says_what_to_do(uncalibrated_home, content, says):
    uncalibrated_home.mkdir()
    if content is None:
        calibration_path().mkdir()
    elif isinstance(content, bytes):
        calibration_path().write_bytes(content)
    else:
        calibration_path().write_text(content)
    with pytest.raises(SpecError) as error:
        current()
    assert str(calibration_path()) in str(error.value)
    assert says in str(error.value)
    assert "run `gameday calibrate` again" in str(error.value)


def test_locust_in_the_cluster_is_advised_from_the_reference_figure_not_this_machines(uncalibrated_home):
    calibrated(uncalibrated_home, 1000)
    cluster = LoadSpec("p.py", "constant_rate", 60.0, {"rate": 2 * ONE}, where="cluster", workers=2)
    assert suggestion(cluster) is None  # 2 workers keep 2 x ONE at the reference figure, not 2 x 1000
    assert CLUSTER.where in advice(LoadSpec("p.py", "constant_rate", 60.0, {"rate": 3 * ONE}, where="cluster"))


def test_the_progress_line_uses_the_figure_the_run_read_at_its_start(uncalibrated_home):
    ctx = SimpleNamespace(
        load_started=None, load=None, chaos=None, gameday=SimpleNamespace(load=load(rate=1500), warmup=5.0, chaos=())
    )
    assert status_text(ctx, 0.0, Capacity(1000, "here")).endswith("load.processes: 2")
    calibrated(uncalibrated_home, 100)  # rewritten mid-run: the line keeps the figure it was given
    assert status_text(ctx, 0.0, Capacity(1000, "here")).endswith("load.processes: 2")
    assert status_text(ctx, 0.0).endswith("load.processes: 15")  # without one, it reads the file


def _validate(tmp_path: Path, rate: float) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile.py"
    profile.write_text(
        "from locust import HttpUser, task\n\nclass U(HttpUser):\n    @task\n"
        "    def t(self):\n        self.client.get('/')\n"
    )
    spec = tmp_path / "gd.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "fast",
                "target": {"kind": "http", "base_url": "http://127.0.0.1:9"},
                "load": {"profile": str(profile), "shape": "constant_rate", "rate": rate, "duration": "20s"},
                "warmup": "2s",
                "slos": [{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
            }
        )
    )
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "validate", "--no-chaos-validate", str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_validate_notes_a_rate_above_one_process_and_still_passes(tmp_path):
    done = _validate(tmp_path, 2 * ONE + 1)
    assert done.returncode == 0, done.stderr
    assert f"gd.yaml: note: load: constant_rate asks for up to {2 * ONE + 1} req/s" in done.stdout
    assert "set load.processes: 3" in done.stdout


def test_validate_says_nothing_about_processes_for_a_rate_one_keeps(tmp_path):
    done = _validate(tmp_path, 50)
    assert done.returncode == 0, done.stderr
    assert "note:" not in done.stdout


def test_validate_advises_from_this_machines_calibration(tmp_path, uncalibrated_home):
    calibrated(uncalibrated_home, 1000)
    done = _validate(tmp_path, 1500)
    assert done.returncode == 0, done.stderr
    assert "one process kept 1000 req/s on schedule on this machine" in done.stdout
    assert "set load.processes: 2" in done.stdout


def test_run_refuses_a_damaged_calibration_before_it_makes_a_run_directory(tmp_path, uncalibrated_home):
    uncalibrated_home.mkdir()
    calibration_path().write_text("{not json")
    _validate(tmp_path, 50)  # writes the spec and the profile
    reports = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--reports", str(reports), str(tmp_path / "gd.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"SpecError: {calibration_path()}: not a calibration")
    assert not reports.exists()


def test_validate_refuses_a_damaged_calibration_with_exit_2_and_no_traceback(tmp_path, uncalibrated_home):
    uncalibrated_home.mkdir()
    calibration_path().write_text("{not json")
    done = _validate(tmp_path, 50)
    assert done.returncode == 2
    assert done.stderr.startswith(f"SpecError: {calibration_path()}: not a calibration")
    assert "Traceback" not in done.stderr
