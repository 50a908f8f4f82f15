"""SLO objectives: the small expression language of `objective:` and `abort_if:`.

The shape is the one k6 users know from thresholds (`p(99) < 300ms`), with units:

    objective := [aggregate] op number [unit]
    aggregate := "p(" number ")" | "avg" | "med" | "max"
    op        := "<" | "<=" | ">" | ">=" | "==" | "!="
    number    := digits ["." digits]              (no sign, no exponent)
    unit      := "ms" | "s" | "m" | "%" | "rps" | "/s"

Whitespace anywhere is ignored. Examples: `< 150ms`, `<= 0.2s`, `>= 99.9%`, `== 0`,
`> 100rps`, `p(99) < 300ms`, `p(99.9) < 1s`, `avg < 50ms`.

Values are normalised so that a verdict compares like with like, the same units the
analysis uses for every SLI (see docs/result-json.md):

    ms, s, m   -> seconds       (`< 150ms` holds for 0.149)
    %          -> a fraction     (`>= 99.9%` holds for 0.9995)
    rps, /s    -> requests per second
    no unit    -> the number as written

An aggregate names the latency SLI it implies: `p(N)` -> `latency.pN`, `avg` ->
`latency.mean`, `med` -> `latency.p50`, `max` -> `latency.max`; the spec may then
omit `sli:`. Which units fit which SLI is checked by `unit_problem`.

A comparison SLO (`compare: {variant: canary, against: stable}`) has an objective on
how the variant's SLI compares with the other's (`parse_comparison`):

    comparison := ("ratio" | "difference") op ["-"] number [unit]     op: < <= > >=

    ratio       variant / against, a plain number (`ratio < 1.2`: at most 20% worse)
    difference  variant - against, in the SLI's units (`difference < 20ms`,
                `difference > -1%`: at most one point lower)
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass

_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBER = r"(\d+(?:\.\d+)?)"
_EXPR = re.compile(
    r"^(?:(?P<agg>p\(\s*" + _NUMBER + r"\s*\)|avg|med|max))?\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*"
    r"(?P<num>" + _NUMBER[1:-1] + r")\s*"
    r"(?P<unit>ms|s|m|%|rps|/s)?$"
)
# Divide, do not multiply: 99.9 / 100 is exactly 0.999, 99.9 * 0.01 is not.
_UNIT_DIVISOR = {"ms": 1000.0, "s": 1.0, "m": 1 / 60, "%": 100.0, "rps": 1.0, "/s": 1.0, None: 1.0}
_UNIT_KIND = {"ms": "time", "s": "time", "m": "time", "%": "ratio", "rps": "rate", "/s": "rate", None: "number"}
_AGG_SLI = {"avg": "latency.mean", "med": "latency.p50", "max": "latency.max"}


@dataclass(frozen=True)
class Objective:
    """A parsed objective. `value` is normalised (see the module docstring); `text` is as written."""

    op: str
    value: float
    unit: str | None
    text: str
    implied_sli: str | None = None

    @property
    def kind(self) -> str:
        """time | ratio | rate | number: what the unit says the value measures."""
        return _UNIT_KIND[self.unit]

    def holds(self, observed: float | None) -> bool:
        """True when `observed` (in normalised units) meets the objective; None or NaN never does.

        An infinite observation (a recovery that never happened) is compared as infinity.
        Values within a relative 1e-9 of the objective count as equal to it.
        """
        if observed is None or (isinstance(observed, float) and math.isnan(observed)):
            return False
        if math.isclose(observed, self.value, rel_tol=1e-9, abs_tol=1e-12):
            # Decimal units do not survive binary floats (99.9/100 != 999/1000):
            # values this close are equal, so `>= 99.9%` holds for exactly 99.9%.
            return self.op in ("<=", ">=", "==")
        return bool(_OPS[self.op](observed, self.value))

    def __str__(self) -> str:
        return self.text


_COMPARISON = re.compile(
    r"^(?P<measure>ratio|difference)(?P<op><=|>=|<|>)(?P<sign>-?)"
    r"(?P<num>\d+(?:\.\d+)?)(?P<unit>ms|s|m|%)?$"
)
MEASURES = ("ratio", "difference")


def parse_comparison(text: object) -> tuple[str, Objective]:
    """(measure, Objective on it) from a comparison objective; ValueError quoting `text` otherwise.

    The Objective's `text` is the whole objective as written ('ratio < 1.2')."""
    if not isinstance(text, str):
        raise ValueError(f"cannot parse {text!r}: a comparison objective is a string such as 'ratio < 1.2'")
    match = _COMPARISON.match(re.sub(r"\s+", "", text))
    if not match:
        raise ValueError(
            f"cannot parse {text!r}: a comparison is 'ratio <op> <number>' or "
            "'difference <op> [-]<number>[ms|s|%]' with <op> one of <, <=, >, >=, "
            "e.g. 'ratio < 1.2', 'difference > -1%'"
        )
    unit = match.group("unit")
    number = float(match.group("num")) * (-1.0 if match.group("sign") else 1.0)
    return match.group("measure"), Objective(match.group("op"), _normalise(number, unit), unit, text.strip())


