"""`python -m harness.load.sink` as a process: configuration errors, SIGTERM flush, readiness."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from harness.load.ledger import read_rows
from harness.load.sink import SinkProcess


def test_missing_kind_settings_exit_2_with_the_flag_to_add(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.load.sink", "--run-dir", str(tmp_path), "--kind", "kafka"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--kind kafka needs --bootstrap" in result.stderr


def test_callable_sink_process_records_ids_and_flushes_on_sigterm(tmp_path, monkeypatch):
    asked_for_more = tmp_path / "asked-for-a-fourth"
    (tmp_path / "slow_tap.py").write_text(
        textwrap.dedent(f"""
        import time
        def ids():
            for i in range(3):
                yield f"c-{{i}}"
            # the sink asks for a fourth id only once it has taken the third
            open({str(asked_for_more)!r}, "w").close()
            time.sleep(3600)  # a tap that blocks, like a real client waiting for data
    """)
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    sink = SinkProcess(tmp_path / "run", ["--kind", "callable", "--callable", "slow_tap:ids"])
    try:
        sink.wait_ready()
        deadline = time.monotonic() + 60
        while not asked_for_more.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert asked_for_more.exists(), "the sink never took the three ids"
    finally:
        code = sink.stop()
    assert code == 0
    rows = read_rows([tmp_path / "run" / "ledger" / "consumed.jsonl"]).rows
    assert [row["id"] for row in rows] == ["c-0", "c-1", "c-2"]
