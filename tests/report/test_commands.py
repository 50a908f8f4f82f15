"""The `gameday report|history|compare` subcommands, run through argparse as the CLI runs them."""

import argparse
import json

import pytest
from report_runs import failed_run, healthy_run

from harness.errors import SpecError
from harness.report import commands


def run(argv):
    parser = argparse.ArgumentParser(prog="gameday")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


def test_report_rebuilds_the_same_verdicts_from_the_directory_alone(tmp_path, capsys):
    run_dir = failed_run(tmp_path)
    assert run(["report", str(run_dir)]) == 1
    first = json.loads((run_dir / "result.json").read_text())["verdicts"]
    (run_dir / "report.html").unlink()
    assert run(["report", "--quiet", str(run_dir)]) == 1
    assert json.loads((run_dir / "result.json").read_text())["verdicts"] == first
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    assert capsys.readouterr().out.splitlines()[-1].startswith("FAIL kill-one-model-replica")


def test_report_of_a_missing_directory_is_a_spec_error_with_advice(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        run(["report", str(tmp_path / "nope")])
    with pytest.raises(SpecError, match="no events.jsonl"):
        run(["report", str(tmp_path)])


def test_compare_exits_1_on_a_regression_and_writes_the_page(tmp_path, capsys):
    a, b = healthy_run(tmp_path / "a"), healthy_run(tmp_path / "b", seed=2, fault_latency_ms=200)
    assert run(["compare", str(a), str(b), "-o", str(tmp_path / "cmp.html")]) == 1
    assert (tmp_path / "cmp.html").exists()
    assert "FAIL compare" in capsys.readouterr().out


def test_compare_of_two_healthy_runs_exits_0(tmp_path):
    assert run(["compare", str(healthy_run(tmp_path / "a")), str(healthy_run(tmp_path / "b", seed=5))]) == 0
    assert (tmp_path / "b" / "comparison.html").exists()


def test_compare_refuses_runs_of_different_game_days(tmp_path):
    a, b = healthy_run(tmp_path / "a"), healthy_run(tmp_path / "b", name="other")
    with pytest.raises(SpecError, match="--any-gameday"):
        run(["compare", str(a), str(b)])
    assert run(["compare", "--any-gameday", str(a), str(b)]) == 0


def test_history_writes_the_index(tmp_path):
    healthy_run(tmp_path / "runs" / "a")
    assert run(["history", str(tmp_path)]) == 0 and (tmp_path / "index.html").exists()
