"""Bad input to the real `gameday` CLI: malformed experiments and profiles, spec files that are not
files, unreadable run directories, and a full disk. Each ends in a clear message and its exit code
(harness.status.ExitCode: 2 invalid input, 4 harness failed), never a traceback, and loses nothing
already recorded.

Every case runs `python -m harness.cli` in a subprocess. Permission cases: see bad_input_support
(root without CAP_DAC_OVERRIDE via setpriv). Full-disk cases mount a small tmpfs and skip with the
reason when mounting is not permitted; the end-to-end one (a real run whose disk fills while
Locust writes samples) is marked slow.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from bad_input_support import (
    PROFILE,
    action,
    experiment,
    fill,
    gameday,
    public_tmp,
    remount,
    tmpfs,
    unreadable_prefix,
    write_spec,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_runs import healthy_run

from harness.files import JsonlAppender
from harness.run.timeline import Timeline

# ---- experiments ---------------------------------------------------------------------------------


def _not_json(path: Path) -> str:
    path.write_text("this is not JSON {")
    return "is not valid JSON: line 1 column 1"


def _not_yaml(path: Path) -> str:
    path.write_text("title: [unclosed\n")
    return "is not valid YAML"


def _a_list(path: Path) -> str:
    path.write_text("[1, 2]")
    return "holds a list, not a Chaos Toolkit experiment"


def _a_directory(path: Path) -> str:
    path.mkdir()
    return "is a directory, not a file"


def _a_fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is not a regular file"


def _not_utf8(path: Path) -> str:
    path.write_bytes(b'{"title": "caf\xe9"}')
    return "is not UTF-8 text (byte 0xe9 at line 1"


def _missing(path: Path) -> str:
    return "not found"


def _no_extension(path: Path) -> str:
    path.write_text(json.dumps(experiment()))
    return "must end in .json, .yaml, .yml"


UNREADABLE_EXPERIMENTS = {
    "exp.json": _not_json,
    "exp.yaml": _not_yaml,
    "list.json": _a_list,
    "dir.json": _a_directory,
    "fifo.json": _a_fifo,
    "latin1.json": _not_utf8,
    "absent.json": _missing,
    "exp.txt": _no_extension,
}


@pytest.mark.parametrize("name", list(UNREADABLE_EXPERIMENTS))
def test_experiment_that_cannot_be_read_exits_2_naming_it_and_its_yaml_path(tmp_path, name):
    expected = UNREADABLE_EXPERIMENTS[name](tmp_path / name)
    spec = write_spec(tmp_path / "gd.yaml", experiment=tmp_path / name)
    # the file checks run even when the child-process checks are skipped
    gameday("validate", "--no-chaos-validate", str(spec), timeout=60).refused(
        2, f"{spec}: chaos[0].experiment: experiment '{tmp_path / name}'", expected
    )


CHAOS_INVALID = {
    "no-method": ({k: v for k, v in experiment().items() if k != "method"}, "an experiment requires a method"),
    "bad-provider-type": (experiment([action({"type": "telepathy"})]), "unknown provider type 'telepathy'"),
    "missing-python-module": (
        experiment([action({"type": "python", "module": "no_such_module_for_gameday", "func": "f"})]),
        "could not find Python module 'no_such_module_for_gameday'",
    ),
    "missing-process-path": (
        experiment([action({"type": "process", "path": "/nonexistent/gameday-tool"})]),
        "path '/nonexistent/gameday-tool' cannot be found",
    ),
}


@pytest.mark.parametrize("case", list(CHAOS_INVALID))
def test_experiment_that_chaos_validate_refuses_exits_2_naming_it_and_its_yaml_path(tmp_path, case):
    doc, expected = CHAOS_INVALID[case]
    (tmp_path / "exp.json").write_text(json.dumps(doc))
    spec = write_spec(tmp_path / "gd.yaml", experiment=tmp_path / "exp.json")
    gameday("validate", str(spec)).refused(
        2, f"{spec}: chaos[0].experiment: experiment '{tmp_path / 'exp.json'}' fails chaos validate", expected
    )


def test_unreadable_experiment_exits_2_saying_permission_denied():
    prefix = unreadable_prefix()
    directory = public_tmp()
    try:
        secret = directory / "secret.json"
        secret.write_text(json.dumps(experiment()))
        secret.chmod(0)
        spec = write_spec(directory / "gd.yaml", experiment=secret)
        gameday("validate", "--no-chaos-validate", str(spec), prefix=prefix, timeout=60).refused(
            2, f"{spec}: chaos[0].experiment: experiment '{secret}' cannot be read (permission denied"
        )
    finally:
        shutil.rmtree(directory)


def test_run_with_a_broken_experiment_exits_2_before_making_a_run_directory(tmp_path):
    _not_json(tmp_path / "exp.json")
    spec = write_spec(tmp_path / "gd.yaml", experiment=tmp_path / "exp.json")
    gameday("run", str(spec), "--reports", str(tmp_path / "runs")).refused(2, "chaos[0].experiment", "not valid JSON")
    assert not (tmp_path / "runs").exists()


# ---- profiles ------------------------------------------------------------------------------------

SYNTAX_ERROR = """import harness.load.plugin
from locust import HttpUser, task
class U(HttpUser):
    @task
    def t(self)
        self.client.get("/")
