"""Every shipped game day in gamedays/, run as shipped: the file itself, unchanged, with
`gameday run gamedays/<file>.yaml`, each on a reference stack the run starts and stops.

On a healthy stack each passes whole. Each planted defect the README and the game days'
own comments document makes its game day fail, on the SLO they name. These are the
claims users read; they are proved on the files users run, not on shortened copies.

About 14 minutes of game days in all (`nightly` alone 3.5); marked `shipped` so that
`./scripts/test` runs them as a step of their own after the main suite (tests/README.md).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest
import yaml
from e2e_support import ROOT, run_shipped, verdicts

# The slowest, nightly, is 170 s of load plus a stack's start and stop and the analysis;
# a loaded CI machine gets ample room before pytest-timeout steps in.
pytestmark = [pytest.mark.slow, pytest.mark.shipped, pytest.mark.timeout(900)]

SHIPPED = sorted(p.name for p in (ROOT / "gamedays").glob("*.yaml"))
# Game days whose own test file runs them (healthy and with their defect) and makes the checks
# below on those same runs as well as its own: run here too, each would cost CI its minutes twice.
OWN_FILE = {"canary-judge.yaml": "test_canary_judge.py"}
RUN_HERE = [name for name in SHIPPED if name not in OWN_FILE]


class Planted(NamedTuple):
    """A planted defect as its game day's comment (and the README) documents it."""

    gameday: str
    defect: str
    fails: list[tuple[str, str | None]]  # (sli, phase) that must fail; phase None: any
    passes: list[tuple[str, str | None]]  # must still pass: the failure is the defect's, the stack served
    never: bool  # the failing verdicts read "never" (a recovery that never came)
    why: str


# commit-before-produce batches the scorer's outputs for 1 s, so events.e2e_latency fails with
# it even in the baseline: not listed among the passing ones.
PLANTED = [
    Planted(
        "kill-model-replica.yaml",
        "no-retry",
        [("availability", "fault")],
        [("latency.p99", "baseline"), ("availability", "baseline"), ("correctness", "run")],
        False,
        "without a retry on another replica, requests to the killed replica reach users",
    ),
    Planted(
        "kill-scorer.yaml",
        "commit-before-produce",
        [("events.lost", "run")],
        [("availability", "run")],
        False,
        "offsets committed before the produce: a SIGKILLed scorer loses events",
    ),
    Planted(
        "trip-breaker.yaml",
        "breaker-never-recovers",
        [("recovery_time", None)],
        [("latency.p99", "baseline"), ("availability", "baseline")],
        True,
        "an open breaker never lets traffic back: recovery_time never",
    ),
    Planted(
        "partition-kafka.yaml",
        "scorer-no-rejoin",
        [("metric:scorer_consumer_lag", "recovery")],
        [("latency.p99", "baseline"), ("availability", "run")],
        True,
        "scorers that give up on their group once cut off: the lag never drains",
    ),
    Planted(
        "canary-judge.yaml",
        "canary-regression",
        [("latency.p99", "fault"), ("correctness", "fault")],
        [("latency.p99", "run"), ("correctness", "run"), ("availability", "run")],
        False,
        "a slower, partly wrong canary fails the comparison while the aggregates over both pass",
    ),
]

# Recoveries that cannot be instant, measured from the fault's removal. trip-breaker: the
# breakers half-open only after their cool-down once the replicas heal (a clock started
# after the experiment's own post-heal pause reported 0.0 s).
RECOVERS_AFTER = {"trip-breaker.yaml": 1.0}


def spec_of(name: str) -> dict:
    return yaml.safe_load((ROOT / "gamedays" / name).read_text())


def chaos_blocks(spec: dict) -> list:
    chaos = spec.get("chaos") or []
    return chaos if isinstance(chaos, list) else [chaos]


def test_every_shipped_game_day_is_in_the_table_or_has_no_defect():
    """A new shipped file is picked up by the glob above; a defect claim in its comment needs a row."""
    documented = {name for name in SHIPPED if "--defect" in (ROOT / "gamedays" / name).read_text()}
    assert documented == {row.gameday for row in PLANTED}


