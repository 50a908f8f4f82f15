import math

import pytest

from harness.spec.slo_expr import parse_objective, unit_problem


@pytest.mark.parametrize(
    "text, op, value, unit",
    [
        ("< 150ms", "<", 0.15, "ms"),
        ("<= 0.2s", "<=", 0.2, "s"),
        (">= 99.9%", ">=", 0.999, "%"),
        ("== 0", "==", 0.0, None),
        ("> 100", ">", 100.0, None),
        (">100rps", ">", 100.0, "rps"),
        ("< 2m", "<", 120.0, "m"),
        ("!= 3", "!=", 3.0, None),
    ],
)
def test_parse_objective_normalises_value_and_unit(text, op, value, unit):
    objective = parse_objective(text)
    assert (objective.op, objective.unit, objective.text) == (op, unit, text)
    assert objective.value == pytest.approx(value)


def test_k6_percentile_aggregate_implies_latency_sli():
    objective = parse_objective("p(99) < 300ms")
    assert objective.implied_sli == "latency.p99"
    assert objective.value == pytest.approx(0.3)


def test_fractional_percentile_and_other_aggregates_imply_their_sli():
    assert parse_objective("p(99.9)<1s").implied_sli == "latency.p99.9"
    assert parse_objective("avg < 5ms").implied_sli == "latency.mean"
    assert parse_objective("med < 5ms").implied_sli == "latency.p50"


@pytest.mark.parametrize("text", ["<< 5", "150ms", "< fast", "<= -3", "p(99) 300ms", "", "< 1e3", "=< 5"])
def test_unparseable_objective_raises_value_error_quoting_it(text):
    with pytest.raises(ValueError, match="cannot parse"):
        parse_objective(text)


def test_percent_objective_holds_at_exactly_its_value():
    assert parse_objective(">= 99.9%").holds(999 / 1000)
    assert not parse_objective(">= 99.9%").holds(0.998)


def test_none_nan_and_never_do_not_hold():
    assert not parse_objective("< 20s").holds(None)
    assert not parse_objective("< 20s").holds(math.nan)
    assert not parse_objective("< 20s").holds(math.inf)


def test_time_sli_needs_a_time_unit():
    assert "needs a time unit" in unit_problem(parse_objective("< 150"), "time")
    assert unit_problem(parse_objective("< 150ms"), "time") is None
    assert "not a time" in unit_problem(parse_objective("< 5%"), "time")


def test_ratio_sli_bare_number_above_one_suggests_percent():
    assert "did you mean '>= 99.9%'" in unit_problem(parse_objective(">= 99.9"), "ratio")
    assert unit_problem(parse_objective(">= 0.999"), "ratio") is None


def test_count_sli_rejects_units():
    assert unit_problem(parse_objective("== 0"), "count") is None
    assert "is a count" in unit_problem(parse_objective("< 1%"), "count")
