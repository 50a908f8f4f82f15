"""`gameday history`: reports/index.html lists every run newest first, with trends per game day."""

import json
import os

import lxml.html
import pytest
from report_runs import failed_run, healthy_run, no_data_run, with_experiment

from harness.errors import SpecError
from harness.report import write_reports
from harness.report.history import collect, write_index


def _started(run_dir, offset):
    """Move a fixture run's `run-start` event by `offset` seconds, so runs have distinct start times."""
    path = run_dir / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(
        "".join(json.dumps({**e, "ts": e["ts"] + (offset if e["kind"] == "run-start" else 0)}) + "\n" for e in events)
    )
    return run_dir


def test_index_lists_runs_newest_first_with_their_outcome(tmp_path):
    _started(healthy_run(tmp_path / "runs" / "a"), -7200)
    _started(failed_run(tmp_path / "runs" / "b"), -3600)
    _started(no_data_run(tmp_path / "runs" / "c"), 0)
    doc = lxml.html.fromstring(write_index(tmp_path).read_bytes())
    rows = doc.xpath('//tr[@class="run"]')
    assert [(r.get("data-name"), r.get("data-outcome")) for r in rows] == [
        ("silent", "fail"),
        ("kill-one-model-replica", "fail"),
        ("kill-one-model-replica", "pass"),
    ]


def test_trend_table_shows_each_slo_across_runs_oldest_first(tmp_path):
    _started(healthy_run(tmp_path / "runs" / "a"), -7200)
    _started(failed_run(tmp_path / "runs" / "b"), -3600)
    doc = lxml.html.fromstring(write_index(tmp_path).read_bytes())
    table = doc.xpath('//table[@class="trend"]')[0]
    availability = next(tr for tr in table.xpath(".//tr") if "availability" in tr.text_content())
    assert [td.text_content() for td in availability.xpath("./td")][1:] == ["1.0000", "0.7000"]
    assert json.loads(doc.get_element_by_id("trend-0-data").text)["t"] == [1.0, 2.0]


def test_a_stored_result_json_is_used_and_a_broken_run_is_listed_with_its_error(tmp_path):
    write_reports(healthy_run(tmp_path / "good"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "events.jsonl").write_text("")
    (broken / "gameday.yaml").write_text("name: [unclosed")
    os.utime(tmp_path / "good" / "events.jsonl", (0, 0))
    runs = {r.dir.name: r for r in collect(tmp_path)}
    assert runs["good"].outcome == "pass" and runs["good"].report == "./good/report.html"
    assert runs["broken"].outcome == "unreadable" and runs["broken"].error


def test_a_missing_reports_dir_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        collect(tmp_path / "nope")


def test_a_run_folder_named_like_a_url_scheme_links_relatively(tmp_path):
    run = healthy_run(tmp_path / "runs" / "javascript:alert(1)")
    write_reports(run)
    doc = lxml.html.fromstring(write_index(tmp_path / "runs").read_bytes())
    hrefs = [a.get("href") for a in doc.xpath("//a[contains(@href, 'report.html')]")]
    assert hrefs == ["./javascript%3Aalert%281%29/report.html"]


def test_a_run_failed_by_an_experiment_that_never_ran_says_so_on_its_row(tmp_path):
    """Every SLO passed; the row's FAIL must come with its reason, not stand alone."""
    with_experiment(healthy_run(tmp_path / "runs" / "a"), met_before=False)
    doc = lxml.html.fromstring(write_index(tmp_path).read_bytes())
    [row] = doc.xpath('//tr[@class="run"]')
    assert row.get("data-outcome") == "fail"
    assert "experiment 1: experiments/trip-breaker.json: the steady-state hypothesis did not hold" in row.text_content()
    trend_labels = [run.values for run in collect(tmp_path)]
    assert all(not any(label.startswith("experiment") for label in values) for values in trend_labels)
