"""The Locust command line the orchestrator builds."""

from pathlib import Path

from harness.run.load_driver import locust_argv


def test_locust_argv_passes_an_absolute_run_dir_and_the_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = locust_argv(Path("p.py"), "http://127.0.0.1:1", Path("reports/runs/x"), "constant_rate", 30.0,
                       {"rate": 50.0}, None, {"events-weight": 4})
    run_dir = argv[argv.index("--gameday-run-dir") + 1]
    assert run_dir == str(tmp_path / "reports" / "runs" / "x")
    assert argv[argv.index("--gameday-rate") + 1] == "50"
    assert argv[argv.index("--events-weight") + 1] == "4"
    assert "--processes" not in argv
