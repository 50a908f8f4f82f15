"""harness.files.atomic_write: whole or absent, and two writers never share a temporary file."""

from __future__ import annotations

import os
import threading

import pytest

from harness import files
from harness.files import atomic_write


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "result.json"
    path.write_text("old")
    atomic_write(path, '{"new": true}')
    assert path.read_text() == '{"new": true}'
    assert os.listdir(tmp_path) == ["result.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_bytes(b"old report")

    def refuse(*_):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", refuse)
    with pytest.raises(OSError, match="No space"):
        atomic_write(path, b"half a report")
    assert path.read_bytes() == b"old report"
    assert os.listdir(tmp_path) == ["report.html"]


def test_two_writers_of_one_path_each_leave_a_whole_file(tmp_path):
    """With one fixed temporary name, the second writer's open truncates the first one's file
    mid-write and one rename finds nothing: every write here must land whole."""
    path = tmp_path / "live.json"
    payloads = [bytes([65 + n]) * 200_000 for n in range(8)]
    errors: list[BaseException] = []

    def write(data: bytes) -> None:
        try:
            for _ in range(20):
                atomic_write(path, data, durable=False)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert path.read_bytes() in payloads
    assert os.listdir(tmp_path) == ["live.json"]


def test_the_file_keeps_its_mode_and_a_new_one_is_readable_by_others(tmp_path):
    new = atomic_write(tmp_path / "junit.xml", b"<testsuites/>")
    assert new.stat().st_mode & 0o777 == 0o644
    private = tmp_path / "record.json"
    private.write_text("{}")
    private.chmod(0o600)
    atomic_write(private, "{}")
    assert private.stat().st_mode & 0o777 == 0o600
