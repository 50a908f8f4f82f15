"""Bad input through the public loader: a valid GameDay or a SpecError whose every problem names
the file (and a YAML path when there is one), never another exception.

tests/spec/test_fuzz.py feeds `parse_gameday` random text and random trees, which rarely
get past the top-level checks. These start from the shipped game days and break one
value at a time, so the deep validators (slos, guardrails, chaos blocks, load options)
meet hostile values too, and they go through `load_gameday` (the file path the CLI uses).
"""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import SpecError
from harness.spec.loader import load_gameday
from harness.spec.models import GameDay

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "gamedays").glob("*.yaml"))
hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(
        [
            "",
            "-1s",
            "1e309",
            "< -5ms",
            "p(101) < 1s",
            ">= 200%",
            "../../etc/passwd",
            "http://10.0.0.1",
            "nan",
            "inf",
            "0s",
            "9999999h",
        ]
    ),
)


def paths_in(value, prefix=()):
    """Every (path) to a leaf or container inside a YAML document."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from paths_in(child, (*prefix, key))


def replaced(doc, path, new):
    if not path:
        return new
    head, *rest = path
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = replaced(doc[head], tuple(rest), new)
    return copy


@st.composite
def broken_gamedays(draw):
    doc = yaml.safe_load(draw(st.sampled_from(SHIPPED)).read_text())
    path = draw(st.sampled_from(list(paths_in(doc))))
    return replaced(doc, path, draw(hostile))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(broken_gamedays())
def test_a_shipped_game_day_with_one_hostile_value_loads_or_names_the_problem(tmp_path, doc):
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        assert isinstance(load_gameday(path, check_files=False), GameDay)
    except SpecError as exc:
        assert exc.problems and all(p.startswith(f"{path}: ") for p in exc.problems), exc.problems
