"""Any text at all ends in a GameDay or a SpecError from the loader, and in an Objective or a
ValueError from the objective parser; nothing else escapes."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import SpecError
from harness.spec.loader import parse_gameday
from harness.spec.reader import Problems
from harness.spec.slo_expr import Objective, parse_objective

KEYS = [
    "name",
    "target",
    "kind",
    "load",
    "profile",
    "shape",
    "rate",
    "duration",
    "chaos",
    "experiment",
    "start_after",
    "warmup",
    "slos",
    "sli",
    "phase",
    "objective",
    "endpoint",
    "T",
    "guardrails",
    "window",
    "abort_if",
    "base_url",
    "users",
    "sink",
    "options",
    "processes",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["< 150ms", "30s", "local", "http", "p(99) < 1s", "latency.p99", "fault"]),
)
trees = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=20,
)


def check(source: str) -> None:
    problems = Problems("fuzz.yaml")
    try:
        parse_gameday(source, Path("fuzz.yaml"), problems, check_experiments=False, check_files=False)
    except SpecError:
        pass
    assert all(p.startswith("fuzz.yaml: ") for p in problems.items)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_loader_survives_arbitrary_text(source):
    check(source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_loader_survives_arbitrary_yaml_structures(tree):
    check(yaml.safe_dump(tree))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"(p\(\d{1,3}(\.\d)?\)|avg)?\s*(<|<=|>|>=|==)\s*\d+(\.\d+)?(ms|s|%|rps)?", fullmatch=True),
    )
)
def test_objective_parser_returns_objective_or_value_error(text):
    try:
        assert isinstance(parse_objective(text), Objective)
    except ValueError:
        pass
