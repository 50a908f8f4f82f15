"""harness.shape_table: one table of shape parameters for the spec and the Locust options."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from harness import shape_table
from harness.load import shapes
from harness.spec import loader


@pytest.mark.parametrize("shape", shape_table.SHAPES)
def test_every_shape_function_takes_exactly_the_table_arguments(shape):
    arguments = list(inspect.signature(getattr(shapes, shape)).parameters)[1:]  # after t
    assert arguments == [p.argument for p in shape_table.PARAMS[shape]]


def test_every_key_has_one_help_text_and_the_spec_accepts_exactly_them():
    used = {p.key for params in shape_table.PARAMS.values() for p in params} | set(shape_table.OPTIONAL)
    assert used == set(shape_table.KEYS)
    assert set(loader.LOAD_KEYS) >= set(shape_table.KEYS)
    assert loader.SHAPE_PARAMS == {s: tuple(p.key for p in ps) for s, ps in shape_table.PARAMS.items()}


def test_the_spec_side_of_the_table_and_the_grammar_never_imports_locust():
    """The orchestrator's process must never import locust (gevent's monkey-patching)."""
    code = (
        "import sys, harness.shape_table, harness.durations, harness.spec.loader; print(sorted("
        "m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
