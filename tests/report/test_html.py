"""report.html from fixture run directories, asserted on the parsed page."""

import json

import lxml.html
from report_runs import (
    HOSTILE,
    T0,
    aborted_run,
    failed_run,
    healthy_run,
    hostile_run,
    no_data_run,
)

from harness.report import write_reports


def q(doc, tag, cls=None):
    """Elements `tag` (with class `cls`), in document order."""
    if cls is None:
        return doc.xpath(f".//{tag}")
    return doc.xpath(f'.//{tag}[contains(concat(" ", normalize-space(@class), " "), " {cls} ")]')


def page(run_dir):
    paths = write_reports(run_dir)
    return lxml.html.fromstring(paths.html.read_bytes()), paths


def verdict_rows(doc):
    return [(tr.get("data-sli"), tr.get("data-phase"), tr.get("data-state")) for tr in q(doc, "tr", "verdict")]


def chart_data(doc):
    return json.loads(doc.get_element_by_id("chart-data").text)


def test_healthy_run_headline_says_pass_and_every_verdict_row_passes(tmp_path):
    doc, paths = page(healthy_run(tmp_path))
    assert doc.get_element_by_id("outcome").get("data-outcome") == "pass"
    assert verdict_rows(doc) == [
        ("latency.p99", "baseline", "pass"),
        ("availability", "fault", "pass"),
        ("recovery_time", "recovery", "pass"),
        ("events.lost", "run", "pass"),
    ]
    assert paths.exit_code == 0


def test_headline_names_game_day_target_and_versions(tmp_path):
    doc, _ = page(healthy_run(tmp_path))
    text = doc.get_element_by_id("headline").text_content()
    assert "kill-one-model-replica" in text and "local" in text and "1m00s" in text
    assert "Locust 2." in text and "Chaos Toolkit 1." in text


def test_failed_run_marks_the_failing_slos_with_observed_values(tmp_path):
    doc, paths = page(failed_run(tmp_path))
    assert doc.get_element_by_id("outcome").get("data-outcome") == "fail"
    assert [r[2] for r in verdict_rows(doc)] == ["pass", "fail", "fail", "fail"]
    cells = [td.text_content() for td in q(q(doc, "tr", "verdict")[1], "td")]
    assert cells[5].strip().startswith("70.00%") and cells[4] == ">= 99%"
    assert "every attempt" in cells[5]  # the report says which availability it judged
    assert "never" in q(doc, "tr", "verdict")[2].text_content()
    assert paths.exit_code == 1


def test_phase_table_and_chart_data_share_the_fault_window(tmp_path):
    doc, _ = page(healthy_run(tmp_path))
    rows = {
        tr.get("data-phase"): (float(tr.get("data-start")), float(tr.get("data-end"))) for tr in q(doc, "tr", "phase")
    }
    assert rows["fault"] == (T0 + 25, T0 + 35) and rows["warmup"] == (T0, T0 + 5)
    bands = {b["name"]: (b["start"], b["end"]) for b in chart_data(doc)["phases"]}
    assert bands["fault"] == rows["fault"] and set(bands) == {"warmup", "baseline", "fault", "recovery"}


def test_chart_series_share_one_time_axis_and_show_the_fault(tmp_path):
    data = chart_data(page(healthy_run(tmp_path))[0])
    assert data["t"][0] == T0 and len(data["t"]) == 60 and data["step"] == 1
    assert all(len(values) == 60 for values in data["series"].values())
    p99 = data["series"]["latency.p99"]
    assert p99[30] > 1.5 * p99[10]  # 40 ms during the fault, 20 ms before it
    assert data["series"]["ok"][10] == 20


def test_chaos_activities_are_labelled_markers_in_table_and_chart_data(tmp_path):
    doc, _ = page(healthy_run(tmp_path))
    labels = [m["label"] for m in chart_data(doc)["markers"]]
    assert labels == ["method: probe-before", "method: act", "rollback: act"]
    assert [tr.get("data-kind") for tr in q(doc, "tr", "marker")] == ["chaos"] * 3


