"""harness.spec.files.read_text: the text of a regular file, or one sentence saying why not."""

from __future__ import annotations

import os

import pytest

from harness.spec.files import FileProblem, read_text


def test_a_regular_utf8_file_is_read(tmp_path):
    (tmp_path / "a.yaml").write_text("name: café\n", encoding="utf-8")
    assert read_text(tmp_path / "a.yaml") == "name: café\n"


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(FileProblem, match="^not found$"):
        read_text(tmp_path / "absent.yaml")


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(FileProblem, match="is a directory"):
        read_text(tmp_path)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.yaml")  # opening it would block until a writer came
    with pytest.raises(FileProblem, match="not a regular file"):
        read_text(tmp_path / "pipe.yaml")


def test_invalid_utf8_names_the_byte_and_its_line(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"name: x\ndescription: caf\xe9\n")
    with pytest.raises(FileProblem, match=r"byte 0xe9 at line 2, offset 24"):
        read_text(tmp_path / "a.yaml")
