import textwrap
from pathlib import Path

import pytest

from harness.errors import SpecError
from harness.spec import load_gameday
from harness.spec.models import HttpTarget, LocalTarget

PROFILE = """
from locust import FastHttpUser, task
from harness.load import mark_correct

class U(FastHttpUser):
    @task
    def score(self):
        with self.client.post("/v1/score", json={}, catch_response=True) as r:
            mark_correct(r, True)

    @task
    def events(self):
        self.client.post("/v1/events", json={})
"""
EXPERIMENT = (
    '{"title": "t", "description": "d", "method": [{"type": "action", "name": "a", '
    '"provider": {"type": "process", "path": "true"}}]}'
)


def project(tmp_path: Path, spec: str, profile: str = PROFILE) -> Path:
    """A project directory with gamedays/x.yaml, loadprofiles/p.py and experiments/e.json."""
    (tmp_path / "gamedays").mkdir(parents=True)
    (tmp_path / "loadprofiles").mkdir()
    (tmp_path / "experiments").mkdir()
    (tmp_path / "loadprofiles" / "p.py").write_text(profile)
    (tmp_path / "experiments" / "e.json").write_text(EXPERIMENT)
    path = tmp_path / "gamedays" / "x.yaml"
    path.write_text(textwrap.dedent(spec))
    return path


GOOD = """
    name: good
    load: {profile: loadprofiles/p.py, shape: constant_rate, rate: 20, duration: 60s}
    chaos: {experiment: experiments/e.json, start_after: 20s}
    warmup: 5s
    slos:
      - {sli: latency.p99, endpoint: "POST /v1/score", phase: baseline, objective: "< 150ms"}
      - {objective: "p(95) < 300ms"}
      - {sli: availability, phase: fault, objective: ">= 99%"}
      - {sli: recovery_time, objective: "< 20s"}
      - {sli: apdex, T: 300ms, objective: ">= 0.9"}
      - {sli: correctness, objective: ">= 99.9%"}
    guardrails:
      - {sli: error_rate, window: 5s, abort_if: "> 50%"}
"""


def load(path: Path):
    return load_gameday(path, check_experiments=False)


def test_valid_spec_loads_into_frozen_gameday(tmp_path):
    gameday = load(project(tmp_path, GOOD))
    assert gameday.name == "good" and isinstance(gameday.target, LocalTarget)
    assert gameday.load.params["rate"] == 20 and gameday.load.duration == 60
    assert gameday.chaos[0].start_after == 20 and gameday.warmup == 5
    assert [s.sli for s in gameday.slos] == [
        "latency.p99",
        "latency.p95",
        "availability",
        "recovery_time",
        "apdex",
        "correctness",
    ]
    assert gameday.slos[3].phase == "recovery" and gameday.slos[1].phase == "run"
    assert gameday.apdex_ts == (0.3,)
    with pytest.raises(AttributeError):
        gameday.name = "x"


def test_every_problem_is_listed_at_once_with_file_path_and_value(tmp_path):
    path = project(
        tmp_path,
        """
        load: {profile: loadprofiles/p.py, rate: 20, duration: 60s}
        chaos: {experiment: experiments/missing.json, start_after: 90s}
        slos:
          - {sli: latency.p99, endpoint: "GET /nope", phase: baseline, objective: "< 150ms"}
          - {sli: availabilty, objective: ">= 99%"}
          - {sli: error_rate, objective: "<< 5"}
          - {sli: latency.p99, phase: warmup, objective: "< 1s"}
    """,
    )
    with pytest.raises(SpecError) as caught:
        load(path)
    problems = caught.value.problems
    expected = [
        "slos[0].endpoint: unknown endpoint 'GET /nope'",
        "slos[1].sli: unknown SLI 'availabilty'",
        "slos[2].objective: cannot parse '<< 5'",
        "slos[3].phase: unknown phase 'warmup'",
        "chaos.experiment: experiment 'experiments/missing.json' not found",
        "chaos.start_after: chaos starts at 90s, after the load ends at 60s",
    ]
    for fragment in expected:
        assert any(p.startswith(f"{path}: ") and fragment in p for p in problems), (fragment, problems)
    assert len(problems) == len(expected)


