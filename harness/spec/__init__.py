"""Game day specs: load a YAML file into a frozen, validated `GameDay`.

loader      load_gameday / load_gamedays: YAML -> GameDay or SpecError (every problem)
models      the frozen dataclasses (GameDay, LoadSpec, ChaosBlock, Slo, Guardrail, targets)
slo_expr    the objective grammar (`p(99) < 300ms`), parse_objective -> Objective
catalogue   the SLI names, their kinds and units
validate    checks beyond the YAML: files, endpoints, timing, `chaos validate`
profile_scan  endpoints and response checks of a locustfile, read with ast
reader      path-aware YAML walking that collects problems
"""

from harness.spec.loader import load_gameday, load_gamedays
from harness.spec.models import GameDay
from harness.spec.slo_expr import Objective, parse_objective

__all__ = ["GameDay", "Objective", "load_gameday", "load_gamedays", "parse_objective"]
