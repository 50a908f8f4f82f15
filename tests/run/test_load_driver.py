"""The Locust command line the orchestrator builds."""

from pathlib import Path

from harness.load.child import locust_argv


def test_locust_argv_passes_an_absolute_run_dir_and_the_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = locust_argv(
        Path("p.py"),
        "http://127.0.0.1:1",
        Path("reports/runs/x"),
        "constant_rate",
        30.0,
        {"rate": 50.0},
        None,
        {"events-weight": 4},
    )
    run_dir = argv[argv.index("--gameday-run-dir") + 1]
    assert run_dir == str(tmp_path / "reports" / "runs" / "x")
    assert argv[argv.index("--gameday-rate") + 1] == "50"
    assert argv[argv.index("--events-weight") + 1] == "4"
    assert "--processes" not in argv


def test_forked_workers_talk_to_their_own_master_on_a_free_local_port():
    """Locust's default *:5557 is shared by every run on the machine: two runs swapped workers."""
    import socket

    def master(argv):
        ports = {argv[argv.index(flag) + 1] for flag in ("--master-bind-port", "--master-port")}
        assert len(ports) == 1 and argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
        assert argv[argv.index("--master-host") + 1] == "127.0.0.1"
        return int(ports.pop())

    args = (Path("p.py"), "http://127.0.0.1:1", Path("x"), "constant_rate", 30.0, {"rate": 50.0}, 2, {})
    with socket.socket() as held:  # a run already listening: the next one must not pick its port
        held.bind(("127.0.0.1", 0))
        held.listen()
        first, second = master(locust_argv(*args)), master(locust_argv(*args))
        assert held.getsockname()[1] not in (first, second)
    assert master(locust_argv(*args, master_port=41234)) == 41234
    assert locust_argv(*args)[locust_argv(*args).index("--processes") + 1] == "2"
