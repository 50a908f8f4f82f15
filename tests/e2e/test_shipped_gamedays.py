"""Every shipped game day in gamedays/, run as shipped: the file itself, unchanged, with
`gameday run gamedays/<file>.yaml`, each on a reference stack the run starts and stops.

On a healthy stack each passes whole. Each planted defect the README and the game days'
own comments document makes its game day fail, on the SLO they name. These are the
claims users read; they are proved on the files users run, not on shortened copies.

About 14 minutes of game days in all (`nightly` alone 3.5); marked `shipped` so that
`./scripts/test` runs them as a step of their own after the main suite (tests/README.md).
"""

from __future__ import annotations

import pytest
import yaml
from e2e_support import ROOT, run_shipped, verdicts

# The slowest, nightly, is 170 s of load plus a stack's start and stop and the analysis;
# a loaded CI machine gets ample room before pytest-timeout steps in.
pytestmark = [pytest.mark.slow, pytest.mark.shipped, pytest.mark.timeout(900)]

SHIPPED = sorted(p.name for p in (ROOT / "gamedays").glob("*.yaml"))

# (game day, --defect, the SLO that must fail as (sli, phase), what its comment or the README says)
PLANTED = [
    ("kill-model-replica.yaml", "no-retry", ("availability", "fault"),
     "without a retry on another replica, requests to the killed replica reach users"),
    ("kill-scorer.yaml", "commit-before-produce", ("events.lost", "run"),
     "offsets committed before the produce: a SIGKILLed scorer loses events"),
    ("trip-breaker.yaml", "breaker-never-recovers", ("recovery_time", None),
     "an open breaker never lets traffic back: recovery_time never"),
    ("canary-judge.yaml", "canary-regression", ("latency.p99", "fault"),
     "a canary 50 ms slower and 3% wrong fails its comparisons with the stable version; the aggregate SLOs pass"),
    ("partition-kafka.yaml", "scorer-no-rejoin", ("metric:scorer_consumer_lag", "recovery"),
     "scorers that gave up on their group never drain the lag: the lag is never back under its bound"),
]


# Recoveries that cannot be instant, measured from the fault's removal. trip-breaker: the
# breakers half-open only after their cool-down once the replicas heal (a clock started
# after the experiment's own 6 s post-heal pause reported 0.0 s).
RECOVERS_AFTER = {"trip-breaker.yaml": 1.0}


def spec_of(name: str) -> dict:
    return yaml.safe_load((ROOT / "gamedays" / name).read_text())


def chaos_blocks(spec: dict) -> list:
    chaos = spec.get("chaos") or []
    return chaos if isinstance(chaos, list) else [chaos]


def test_every_shipped_game_day_is_in_the_table_or_has_no_defect():
    """A new shipped file is picked up by the glob above; a defect claim in its comment needs a row."""
    documented = {name for name in SHIPPED if "--defect" in (ROOT / "gamedays" / name).read_text()}
    assert documented == {row[0] for row in PLANTED}


@pytest.mark.parametrize("name", SHIPPED, ids=[n.removesuffix(".yaml") for n in SHIPPED])
def test_shipped_game_day_passes_on_a_healthy_stack(name, tmp_path):
    spec = spec_of(name)
    done, _, result = run_shipped(f"gamedays/{name}", tmp_path)
    states = verdicts(result)
    assert done.returncode == 0, (states, done.stdout[-3000:] + done.stderr[-3000:])
    assert result["run"]["status"] == "completed"
    assert len(result["verdicts"]) == len(spec["slos"]), states          # every SLO of the file judged
    assert set(states.values()) == {"pass"}, states
    assert len(result["phases"]["fault"]["windows"]) == len(chaos_blocks(spec))
    for verdict in result["verdicts"]:
        if verdict["sli"] == "recovery_time":
            assert_recovery_is_measured_or_no_impact(verdict)
            if name in RECOVERS_AFTER:
                assert (verdict["observed"] or 0) > RECOVERS_AFTER[name], verdict


@pytest.mark.parametrize(("name", "defect", "slo", "why"), PLANTED, ids=[row[1] for row in PLANTED])
def test_planted_defect_fails_its_shipped_game_day_on_the_documented_slo(name, defect, slo, why, tmp_path):
    done, _, result = run_shipped(f"gamedays/{name}", tmp_path, "--defect", defect)
    states = verdicts(result)
    assert done.returncode == 1, (states, done.stdout[-3000:] + done.stderr[-3000:])
    assert result["run"]["status"] == "completed"
    sli, phase = slo
    documented = [v for v in result["verdicts"] if v["sli"] == sli and phase in (None, v["phase"])]
    assert documented and all(v["state"] == "fail" for v in documented), (why, states)
    # the defect shows only once the fault hits: the stack was healthy before it
    baseline = {v["slo"]: v["state"] for v in result["verdicts"] if v["phase"] == "baseline"}
    assert set(baseline.values()) <= {"pass"}, (why, states)
    if sli == "recovery_time":
        assert all(v["observed"] is None and v["observed_text"] == "never" for v in documented), documented
    if sli == "events.lost":
        assert all(v["observed"] > 0 for v in documented), documented


def assert_recovery_is_measured_or_no_impact(verdict: dict) -> None:
    """A recovery_time is a measured time after the fault's removal, or says plainly that the
    fault had no visible impact; never a bare 0.0 s."""
    text = f"{verdict.get('observed_text', '')} {verdict.get('reason', '')}".lower()
    assert (verdict["observed"] or 0) > 0 or "no impact" in text, verdict
