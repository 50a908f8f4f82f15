"""Reports of a run whose every target- or journal-controlled field is hostile (README "Guarantees", hostile content:
HTML reports escape everything that the target sent back).

One run directory carries the same hostile text in each field that the target, the load
profile's failure messages or Chaos Toolkit can influence, each prefixed with a tag that
names the field. The real `gameday report` CLI then rebuilds every report from it, and
the tests check that each field came through as inert text: in report.html (markup,
the inline JSON data blocks, a real browser), in junit.xml (well-formed, schema-valid)
and in the terminal summary that CI logs show.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import lxml.html
import pytest
import yaml
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))

from browser_support import launch, playwright
from rundir_factory import T0, event, generator_row, request_row, timeline, write_run

PWN = "window.__pwned=1"
MARKUP = (
    f"<script>{PWN}</script>"  # a plain script element
    f'"><img src=x onerror="{PWN}">'  # attribute break-out and an event handler
    f"</script><script>{PWN}</script>"
)  # closes the JSON data block it sits in
TEXT = (
    MARKUP
    + " javascript:"
    + PWN  # a URL scheme, were it ever put in href
    + " {{7*7}} ${7*7} {% raw %}"
)  # template injection (jinja, JS templates)
PAYLOAD = (
    TEXT
    + " ]]> <![CDATA[ \x00\x01\x08\x0b\x1b[31m\x7f\ufffe"  # CDATA end and XML-forbidden characters
    + " a\u2028b\u2029c"  # JS line terminators inside strings
    + "\n::error::injected | *md* `code` <!channel>"
)  # a CI workflow command, markdown, Slack
ONE_LINE = re.compile(r"\A[^\x00-\x1f\x7f-\x9f\u2028\u2029]*\Z")
JSON_QUOTED = ("response-body", "journal-output")  # quoted by the profile / the journal as JSON
# A directory name cannot hold '/' or NUL; the rest of the markup can.
DIR_NAME = f'run-dir"><img src=x onerror="{PWN}"><script>{PWN}<'

FIELDS = (
    "endpoint",
    "error-message",
    "response-body",
    "event-activity",
    "abort-name",
    "abort-detail",
    "error-event",
    "gameday-name",
    "gameday-description",
    "experiment-title",
    "experiment-status",
    "journal-probe",
    "journal-action",
    "journal-rollback",
    "journal-type",
    "journal-status",
    "journal-output",
    "journal-exception",
    "journal-time",
)


def hostile(field: str) -> str:
    return f"[{field}]{PAYLOAD}"


def shown(field: str) -> str:
    """The start of hostile(field) as the page must show it: markup and template syntax as text
    (JSON-quoted for the fields that reach the report as JSON)."""
    return json.dumps(f"[{field}]{TEXT}")[1:-1] if field in JSON_QUOTED else f"[{field}]{TEXT}"


def hostile_run(root: Path) -> Path:
    """A 60 s run with a 10 s fault; every field listed in FIELDS carries hostile(field)."""
    directory = root / DIR_NAME
    endpoint = hostile("endpoint")
    rows = []
    for s in range(60):
        rows.append(request_row(T0 + s, [20.0] * 10, endpoint=endpoint))
        if 25 <= s < 35:
            errors = {
                hostile("error-message"): 2,
                # a profile quoting the body of a JSON answer, lone surrogate and all
                "\ud800" + json.dumps({"detail": hostile("response-body")}): 1,
            }
            rows.append(request_row(T0 + s, [30.0] * 3, endpoint=endpoint, outcome="error", errors=errors))
        rows.append(generator_row(T0 + s, 13))
    write_run(directory, _events(), rows, spec=_spec(endpoint))
    (directory / "journal.json").write_text(json.dumps(_journal()))
    return directory


def _events() -> list[dict]:
    extra = [
        event(T0 + 30, "abort", "guardrail", name=hostile("abort-name"), observed=hostile("abort-detail")),
        event(T0 + 31, "error", "harness", name=hostile("error-event"), why=PAYLOAD),
    ]
    events = timeline(60, 5, [(25, 35)], extra=extra)
    for e in events:
        if e["source"] == "chaos" and e["kind"].startswith("activity"):
            e["name"] = hostile("event-activity")
    return events


def _spec(endpoint: str) -> str:
    spec = {
        "name": hostile("gameday-name"),
        "description": hostile("gameday-description"),
        "target": {"kind": "local", "stack": "default"},
        "load": {"profile": "p.py", "rate": 13, "duration": "60s"},
        "chaos": {"experiment": "e.json", "start_after": "25s"},
        "warmup": "5s",
        "slos": [
            {"sli": "availability", "endpoint": endpoint, "phase": "fault", "objective": ">= 99%"},
            {"sli": "latency.p99", "endpoint": endpoint, "phase": "baseline", "objective": "< 100ms"},
        ],
    }
    return yaml.safe_dump(spec)


def _journal() -> dict:
    def run(name: str, type_: str) -> dict:
        return {
            "activity": {"name": hostile(name), "type": hostile("journal-type")},
            "status": hostile("journal-status"),
            "output": {"body": hostile("journal-output") + "\ud800"},
            "exception": ["Traceback:\ud800\n", hostile("journal-exception")],
            "start": hostile("journal-time"),
            "end": "2027-01-15T08:00:26",
            "duration": 0.4,
            "tolerance_met": False,
        }

    return {
        "experiment": {"title": hostile("experiment-title")},
        "status": hostile("experiment-status"),
        "deviated": True,
        "start": "2027-01-15T08:00:24",
        "end": "2027-01-15T08:00:36",
        "steady_states": {"before": {"steady_state_met": False, "probes": [run("journal-probe", "probe")]}},
        "run": [run("journal-action", "action")],
        "rollbacks": [run("journal-rollback", "action")],
    }


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The hostile run, after the real `gameday report` CLI rebuilt its reports."""
    run_dir = hostile_run(tmp_path_factory.mktemp("hostile"))
    gameday = Path(sys.executable).with_name("gameday")
    done = subprocess.run(
        [str(gameday), "report", str(run_dir)],
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    # exit 1: the fault broke availability (a crash exits 1 too, but writes no "wrote" line)
    assert done.returncode == 1 and b"\nwrote " in done.stdout, done.stderr.decode(errors="replace")
    return run_dir, done


def html_doc(run_dir: Path):
    return lxml.html.fromstring((run_dir / "report.html").read_bytes())


def test_every_hostile_field_reaches_the_report_as_text(reported):
    text = html_doc(reported[0]).text_content()
    missing = [f for f in FIELDS if shown(f) not in text]
    assert missing == []
    assert DIR_NAME in text


def test_report_html_holds_no_markup_from_the_target(reported):
    run_dir, _ = reported
    raw = (run_dir / "report.html").read_text(encoding="utf-8")
    doc = html_doc(run_dir)
    assert "<img" not in raw and f"<script>{PWN}" not in raw and 'onerror="window' not in raw
    assert not doc.xpath("//img") and not doc.xpath("//*[@*[starts-with(name(), 'on')]]")
    assert not doc.xpath("//*[@*[starts-with(normalize-space(translate(., 'JAVSCRIPT', 'javscript')), 'javascript:')]]")
    scripts = doc.xpath("//script")
    assert len(scripts) == 5  # chart data, chart specs, uPlot, gamedayDraw, its call
    assert all(PWN not in (s.text or "") for s in scripts if s.get("type") != "application/json")


def test_inline_json_data_cannot_close_its_script_element_and_still_parses(reported):
    doc = html_doc(reported[0])
    block = doc.get_element_by_id("chart-data").text
    assert "<" not in block and ">" not in block and "&" not in block
    labels = [m["label"] for m in json.loads(block)["markers"]]
    assert any(f"[event-activity]{MARKUP}" in label for label in labels)
    assert any(f"[abort-name]{MARKUP}" in label for label in labels)


def test_junit_is_well_formed_schema_valid_and_keeps_the_hostile_text(reported):
    path = reported[0] / "junit.xml"
    root = ET.parse(path).getroot()  # raises on any character XML 1.0 forbids
    etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "report" / "junit-10.xsd"))).assertValid(
        etree.parse(str(path))
    )
    suite = root.find("testsuite")
    assert suite.get("name").startswith(f"[gameday-name]{MARKUP} javascript:")
    names = [c.get("name") for c in suite.iter("testcase")]
    assert all(f"[endpoint]{MARKUP}" in n for n in names[:2]) and "]]> <![CDATA[" in names[0]
    run_dir_property = [p.get("value") for p in suite.iter("property") if p.get("name") == "run_dir"]
    assert run_dir_property[0].endswith(DIR_NAME)


def test_terminal_summary_is_one_inert_line_per_row(reported):
    out = reported[1].stdout.decode("utf-8")
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["VERDICT", "FAIL", "PASS", "wrote", "FAIL"]
    assert all(ONE_LINE.match(line) for line in lines)
    assert "\\x1b[31m" in lines[-1] and "\\n::error::injected" in lines[-1]  # shown, not obeyed


@pytest.mark.slow
def test_no_script_from_the_target_runs_in_a_real_browser(reported):
    dialogs, errors = [], []
    with playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((reported[0] / "report.html").as_uri())
            page.wait_for_selector("body[data-charts-rendered='3']", timeout=10_000)
            page.wait_for_timeout(300)  # let a broken <img onerror> fire, were there one
            pwned = page.evaluate("() => window.__pwned === undefined ? null : window.__pwned")
            shown = page.inner_text("#errors")
        finally:
            browser.close()
    assert (dialogs, errors, pwned) == ([], [], None)
    assert f"[error-message]{MARKUP}" in shown
