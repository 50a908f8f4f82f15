"""Fixtures for end-to-end game days (helpers live in e2e_support.py)."""

import pytest

from e2e_support import Stack


@pytest.fixture(scope="module")
def healthy_stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("home"), "e2e")
    stack.up()
    yield stack
    stack.down()
