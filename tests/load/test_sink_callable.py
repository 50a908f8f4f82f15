"""The callable sink reader: a user's module:function that yields ids."""

from __future__ import annotations

import textwrap
import time

import pytest

from harness.load.sinks import SinkConfigError
from harness.load.sinks.function import CallableSource, SinkSourceError


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "user_taps.py").write_text(
        textwrap.dedent("""
        def ids():
            yield "a"
            yield ("b", 42.0)

        def broken():
            yield "a"
            raise ConnectionError("tap went away")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return "user_taps"


def drain(source, until: int, timeout: float = 5.0):
    seen, deadline = [], time.monotonic() + timeout
    while len(seen) < until and time.monotonic() < deadline:
        seen += source.poll(0.1)
    return seen


def test_reads_what_the_named_function_yields(user_module):
    seen = drain(CallableSource(f"{user_module}:ids"), until=2)
    assert [event_id for event_id, _ in seen] == ["a", "b"]
    assert seen[1][1] == 42.0


def test_a_failing_function_surfaces_its_error(user_module):
    source = CallableSource(f"{user_module}:broken")
    with pytest.raises(SinkSourceError, match="tap went away"):
        drain(source, until=99, timeout=2.0)


@pytest.mark.parametrize(
    "target, message",
    [
        ("no_colon", "must look like"),
        ("no_such_module_xyz:ids", "cannot import"),
        ("user_taps:missing", "has no function"),
    ],
)
def test_a_bad_name_says_what_is_wrong(user_module, target, message):
    with pytest.raises(SinkConfigError, match=message):
        CallableSource(target)