@pytest.mark.parametrize(
    "name",
    [n for n in SHIPPED if n not in OWN_FILE],
    ids=[n.removesuffix(".yaml") for n in SHIPPED if n not in OWN_FILE],
)
def test_shipped_game_day_passes_on_a_healthy_stack(name, tmp_path):
    done, _, result = run_shipped(f"gamedays/{name}", tmp_path)
    assert_passes_as_shipped(name, done, result)


@pytest.mark.parametrize(
    "planted",
    [row for row in PLANTED if row.gameday not in OWN_FILE],
    ids=[row.defect for row in PLANTED if row.gameday not in OWN_FILE],
)
def test_planted_defect_fails_its_shipped_game_day_on_the_documented_slo(planted, tmp_path):
    done, _, result = run_shipped(f"gamedays/{planted.gameday}", tmp_path, "--defect", planted.defect)
    assert_fails_as_planted(planted, done, result)


def test_every_game_day_run_elsewhere_makes_these_checks_there():
    for name, test_file in OWN_FILE.items():
        source = (ROOT / "tests" / "e2e" / test_file).read_text()
        assert "assert_passes_as_shipped(" in source and "assert_fails_as_planted(" in source, (name, test_file)


def assert_passes_as_shipped(name: str, done, result: dict) -> None:
    """The shipped game day `name` passed whole: exit 0, every SLO of the file judged and passed, and
    every experiment judged as run as written (a check missing means a block ended without one)."""
    spec = spec_of(name)
    states = verdicts(result)
    checks = [(c["block"], c["experiment"], c["state"], c["reason"]) for c in result["experiment_checks"]]
    assert done.returncode == 0, (states, checks, done.stdout[-3000:] + done.stderr[-3000:])
    assert [c[:3] for c in checks] == [
        (i, block["experiment"], "pass") for i, block in enumerate(chaos_blocks(spec), 1)
    ], checks
    assert result["run"]["status"] == "completed"
    assert len(result["verdicts"]) == len(spec["slos"]), states  # every SLO of the file judged
    assert set(states.values()) == {"pass"}, states
    assert len(result["phases"]["fault"]["windows"]) == len(chaos_blocks(spec))
    for verdict in result["verdicts"]:
        if verdict["sli"] == "recovery_time":
            assert_recovery_is_measured_or_no_impact(verdict)
            if name in RECOVERS_AFTER:
                assert (verdict["observed"] or 0) > RECOVERS_AFTER[name], verdict


def planted_row(gameday: str) -> Planted:
    return next(row for row in PLANTED if row.gameday == gameday)


def assert_fails_as_planted(planted: Planted, done, result: dict) -> None:
    """The game day failed (exit 1) on the SLOs its planted defect names, and still passed the others listed."""
    states = verdicts(result)
    assert done.returncode == 1, (states, done.stdout[-3000:] + done.stderr[-3000:])
    assert result["run"]["status"] == "completed"

    def judged(sli: str, phase: str | None) -> list[dict]:
        found = [v for v in result["verdicts"] if v["sli"] == sli and phase in (None, v["phase"])]
        assert found, f"the game day has no {sli} verdict in {phase}: {states}"
        return found

    for sli, phase in planted.fails:
        failed = judged(sli, phase)
        assert all(v["state"] == "fail" for v in failed), (planted.why, states)
        if planted.never:
            assert all(v["observed"] is None and v["observed_text"] == "never" for v in failed), failed
        if sli == "events.lost":
            assert all(v["observed"] > 0 for v in failed), failed
    for sli, phase in planted.passes:
        assert all(v["state"] == "pass" for v in judged(sli, phase)), (planted.why, states)


def assert_recovery_is_measured_or_no_impact(verdict: dict) -> None:
    """A recovery_time is a measured time after the fault's removal, or says plainly that the
    fault had no visible impact; never a bare 0.0 s."""
    text = f"{verdict.get('observed_text', '')} {verdict.get('reason', '')}".lower()
    assert (verdict["observed"] or 0) > 0 or "no impact" in text, verdict
