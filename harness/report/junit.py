"""junit.xml: the run's SLO verdicts in the JUnit XML that CI systems read.

    junit_xml(document) -> bytes     from a result document (harness.analysis.result.result_document)

Shape (valid against Jenkins' junit-10.xsd, which GitLab and the GitHub Actions
JUnit reporters also accept):

    <testsuites name="gameday" tests failures errors time>
      <testsuite name="<game day>" tests failures errors skipped="0" time timestamp hostname>
        <properties> outcome, status, run dir, versions </properties>
        <testcase classname="gameday.<game day>.<phase>" name="<SLO label>" time="<evidence seconds>">
          <failure type="fail|no-data|inconclusive" message="observed X, objective Y">details</failure>
        </testcase>
        ... one testcase per SLO, in spec order ...
        <testcase classname="gameday.<game day>.chaos" name="experiment <n>: <file>" time="<its seconds>">
          <failure type="fail" message="<why>"/>    when it did not run as written
        </testcase>                                 (harness.analysis.experiment_checks)
        ... one per experiment that ran to its end ...
        <testcase classname="gameday.<game day>" name="run status">   only when the run did
          <error type="aborted|interrupted|..." message="..."/>          not complete
        </testcase>
      </testsuite>
    </testsuites>
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from harness.status import RunStatus

# XML 1.0 "Char": #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
XML_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(document: Mapping[str, Any]) -> bytes:
    """The JUnit XML of a result document, UTF-8 with an XML declaration."""
    name = document["gameday"].get("name") or "gameday"
    cases = [_slo_case(name, v) for v in document["verdicts"]]
    cases += [_experiment_case(name, c) for c in document["experiment_checks"]]
    status_case = _status_case(name, document["run"])
    if status_case is not None:
        cases.append(status_case)
    failures = sum(c.find("failure") is not None for c in cases)
    errors = sum(c.find("error") is not None for c in cases)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors)}
    root = ET.Element("testsuites", {"name": "gameday", **counts, "time": _duration(document["run"])})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": name,
            **counts,
            "skipped": "0",
            "time": _duration(document["run"]),
            "timestamp": _timestamp(document["run"].get("started")),
            "hostname": socket.gethostname(),
        },
    )
    suite.append(_properties(document))
    suite.extend(cases)
    _make_xml_safe(root)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _slo_case(gameday: str, verdict: Mapping[str, Any]) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": f"gameday.{gameday}.{verdict['phase']}",
            "name": verdict["slo"],
            "time": f"{verdict['evidence'].get('seconds') or 0:.3f}",
        },
    )
    if verdict["state"] != "pass":
        message = f"observed {verdict['observed_text']}, objective {verdict['objective']}"
        failure = ET.SubElement(case, "failure", {"type": verdict["state"], "message": message})
        failure.text = _details(verdict)
    return case


def _details(verdict: Mapping[str, Any]) -> str:
    evidence = verdict["evidence"]
    lines = [
        f"SLO: {verdict['slo']}",
        f"verdict: {verdict['state']}",
        f"observed: {verdict['observed_text']}",
        f"objective: {verdict['objective']}",
        (
            f"evidence: {evidence.get('seconds')} s, {evidence.get('samples')} samples, "
            f"window {_iso(evidence.get('start'))} .. {_iso(evidence.get('end'))}"
        ),
    ]
    if verdict.get("reason"):
        lines.append(f"reason: {verdict['reason']}")
    if evidence.get("generator_bound"):
        lines.append(
            "warning: the load generator was behind schedule, CPU-bound or short of a worker in this "
            "window; the verdict is not trustworthy, suspect the generator"
        )
    return "\n".join(lines)


def _experiment_case(gameday: str, check: Mapping[str, Any]) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": f"gameday.{gameday}.chaos",
            "name": f"experiment {check['block']}: {check['experiment']}",  # a spec may run one file twice
            "time": f"{max(0.0, check['end'] - check['start']):.3f}",
        },
    )
    if check["state"] != "pass":
        ET.SubElement(case, "failure", {"type": check["state"], "message": check["reason"]})
    return case


def _status_case(gameday: str, run: Mapping[str, Any]) -> ET.Element | None:
    if run.get("status") == RunStatus.COMPLETED:
        return None
    case = ET.Element("testcase", {"classname": f"gameday.{gameday}", "name": "run status", "time": "0"})
    aborts = "; ".join(f"{a.get('name')}: {a.get('detail')}" for a in run.get("aborts") or ())
    message = f"the run ended {run.get('status')}" + (f" ({aborts})" if aborts else "")
    ET.SubElement(case, "error", {"type": str(run.get("status")), "message": message})
    return case


def _properties(document: Mapping[str, Any]) -> ET.Element:
    props = ET.Element("properties")
    values = {
        "outcome": document["run"].get("outcome"),
        "status": document["run"].get("status"),
        "run_dir": document["run"].get("dir"),
        "exit_code": document.get("exit_code"),
        **{f"version.{k}": v for k, v in document.get("versions", {}).items()},
    }
    for key, value in values.items():
        ET.SubElement(props, "property", {"name": key, "value": str(value)})
    return props


def _duration(run: dict[str, Any]) -> str:
    load = run.get("load") or {}
    if load.get("start") is None or load.get("end") is None:
        return "0"
    return f"{max(0.0, load['end'] - load['start']):.3f}"


def _timestamp(ts: float | None) -> str:
    return datetime.fromtimestamp(ts or 0, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _iso(ts: float | None) -> str:
    return "?" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S")


def _make_xml_safe(root: ET.Element) -> None:
    """Clean every text and attribute of the tree in place: game day names, SLO labels (with their
    endpoints), observed texts, abort details and the run directory may all carry characters that
    XML 1.0 cannot hold, and ElementTree would write them anyway, leaving a file no CI can parse."""
    for element in root.iter():
        if element.text:
            element.text = xml_safe(element.text)
        for key, value in element.attrib.items():
            element.set(key, xml_safe(value))


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (control characters other than tab, LF and CR,
    lone surrogates, U+FFFE and U+FFFF); what XML allows is left for ElementTree to escape."""
    return XML_FORBIDDEN.sub("", text)
