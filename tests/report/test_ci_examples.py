"""The example CI and scheduler files in docs/ci/ are valid and call `gameday` commands that exist."""

import argparse
import configparser
import re
import shlex
from pathlib import Path

import pytest
import yaml

from harness import cli
from harness.report import commands as report_commands

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
CALL = re.compile(r"gameday\s+([^;\n|&>]+)")
SUBSTITUTION = re.compile(r'"\$\([^)]*\)"')


def gameday_parser() -> argparse.ArgumentParser:
    """The real CLI parser, with the report commands added if harness.cli does not register them yet."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "report" not in sub.choices:
        report_commands.register(sub)
    return parser


def calls(text: str) -> list[list[str]]:
    """Every `gameday ...` invocation in `text`, split as a shell would (placeholders kept)."""
    text = SUBSTITUTION.sub("RUN_DIR", text)  # "$(ls ... | tail -1)" stands for one run directory
    return [
        shlex.split(m.group(1))
        for m in CALL.finditer(text)
        if not m.group(0).startswith("gameday:") and "gameday-" not in m.group(0)
    ]


def check_call(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    if argv[0] not in {"run", "report", "history", "compare", "validate"}:
        return  # prose such as "gameday nightly game day"
    try:
        parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"`gameday {' '.join(argv)}` is not a valid command line")
    if argv[0] == "run":
        assert (ROOT / argv[1]).exists(), f"{argv[1]} does not exist"


def script_lines(doc) -> str:
    if isinstance(doc, dict):
        return "\n".join(script_lines(v) for v in doc.values())
    if isinstance(doc, list):
        return "\n".join(script_lines(v) for v in doc)
    return str(doc)


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml", "k8s-cronjob.yaml"])
def test_yaml_example_is_valid_and_calls_existing_commands(name):
    doc = yaml.safe_load((CI / name).read_text())
    found = calls(script_lines(doc))
    assert found, f"{name} calls no gameday command"
    parser = gameday_parser()
    for argv in found:
        check_call(parser, argv)


def test_github_actions_uploads_the_report_and_publishes_junit():
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = doc["jobs"]["gameday"]["steps"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "report.html" in uploads[0]["with"]["path"]
    assert any("junit.xml" in str(s.get("with", {})) for s in steps if "junit" in s.get("uses", ""))


def test_gitlab_job_publishes_junit_and_keeps_reports_on_failure():
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["gameday"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["reports"]["junit"].endswith("junit.xml")


def test_kubernetes_cronjob_is_a_batch_v1_cronjob_that_never_retries():
    doc = yaml.safe_load((CI / "k8s-cronjob.yaml").read_text())
    assert (doc["apiVersion"], doc["kind"]) == ("batch/v1", "CronJob")
    assert doc["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0


def test_systemd_units_and_crontab_call_existing_commands():
    service = configparser.ConfigParser(strict=False, interpolation=None)
    service.read(CI / "gameday-nightly.service")
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(CI / "gameday-nightly.timer")
    assert timer["Timer"]["OnCalendar"] and service["Service"]["Type"] == "oneshot"
    parser = gameday_parser()
    text = "\n".join(
        [
            service["Service"]["ExecStart"],
            service["Service"]["ExecStartPost"],
            (CI / "crontab").read_text().splitlines()[-1],
        ]
    )
    found = calls(text.replace("/opt/gameday/.venv/bin/", "").replace(".venv/bin/", ""))
    assert len(found) == 4
    for argv in found:
        check_call(parser, argv)
