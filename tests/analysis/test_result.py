import json

from rundir_factory import T0, steady_rows, timeline, write_run

from harness.report.reports import write_reports

SPEC = """
name: doc
load: {profile: p.py, rate: 10, duration: 40s}
chaos: {experiment: e.json, start_after: 20s}
warmup: 5s
slos:
  - {sli: latency.p99, endpoint: "POST /v1/score", phase: baseline, objective: "< 100ms"}
  - {sli: recovery_time, objective: "< 5s"}
  - {sli: correctness, objective: ">= 99%"}
"""


def test_result_json_is_strict_json_with_version_and_every_section(tmp_path):
    rows = steady_rows(0, 20) + steady_rows(20, 40, latency_ms=500)  # never recovers
    run = write_run(tmp_path, timeline(load_s=40, warmup_s=5, faults=[(20, 30)]), rows, spec=SPEC)
    text = write_reports(run).result.read_text()
    doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert doc["version"] == 1
    assert set(doc) == {
        "version",
        "gameday",
        "run",
        "versions",
        "phases",
        "slis",
        "verdicts",
        "recovery",
        "degradation",
        "ledger",
        "variants",
        "metrics",
        "experiment_checks",
        "exit_code",
    }
    assert doc["gameday"]["name"] == "doc" and doc["run"]["status"] == "completed"
    assert doc["run"]["outcome"] == "fail" and doc["exit_code"] == 1
    assert doc["phases"]["fault"]["windows"] == [[T0 + 20, T0 + 30]]
    assert doc["slis"]["baseline"]["POST /v1/score"]["requests"] == 140
    states = [(v["sli"], v["state"], v["observed_text"]) for v in doc["verdicts"]]
    assert states == [
        ("latency.p99", "pass", "20.0ms"),
        ("recovery_time", "fail", "never"),
        ("correctness", "no-data", "no data"),
    ]
    assert doc["recovery"][0]["never"] is True and doc["recovery"][0]["seconds"] is None
    assert doc["versions"]["locust"]