def test_aborted_run_shows_the_guardrail_abort_as_a_marker(tmp_path):
    doc, paths = page(aborted_run(tmp_path))
    assert doc.get_element_by_id("outcome").get("data-outcome") == "aborted"
    aborts = [m for m in chart_data(doc)["markers"] if m["kind"] == "abort"]
    assert aborts == [{"ts": T0 + 28, "kind": "abort", "label": "abort: error_rate"}]
    assert q(doc, "p", "abort") and paths.exit_code == 3


def test_no_data_run_reports_every_slo_as_no_data_and_draws_empty_series(tmp_path):
    doc, paths = page(no_data_run(tmp_path))
    assert {r[2] for r in verdict_rows(doc)} == {"no-data"}
    data = chart_data(doc)
    assert all(v is None for v in data["series"]["latency.p99"])
    assert "Kafka" not in doc.get_element_by_id("charts").text_content()  # no ledger, no events chart
    assert paths.exit_code == 1


def test_lost_events_are_marked_only_in_the_seconds_that_lost_them(tmp_path):
    data = chart_data(page(failed_run(tmp_path))[0])
    lost = [i for i, v in enumerate(data["series"]["lost"]) if v]
    assert lost == list(range(25, 35)) and data["series"]["lost"][25] == 2


def test_experiment_section_lists_method_and_failed_rollback(tmp_path):
    doc, _ = page(failed_run(tmp_path))
    rows = q(doc, "tr", "activity")
    failed = [q(tr, "td")[0].text_content() for tr in rows if tr.get("data-failed") == "true"]
    assert failed == ["restart-replica"]
    assert "TimeoutError: replica-1 did not come back" in q(doc, "pre", "error")[0].text_content()


def test_hostile_content_is_rendered_as_text_never_as_markup(tmp_path):
    doc, paths = page(hostile_run(tmp_path))
    scripts = q(doc, "script")
    assert all(s.get("type") == "application/json" or "alert(" not in (s.text or "") for s in scripts)
    assert not q(doc, "img")  # the onerror image stayed text
    assert HOSTILE in doc.get_element_by_id("errors").text_content()
    assert HOSTILE in " ".join(p.text_content() for p in q(doc, "pre"))
    raw = paths.html.read_text()
    assert "<script>alert" not in raw and "<img src=x" not in raw
    # JSON data blocks cannot close their <script> element either
    assert "</script><img" not in doc.get_element_by_id("chart-data").text


def test_report_is_self_contained_with_no_network_reference(tmp_path):
    doc, _ = page(healthy_run(tmp_path))
    assert not [s for s in q(doc, "script") if s.get("src")]
    assert not doc.xpath('//link[@rel="stylesheet"]')
    assert "uPlot" in q(doc, "script")[-2].text


def test_report_of_a_one_hour_run_stays_under_5_mb(tmp_path):
    from report_runs import long_run

    doc, paths = page(long_run(tmp_path))
    assert paths.html.stat().st_size < 5 * 1024 * 1024
    data = chart_data(doc)
    assert len(data["t"]) <= 1800 and data["step"] == 2
    assert len([b for b in data["phases"] if b["name"] == "fault"]) == 6


def worker_loss_run(directory, lost_at: int = 28, extra: tuple[dict, ...] = ()):
    """Two Locust workers until T0+lost_at, then one (half the load): the master marked the other missing."""
    from rundir_factory import event, generator_row, request_row, timeline, write_run

    rows = []
    for s in range(60):
        workers = 2 if s < lost_at else 1
        rows.append(request_row(T0 + s, [20.0] * (10 * workers)))
        rows += [generator_row(T0 + s, 10) for _ in range(workers)]
    lost = event(T0 + lost_at + 4.2, "worker_missing", source="load", name="host_0123abcd", remaining=1)
    write_run(
        directory,
        timeline(60, 5, [(25, 35)], extra=[lost, *extra]),
        rows,
        spec=(healthy_run(directory / "x") / "gameday.yaml").read_text(),
    )
    return directory