"""
NO_USER = "import harness.load.plugin\nCONSTANT = 1\n"
RAISES = "import harness.load.plugin\nfrom locust import HttpUser, task\nraise RuntimeError('boom at import')\n"

BAD_PROFILES = {
    "syntax-error": (SYNTAX_ERROR, {}, ["load.profile", "is not valid Python", "line 5", "expected ':'"]),
    "no-user-class": (NO_USER, {}, ["load.profile", "defines no Locust User class"]),
    "raises-at-import": (RAISES, {}, ["load.profile", "raised RuntimeError: boom at import", "line 3"]),
    "missing": (None, {}, ["load.profile", "not found"]),
    "unknown-option": (
        "",
        {"no_such_option": 3},
        [
            "load.options.no_such_option",
            "unrecognized option --no-such-option",
            "options it accepts: events_weight, repeat_share, score_weight",
        ],
    ),
}


def _bad_profile(tmp_path: Path, case: str) -> tuple[Path, Path, list[str]]:
    source, options, expected = BAD_PROFILES[case]
    profile = PROFILE if source == "" else tmp_path / "profile.py"
    if source:
        profile.write_text(source)
    return write_spec(tmp_path / "gd.yaml", profile=profile, options=options), profile, expected


@pytest.mark.parametrize("case", list(BAD_PROFILES))
def test_bad_profile_fails_validate_with_exit_2_naming_the_file(tmp_path, case):
    spec, profile, expected = _bad_profile(tmp_path, case)
    gameday("validate", str(spec)).refused(2, str(spec), str(profile), *expected)


@pytest.mark.parametrize("case", list(BAD_PROFILES))
def test_bad_profile_fails_run_with_exit_2_before_any_load_starts(tmp_path, case):
    spec, profile, expected = _bad_profile(tmp_path, case)
    gameday("run", str(spec), "--reports", str(tmp_path / "runs")).refused(2, str(spec), str(profile), *expected)
    assert not (tmp_path / "runs").exists(), "a run directory was made: the load may have started"


def test_profile_option_with_a_bad_value_exits_2_naming_the_option(tmp_path):
    spec = write_spec(tmp_path / "gd.yaml", options={"score_weight": "heavy"})
    gameday("validate", str(spec)).refused(2, "load.options.score_weight", "invalid float value: 'heavy'")


def test_good_profile_and_options_still_validate(tmp_path):
    spec = write_spec(tmp_path / "gd.yaml", options={"score_weight": 3})
    result = gameday("validate", str(spec))
    assert result.code == 0, result.output


# ---- the spec file itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("directory", "is a directory"),
        ("fifo", "is not a regular file"),
        ("latin1", "is not UTF-8 text"),
        ("missing", "not found"),
    ],
)
def test_spec_that_is_not_a_readable_file_exits_2_without_hanging(tmp_path, kind, expected):
    spec = tmp_path / "gd.yaml"
    if kind == "directory":
        spec.mkdir()
    elif kind == "fifo":
        os.mkfifo(spec)
    elif kind == "latin1":
        spec.write_bytes(b"name: caf\xe9\n")
    gameday("validate", str(spec), timeout=60).refused(2, f"{spec}: the game day spec {expected}")


# ---- run directories for `gameday report` ---------------------------------------------------------


def _slis(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())["slis"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> tuple[Path, dict]:
    """A healthy run directory and the SLIs its report gives, to compare damaged copies against."""
    run_dir = healthy_run(tmp_path_factory.mktemp("pristine") / "run")
    result = gameday("report", "--quiet", str(run_dir))
    assert result.code == 0, result.output
    return run_dir, _slis(run_dir)


def _copy(pristine_dir: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(pristine_dir, run_dir)
    for name in ("result.json", "report.html", "junit.xml"):
        (run_dir / name).unlink(missing_ok=True)
    return run_dir


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("missing", "does not exist"),
        ("file", "is a file, not a run directory"),
        ("empty", "is not a run directory: it has no events.jsonl"),
    ],
)
def test_report_of_something_that_is_not_a_run_directory_exits_2_saying_what_to_pass(tmp_path, kind, expected):
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("hello")
    elif kind == "empty":
        target.mkdir()
    gameday("report", str(target)).refused(2, str(target), expected, "pass a folder that `gameday run` wrote")


def test_report_skips_garbage_and_invalid_utf8_timeline_lines_and_counts_them(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    events = run_dir / "events.jsonl"
    lines = events.read_bytes().splitlines(keepends=True)
    junk = [b"garbage line\n", b"\xff\xfe not utf-8\n", b'{"ts": "not a number"}\n']
    events.write_bytes(b"".join(lines[:3] + junk + lines[3:]))
    result = gameday("report", "--quiet", str(run_dir))
    result.refused(0, "warning: skipped 3 unreadable line(s) (events.jsonl: 3)")
    assert _slis(run_dir) == pristine[1]


def test_report_skips_a_garbage_sample_line_mid_file_without_losing_the_lines_after_it(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    samples = run_dir / "samples" / "samples.jsonl"
    lines = samples.read_bytes().splitlines(keepends=True)
    samples.write_bytes(b"".join(lines[:20] + [b'{"ts": 1800000010, "endpoint": "POST /v\n'] + lines[20:]))
    gameday("report", "--quiet", str(run_dir)).refused(0, "samples/samples.jsonl: 1")
    assert _slis(run_dir) == pristine[1]


def test_report_of_samples_torn_mid_line_by_a_crash_keeps_every_complete_line(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    samples = run_dir / "samples" / "samples.jsonl"
    first_row = samples.read_bytes().splitlines()[0]
    with samples.open("ab") as handle:
        handle.write(first_row[: len(first_row) // 2])  # the crash came mid-write: no newline
    gameday("report", "--quiet", str(run_dir)).refused(0, "skipped 1 unreadable line(s) (samples/samples.jsonl: 1)")
    assert _slis(run_dir) == pristine[1]


def test_report_of_a_run_whose_gameday_yaml_is_missing_exits_2_saying_how_to_restore_it(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    (run_dir / "gameday.yaml").unlink()
    gameday("report", str(run_dir)).refused(2, "gameday.yaml is missing", f"{run_dir / 'gameday.yaml'}")


def test_report_of_a_run_whose_gameday_yaml_is_invalid_exits_2_naming_it(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    (run_dir / "gameday.yaml").write_text("name: [unclosed\n")
    gameday("report", str(run_dir)).refused(2, f"{run_dir / 'gameday.yaml'}: cannot parse YAML")


def test_report_of_an_adhoc_locust_run_without_gameday_yaml_warns_and_reports_measurements(pristine, tmp_path):
    run_dir = _copy(pristine[0], tmp_path)
    (run_dir / "gameday.yaml").unlink()
    events = run_dir / "events.jsonl"
    kept = [line for line in events.read_text().splitlines(keepends=True) if '"harness"' not in line]
    events.write_text("".join(kept))
    result = gameday("report", "--quiet", str(run_dir))
    assert "has no gameday.yaml" in result.output and "measurements only" in result.output, result.output
    assert "Traceback" not in result.output and (run_dir / "report.html").exists()


def test_report_of_an_unlistable_run_directory_exits_2(pristine):
    prefix = unreadable_prefix()
    directory = public_tmp()
    try:
        run_dir = directory / "run"
        shutil.copytree(pristine[0], run_dir)
        run_dir.chmod(0)
        gameday("report", str(run_dir), prefix=prefix).refused(2, f"cannot list run directory '{run_dir}'")
    finally:
        run_dir.chmod(0o755)
        shutil.rmtree(directory)


# ---- a full disk: the writers ----------------------------------------------------------------------


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line.strip()]


def test_appender_on_a_full_disk_keeps_what_it_wrote_and_finishes_the_torn_line_when_space_returns(tmp_path):
    with tmpfs(tmp_path / "mnt", "64k") as mnt:
        appender = JsonlAppender(mnt / "samples.jsonl")
        ts = 0
        while appender.error is None:
            appender.append([{"ts": ts, "pad": "x" * 150}])
            ts += 1
        on_disk = (mnt / "samples.jsonl").read_bytes()
        assert not on_disk.endswith(b"\n"), "expected the disk to cut a line (tmpfs writes what fits)"
        complete = [json.loads(line) for line in on_disk[: on_disk.rindex(b"\n")].splitlines()]
        assert [r["ts"] for r in complete] == list(range(len(complete)))
        appender.append([{"ts": ts, "pad": "x" * 150}])  # refused too: waits in memory
        remount(mnt, "128k")
        appender.append([])
        appender.close()
        assert appender.error is None
        assert [r["ts"] for r in _rows(mnt / "samples.jsonl")] == list(range(ts + 1))


def test_appenders_sharing_a_file_on_a_full_disk_never_lose_a_whole_line_to_a_torn_one(tmp_path):
    with tmpfs(tmp_path / "mnt", "64k") as mnt:
        shared = mnt / "events.jsonl"
        torn, ours = JsonlAppender(shared), JsonlAppender(shared)
        torn.append([{"ts": 0}])
        fill(mnt)
        torn.append([{"ts": 1, "pad": "y" * 6000}])  # more than its page holds: cut where the disk ends
        assert torn.error is not None and not shared.read_bytes().endswith(b"\n")
        (mnt / "filler").unlink()
        ours.append([{"ts": 2}])  # another writer comes first: it closes the torn line before its own
        torn.append([])  # and the torn line is written again, whole
        assert sorted(r["ts"] for r in _rows_lenient(shared)) == [0, 1, 2]
        assert len(shared.read_bytes().split(b"\n")) - 1 == 4  # the three rows and the cut-off fragment


def _rows_lenient(path: Path) -> list[dict]:
    rows = []
    for line in path.read_bytes().split(b"\n"):
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def test_timeline_on_a_full_disk_does_not_raise_and_writes_its_events_once_space_returns(tmp_path):
    with tmpfs(tmp_path / "mnt", "64k") as mnt:
        timeline = Timeline(mnt)
        timeline.emit("harness", "run-start", "x")
        fill(mnt)
        timeline.emit("harness", "error", "disk", message="m" * 5000)  # more than the page it has
        assert timeline.error is not None
        (mnt / "filler").unlink()
        timeline.emit("harness", "run-end", "x", status="crashed")
        timeline.close()
        assert timeline.error is None
        assert [e["kind"] for e in _rows(mnt / "events.jsonl")] == ["run-start", "error", "run-end"]


def test_report_on_a_full_disk_exits_4_saying_the_disk_is_full_and_where(pristine, tmp_path):
    with tmpfs(tmp_path / "mnt", "4m") as mnt:
        run_dir = mnt / "run"
        shutil.copytree(pristine[0], run_dir)
        for name in ("result.json", "report.html", "junit.xml"):
            (run_dir / name).unlink()
        fill(mnt)
        gameday("report", str(run_dir)).refused(4, "the disk is full", f"mounted at {mnt}", f"gameday report {run_dir}")
        assert not (run_dir / "result.json").exists(), "a half-written result.json was left behind"


# ---- a full disk during a real run (slow) -------------------------------------------------------


@pytest.mark.slow
def test_run_whose_disk_fills_while_recording_stops_rolls_back_exits_4_and_keeps_its_samples(healthy_stack, tmp_path):
    from full_disk_run import run_until_disk_fills

    with tmpfs(tmp_path / "mnt", "16m") as mnt:
        outcome = run_until_disk_fills(healthy_stack, mnt, tmp_path)
        outcome.result.refused(4, "the disk is full", f"mounted at {mnt}")
        assert outcome.elapsed_s < 90, f"the run took {outcome.elapsed_s:.0f}s after the disk filled: it hung"
        assert outcome.toxics_after == [], f"faults left behind: {outcome.toxics_after}"
        after = (outcome.run_dir / "samples" / "samples.jsonl").read_bytes()
        assert after.startswith(outcome.samples_before_fill), "a sample line written before the disk filled changed"
        body = after if after.endswith(b"\n") else after[: after.rindex(b"\n") + 1]
        assert all(isinstance(json.loads(line), dict) for line in body.splitlines() if line.strip())
        assert not (outcome.run_dir / "result.json").exists(), "a half-written result.json was left behind"
        (mnt / "filler").unlink()  # space is back: the reports are rebuilt from what was recorded
        rebuilt = gameday("report", "--quiet", str(outcome.run_dir))
        rebuilt.refused(4, "CRASHED")
        requests = json.loads((outcome.run_dir / "result.json").read_text())["slis"]["warmup"]["*"]["requests"]
        assert requests > 0
