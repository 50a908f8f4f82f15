"""Fixtures for the harness's own reliability tests: a stack started separately, as an SRE would."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_support import Stack  # noqa: E402


@pytest.fixture(scope="module")
def healthy_stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("home"), "rel")
    stack.up()
    yield stack
    stack.down()
