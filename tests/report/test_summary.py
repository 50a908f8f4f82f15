"""The one-line summary and the terminal verdict table."""

from report_runs import aborted_run, failed_run, healthy_run

from harness.report import load_analysis, summary_line, verdict_table


def test_summary_line_of_a_healthy_run_says_pass_and_exit_0(tmp_path):
    line = summary_line(load_analysis(healthy_run(tmp_path)))
    assert line == "PASS kill-one-model-replica: 4/4 SLOs passed in 1m00s (exit 0)"


def test_summary_line_names_each_slo_that_did_not_pass(tmp_path):
    line = summary_line(load_analysis(failed_run(tmp_path)))
    assert line.startswith("FAIL kill-one-model-replica: 1/4 SLOs passed")
    assert "availability@fault >= 99% (observed 70.00%)" in line and "(observed never)" in line
    assert "\n" not in line and line.endswith("(exit 1)")


def test_summary_line_of_an_aborted_run_says_aborted_and_exit_3(tmp_path):
    assert summary_line(load_analysis(aborted_run(tmp_path))).startswith("ABORTED abort-me")


def test_verdict_table_aligns_one_row_per_slo(tmp_path):
    lines = verdict_table(load_analysis(failed_run(tmp_path))).splitlines()
    assert len(lines) == 5 and lines[0].split() == ["VERDICT", "SLI", "PHASE", "ENDPOINT", "OBJECTIVE", "OBSERVED"]
    assert lines[2].split()[:3] == ["FAIL", "availability", "fault"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # the SLI column starts at one offset