def test_correctness_from_profile_without_checks_fails_validation(tmp_path):
    path = project(
        tmp_path,
        GOOD,
        profile="from locust import HttpUser, task\n"
        'class U(HttpUser):\n    @task\n    def t(self):\n        self.client.post("/v1/score")\n',
    )
    with pytest.raises(SpecError, match=r"slos\[5\]\.sli: 'correctness' needs response checks"):
        load(path)


def test_dynamic_urls_make_any_endpoint_acceptable(tmp_path):
    profile = PROFILE + '\n    @task\n    def dyn(self):\n        self.client.get(f"/item/{1}")\n'
    spec = GOOD.replace('"POST /v1/score"', '"GET /whatever"')
    assert load(project(tmp_path, spec, profile)).slos[0].endpoint == "GET /whatever"


def test_warmup_not_shorter_than_load_is_reported(tmp_path):
    path = project(tmp_path, GOOD.replace("warmup: 5s", "warmup: 60s"))
    with pytest.raises(SpecError, match="warmup: warmup 60s leaves no time"):
        load(path)


def test_chaos_list_runs_in_sequence_and_must_increase(tmp_path):
    spec = GOOD.replace(
        "chaos: {experiment: experiments/e.json, start_after: 20s}",
        "chaos:\n      - {experiment: experiments/e.json, start_after: 30s}\n"
        "      - {experiment: experiments/e.json, start_after: 20s}",
    )
    with pytest.raises(SpecError, match=r"chaos\[1\]\.start_after: chaos blocks run in sequence"):
        load(project(tmp_path, spec))


def test_http_target_and_fault_phase_without_chaos(tmp_path):
    spec = """
        target: {kind: http, base_url: "http://127.0.0.1:8000/"}
        load: {profile: loadprofiles/p.py, shape: steady, users: 5, duration: 10s}
        slos:
          - {sli: availability, phase: fault, objective: ">= 99%"}
    """
    with pytest.raises(SpecError, match=r"slos\[0\]\.phase: phase 'fault' needs a chaos experiment"):
        load(project(tmp_path, spec))
    ok = load(project(tmp_path / "b", spec.replace("phase: fault", "phase: run")))
    assert ok.target == HttpTarget("http://127.0.0.1:8000") and ok.load.shape == "steady"


def test_kubernetes_namespace_must_be_allowed(tmp_path):
    spec = """
        target: {kind: kubernetes, context: kind, namespace: prod, allowed_namespaces: [staging]}
        load: {profile: loadprofiles/p.py, rate: 5, duration: 10s}
    """
    with pytest.raises(SpecError, match=r"target\.namespace: namespace 'prod' is not in allowed_namespaces"):
        load(project(tmp_path, spec))


def test_invalid_yaml_is_a_spec_error(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="cannot parse YAML"):
        load(path)


def test_experiment_failing_chaos_validate_is_reported(tmp_path):
    path = project(tmp_path, GOOD)
    (tmp_path / "experiments" / "e.json").write_text('{"title": "no description"}')
    with pytest.raises(SpecError, match=r"chaos\.experiment: experiment 'experiments/e.json' fails chaos validate"):
        load_gameday(path)


def test_repository_gamedays_are_valid():
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "gamedays").glob("*.yaml")):
        assert load_gameday(path, check_experiments=False).name == path.stem


def test_a_game_day_without_slos_is_invalid(tmp_path):
    for slos in ("", "slos: []\n    "):
        spec = GOOD.split("    slos:")[0] + "    " + slos
        path = project(tmp_path / str(len(slos)), spec)
        with pytest.raises(SpecError) as exc:
            load(path)
        assert any("slos" in p and ("required" in p or "at least one SLO" in p) for p in exc.value.problems)


def test_count_rate_limited_is_a_boolean_on_availability_only(tmp_path):
    spec = GOOD.replace(
        '{sli: availability, phase: fault, objective: ">= 99%"}',
        '{sli: availability, phase: fault, objective: ">= 99%", count_rate_limited: false}',
    )
    slo = next(s for s in load(project(tmp_path / "a", spec)).slos if s.sli == "availability")
    assert slo.count_rate_limited is False
    bad = GOOD.replace(
        '{sli: recovery_time, objective: "< 20s"}',
        '{sli: recovery_time, objective: "< 20s", count_rate_limited: maybe}',
    )
    with pytest.raises(SpecError) as exc:
        load(project(tmp_path / "b", bad))
    problems = " ".join(exc.value.problems)
    assert "slos[3].count_rate_limited" in problems and "true or false" in problems