def comparison_problem(measure: str, objective: Objective, sli_kind: str) -> str | None:
    """Why a comparison objective does not fit an SLI of `sli_kind` (time | ratio), or None."""
    if measure == "ratio":
        if objective.unit not in (None, "%"):
            return f"{objective.text!r}: a ratio is a plain number (variant / against), e.g. 'ratio < 1.2'"
        return None if objective.value >= 0 else f"{objective.text!r}: a ratio of two SLIs is never negative"
    if sli_kind == "time" and objective.kind == "number" and objective.value != 0:
        return f"{objective.text!r} needs a time unit, e.g. 'difference {objective.op} {objective.value:g}ms'"
    if sli_kind == "time" and objective.kind not in ("time", "number"):
        return f"{objective.text!r} is not a time difference (use ms or s)"
    if sli_kind == "ratio":
        if objective.kind == "number" and not -1 <= objective.value <= 1:
            return f"{objective.text!r} is out of [-1, 1]; did you mean '{objective.op} {objective.value:g}%'?"
        if objective.kind not in ("ratio", "number"):
            return f"{objective.text!r} is not a difference of ratios (use % or a fraction)"
    return None


def parse_objective(text: object) -> Objective:
    """The Objective in `text`; ValueError quoting `text` and the grammar when it does not parse."""
    if not isinstance(text, str):
        raise ValueError(f"cannot parse {text!r}: an objective is a string such as '< 150ms' or '>= 99.9%'")
    compact = re.sub(r"\s+", "", text)
    match = _EXPR.match(compact)
    if not match:
        raise ValueError(
            f"cannot parse {text!r}: expected [p(N)|avg|med|max] <op> <number>[ms|s|m|%|rps], "
            "e.g. '< 150ms', '>= 99.9%', '== 0', 'p(99) < 300ms'"
        )
    agg, unit = match.group("agg"), match.group("unit")
    number = float(match.group("num"))
    return Objective(match.group("op"), _normalise(number, unit), unit, text.strip(), _implied(agg))


def _normalise(number: float, unit: str | None) -> float:
    return number * 60.0 if unit == "m" else number / _UNIT_DIVISOR[unit]


def _implied(agg: str | None) -> str | None:
    if agg is None:
        return None
    if agg.startswith("p("):
        return "latency.p" + _trim(float(agg[2:-1]))
    return _AGG_SLI[agg]


def _trim(number: float) -> str:
    """99.0 -> '99', 99.9 -> '99.9' (how SLI names spell percentiles)."""
    return f"{number:g}"


def unit_problem(objective: Objective, sli_kind: str) -> str | None:
    """Why `objective`'s unit does not fit an SLI measuring `sli_kind` (time|ratio|rate|count|metric), or None.

    A `metric` SLI (the target's own numbers) takes any unit: gameday cannot know what a
    metric measures, so `< 2s` compares with 2 and `>= 90%` with 0.9.

    Time SLIs need an explicit time unit (a bare `< 150` is ambiguous between ms and s);
    a bare number on a ratio SLI must be a fraction in [0, 1] (`>= 99.9` is almost
    certainly a percentage missing its `%`).
    """
    kind = objective.kind
    if sli_kind == "metric":
        return None
    if sli_kind == "time":
        if kind == "number" and objective.value != 0:
            return f"{objective.text!r} needs a time unit, e.g. '{objective.op} {objective.value:g}ms'"
        return None if kind in ("time", "number") else f"{objective.text!r} is not a time (use ms, s or m)"
    if sli_kind == "ratio":
        if kind == "number" and not 0 <= objective.value <= 1:
            return f"{objective.text!r} is out of [0, 1]; did you mean '{objective.op} {objective.value:g}%'?"
        return None if kind in ("ratio", "number") else f"{objective.text!r} is not a ratio (use % or a fraction)"
    if sli_kind == "rate":
        return None if kind in ("rate", "number") else f"{objective.text!r} is not a rate (use rps or a number)"
    return None if kind == "number" else f"{objective.text!r} is a count; give a plain number, e.g. '== 0'"
