"""junit.xml: valid against Jenkins' junit-10.xsd, one testcase per SLO, failures with observed vs objective."""

from pathlib import Path

from lxml import etree
from report_runs import aborted_run, failed_run, healthy_run, hostile_run, no_data_run

from harness.report import write_reports

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit-10.xsd"))))


def junit(run_dir):
    return etree.parse(str(write_reports(run_dir).junit))


def test_junit_of_every_fixture_validates_against_the_jenkins_schema(tmp_path):
    for factory in (healthy_run, failed_run, aborted_run, no_data_run, hostile_run):
        tree = junit(factory(tmp_path / factory.__name__))
        SCHEMA.assertValid(tree)


def test_one_testsuite_per_game_day_and_one_testcase_per_slo(tmp_path):
    root = junit(healthy_run(tmp_path)).getroot()
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "kill-one-model-replica"
    cases = suites[0].findall("testcase")
    assert [c.get("name") for c in cases][1] == "availability@fault >= 99%"
    assert len(cases) == 4 and suites[0].get("failures") == "0" and not root.findall(".//failure")


def test_failed_and_no_data_verdicts_are_failures_with_observed_against_objective(tmp_path):
    suite = junit(failed_run(tmp_path / "f")).getroot().find("testsuite")
    failures = [(c.get("name"), c.find("failure")) for c in suite.findall("testcase") if c.find("failure") is not None]
    assert suite.get("failures") == "3" and len(failures) == 3
    assert failures[0][1].get("message") == "observed 70.00%, objective >= 99%"
    assert failures[0][1].get("type") == "fail"
    no_data = junit(no_data_run(tmp_path / "n")).getroot().find("testsuite")
    assert {f.get("type") for f in no_data.iter("failure")} == {"no-data"}


def test_an_aborted_run_adds_a_run_status_error(tmp_path):
    suite = junit(aborted_run(tmp_path)).getroot().find("testsuite")
    status = [c for c in suite.findall("testcase") if c.get("name") == "run status"]
    assert len(status) == 1 and status[0].find("error").get("type") == "aborted"
    assert suite.get("errors") == "1" and suite.get("tests") == "5"