def test_lost_load_worker_is_a_marker_at_the_gap_start_and_a_headline_warning(tmp_path):
    doc, _ = page(worker_loss_run(tmp_path / "run"))
    lost = [m for m in chart_data(doc)["markers"] if m["kind"] == "generator"]
    assert lost == [
        {"ts": T0 + 28, "kind": "generator", "label": "load worker lost: host_0123abcd (1 left)", "detected": T0 + 32.2}
    ]  # drawn where the load fell short, not 4 s later at detection
    warning = q(doc, "p", "worker-loss")
    assert len(warning) == 1
    assert "from t+28.0s" in warning[0].text_content() and "missing at t+32.2s" in warning[0].text_content()
    assert [tr.get("data-kind") for tr in q(doc, "tr", "marker")].count("generator") == 1


def test_worker_that_heartbeats_again_is_a_marker_saying_so_and_no_headline_loss(tmp_path):
    """A worker starved of CPU misses Locust's heartbeats for a few seconds, is marked missing, then
    heartbeats again: the chart marks the gap, but only the worker that stayed lost is headlined."""
    from rundir_factory import event

    starved = (
        event(T0 + 9.5, "worker_missing", source="load", name="host_starved", remaining=1),
        event(T0 + 11.0, "worker_back", source="load", name="host_starved", remaining=2),
        event(T0 + 12.0, "worker_back", source="load", name="host_0123abcd", remaining=2),  # before its loss
    )
    doc, _ = page(worker_loss_run(tmp_path / "run", extra=starved))
    marks = [m for m in chart_data(doc)["markers"] if m["kind"] == "generator"]
    assert marks == [
        {
            "ts": T0 + 9.5,
            "kind": "generator",
            "label": "load worker missed heartbeats: host_starved (1 left), back 1.5 s after it was marked missing",
            "back": T0 + 11.0,
        },
        {
            "ts": T0 + 28,
            "kind": "generator",
            "label": "load worker lost: host_0123abcd (1 left)",
            "detected": T0 + 32.2,
        },
    ]
    warning = q(doc, "p", "worker-loss")
    assert len(warning) == 1 and "host_0123abcd" in warning[0].text_content()
    assert [tr.get("data-kind") for tr in q(doc, "tr", "marker")].count("generator") == 2


def test_phases_and_verdicts_short_of_a_worker_say_generator_bound_with_seconds(tmp_path):
    doc, _ = page(worker_loss_run(tmp_path / "run"))
    phases = {tr.get("data-phase"): tr.text_content() for tr in q(doc, "tr", "phase")}
    assert "generator-bound: 7 s" in phases["fault"] and "generator-bound: 25 s" in phases["recovery"]
    assert "generator-bound" not in phases["baseline"]
    marked = {tr.get("data-phase"): bool(q(tr, "span", "generator-bound")) for tr in q(doc, "tr", "verdict")}
    assert marked["fault"] and not marked["baseline"]


def test_healthy_run_has_no_worker_loss_warning(tmp_path):
    doc, _ = page(healthy_run(tmp_path))
    assert not q(doc, "p", "worker-loss") and not q(doc, "span", "generator-bound")


def test_the_latency_chart_draws_the_load_generators_own_lag_beside_the_targets_latency(tmp_path):
    """A generator 400 ms behind its schedule in seconds 30-32: the chart shows that lag under its own
    label, next to p99, so a late generator is not read as a slow target (and a quiet one draws 0)."""
    from rundir_factory import generator_row, request_row, timeline, write_run

    rows = []
    for s in range(60):
        rows.append(request_row(T0 + s, [20.0] * 10))
        lagging = 30 <= s < 33
        rows.append(generator_row(T0 + s, 10, behind=lagging) | {"lag_ms_p99": 400.0 if lagging else 0.8})
    write_run(
        tmp_path / "run",
        timeline(60, 5, [(25, 35)]),
        rows,
        spec=(healthy_run(tmp_path / "x") / "gameday.yaml").read_text(),
    )
    doc, _ = page(tmp_path / "run")
    data = chart_data(doc)
    lag = dict(zip(data["t"], data["series"]["generator.lag.p99"]))
    assert [lag[T0 + s] for s in (29, 30, 32, 33)] == [0.8, 400.0, 400.0, 0.8]
    specs = json.loads(doc.get_element_by_id("chart-specs").text)
    latency = next(spec for spec in specs if spec["id"] == "chart-latency")
    assert [s["key"] for s in latency["series"]][-2:] == ["latency.p99", "generator.lag.p99"]
