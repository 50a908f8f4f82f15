"""report.html of a run with variants and metrics: the variants side by side on the latency and
correctness charts, each metric series charted on the run's time axis with the phases and the
chaos markers, and the variant and metric tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lxml.html

from harness.report import write_reports

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from rundir_factory import T0, generator_row, request_row, timeline, write_run  # noqa: E402

SPEC = """
name: judged
load: {profile: p.py, rate: 50, duration: 60s, variant_header: x-model-version}
chaos: {experiment: e.json, start_after: 15s}
warmup: 5s
metrics:
  - {kind: scrape, url: "http://127.0.0.1:9/metrics", name: stack, chart: [gateway_canary_weight]}
slos:
  - {sli: latency.p99, compare: {variant: canary, against: stable}, phase: fault, objective: "ratio < 1.2"}
  - {sli: "metric:scorer_consumer_lag", phase: recovery, within: 10s, objective: "< 50"}
"""


def judged_run(tmp_path: Path) -> Path:
    rows = []
    for s in range(60):
        rows.append({**request_row(T0 + s, [20.0] * 40, checked=40, correct=40), "variant": "stable"})
        if 15 <= s < 45:
            rows.append({**request_row(T0 + s, [75.0] * 10, checked=10, correct=9), "variant": "canary"})
        rows.append(generator_row(T0 + s, 50))
    run = write_run(tmp_path, timeline(load_s=60, warmup_s=5, faults=[(15, 45)]), rows, spec=SPEC)
    scrapes = [
        {
            "ts": T0 + s + 0.2,
            "samples": [
                ["scorer_consumer_lag", {"partition": "0"}, 300.0 if 15 <= s < 48 else 3.0],
                ["gateway_canary_weight", {}, 0.2 if 15 <= s < 45 else 0.0],
            ],
        }
        for s in range(60)
    ]
    (run / "metrics").mkdir()
    (run / "metrics" / "stack.jsonl").write_text("".join(json.dumps(r) + "\n" for r in scrapes))
    return run


def test_variants_are_drawn_side_by_side_and_metrics_on_the_runs_time_axis(tmp_path):
    paths = write_reports(judged_run(tmp_path))
    doc = lxml.html.fromstring(paths.html.read_bytes())
    data = json.loads(doc.get_element_by_id("chart-data").text)
    specs = {spec["id"]: spec for spec in json.loads(doc.get_element_by_id("chart-specs").text)}
    latency = specs["chart-variant-latency"]
    assert [s["label"] for s in latency["series"]] == ["canary", "stable"]
    assert [s["label"] for s in specs["chart-variant-correctness"]["series"]] == ["canary", "stable"]
    canary = data["series"]["variant:canary:latency.p99"]
    seconds = [t - T0 for t, v in zip(data["t"], canary) if v is not None]
    assert seconds == list(range(15, 45)) and {round(v) for v in canary if v is not None} == {75}
    assert {round(v) for v in data["series"]["variant:canary:correctness"] if v is not None} == {90}
    lag = data["series"]["metric:stack:scorer_consumer_lag"]
    assert len(lag) == len(data["t"]) and lag[data["t"].index(T0 + 30)] == 300.0
    assert "metric:stack:gateway_canary_weight" in data["series"]  # a chart: expression too
    assert {b["name"] for b in data["phases"]} >= {"baseline", "fault", "recovery"}
    assert any(m["kind"] == "chaos" for m in data["markers"])
    titles = [h.text_content() for h in doc.xpath('//div[@class="chart"]/h3')]
    assert "scorer_consumer_lag (stack)" in titles


def test_the_variant_table_and_the_metric_table_show_what_was_measured(tmp_path):
    paths = write_reports(judged_run(tmp_path))
    doc = lxml.html.fromstring(paths.html.read_bytes())
    fault = doc.xpath('//table[@data-phase="fault" and contains(@class, "variants")]')[0]
    rows = {
        tr.get("data-variant"): [td.text_content() for td in tr.xpath("td")]
        for tr in fault.xpath(".//tr[@data-variant]")
    }
    assert set(rows) == {"canary", "stable"} and rows["canary"][-1] == "90.00%"
    metric = doc.xpath('//tr[@class="metric" and @data-expression="scorer_consumer_lag"]')[0].text_content()
    assert "300" in metric
    result = json.loads(paths.result.read_text())
    assert result["variants"]["names"] == ["canary", "stable"]
    compare, within = result["verdicts"]
    assert compare["state"] == "fail" and compare["compare"]["variant_value"] > 0.07
    assert within["state"] == "pass" and 2.0 <= within["observed"] <= 4.0  # lag under 50 from 3 s after the removal
