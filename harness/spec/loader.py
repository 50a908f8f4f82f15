"""Load game day specs: YAML in, a frozen `GameDay` out, or `SpecError` listing every problem.

    load_gameday(path, check_experiments=True) -> GameDay
    load_gamedays(paths, ...) -> list[GameDay]      problems of all files in one SpecError

Each problem reads `<file>: <yaml.path>: <message quoting the bad value>`. Any input
at all, valid YAML or not, ends in either a GameDay or a SpecError; nothing else
escapes (tests/spec/test_fuzz.py feeds it arbitrary text).

Relative paths in a spec (profile, experiments) resolve against the first of: the
spec's directory, its parent (so `gamedays/x.yaml` can name `loadprofiles/y.py`
from the project root), and the current directory, in which they exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from harness import shape_table
from harness.allowlist import url_problem
from harness.durations import parse_duration
from harness.errors import SpecError
from harness.spec import catalogue, files, metric_sources, validate
from harness.spec.models import (
    PHASES,
    ChaosBlock,
    Compare,
    GameDay,
    Guardrail,
    HttpTarget,
    KubernetesTarget,
    LoadSpec,
    LocalTarget,
    SinkSpec,
    Slo,
)
from harness.spec.reader import Node, Problems, child, number, strings, text
from harness.spec.slo_expr import Objective, comparison_problem, parse_comparison, parse_objective, unit_problem

TOP_KEYS = ("name", "description", "target", "load", "chaos", "warmup", "slos", "guardrails", "metrics")
TARGET_KEYS = {
    "local": ("kind", "stack", "defects"),
    "http": ("kind", "base_url"),
    "kubernetes": ("kind", "context", "namespace", "allowed_namespaces", "image", "gateway_url", "worker_resources"),
}
# Shape parameters: harness.shape_table, shared with the Locust plugin's options (and free of
# Locust, whose gevent monkey-patching the orchestrator process must never import).
SHAPE_PARAMS = {shape: shape_table.keys(shape) for shape in shape_table.SHAPES}
ALL_PARAMS = shape_table.KEYS
LOAD_KEYS = (
    "profile",
    "shape",
    "duration",
    "processes",
    "options",
    "sink",
    "where",
    "workers",
    "variant_header",
    *ALL_PARAMS,
)
SLO_KEYS = (
    "sli",
    "phase",
    "endpoint",
    "objective",
    "T",
    "count_rate_limited",
    "variant",
    "compare",
    "agg",
    "within",
    "source",
)
LOAD_WHERE = ("local", "cluster")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an RFC 9110 token
SINK_REQUIRED = {"kafka": (), "http": ("url",), "callable": ("callable",), "amqp": ("url",)}


def load_gameday(path: str | Path, *, check_experiments: bool = True, check_files: bool = True) -> GameDay:
    """The GameDay in `path`, fully validated; SpecError with every problem otherwise.

    `check_experiments=False` skips running `chaos validate` (seconds per experiment);
    `check_files=False` also skips every check that reads other files (profiles,
    experiments), for re-reading the resolved spec kept in a run directory.
    """
    problems = Problems(str(path))
    gameday = _load(Path(path), problems, check_experiments and check_files, check_files)
    if problems.items or gameday is None:
        raise SpecError(problems.items or [f"{path}: could not be loaded"])
    return gameday


def load_gamedays(paths: Iterable[str | Path], **checks: bool) -> list[GameDay]:
    """Every game day in `paths`; one SpecError listing the problems of all files."""
    loaded, problems = [], []
    for path in paths:
        try:
            loaded.append(load_gameday(path, **checks))
        except SpecError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpecError(problems)
    return loaded


def _load(path: Path, problems: Problems, check_experiments: bool, check_files: bool) -> GameDay | None:
    try:
        source = files.read_text(path)
    except files.FileProblem as exc:
        problems.add("", f"the game day spec {exc}")
        return None
    return parse_gameday(source, path, problems, check_experiments=check_experiments, check_files=check_files)


def parse_gameday(
    source: str, path: Path, problems: Problems, *, check_experiments: bool = True, check_files: bool = True
) -> GameDay | None:
    """Parse spec text as if read from `path`, adding every problem to `problems`; the GameDay or None."""
    data = _parse_yaml(source, problems)
    if data is None:
        return None
    root = Node(data, "", problems)
    children = root.mapping(TOP_KEYS)
    if children is None:
        return None
    parsed = _sections(root, children, path)
    metric_sources.check(parsed, problems)
    base_dir = validate.base_dir(path, parsed["files"]) if check_files else str(path.parent)
    context = validate.Context(problems, Path(base_dir), check_experiments, check_files)
    validate.check(context, parsed)
    return None if problems.items else _assemble(parsed, path, base_dir, data)


def _parse_yaml(source: str, problems: Problems) -> Any:
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        problems.add("", f"cannot parse YAML: {' '.join(str(exc).split())}")
        return None
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        # PyYAML's constructors raise plain errors for values like `2020-99-99`.
        problems.add("", f"cannot parse YAML: {exc}")
        return None
    if not isinstance(data, dict):
        problems.add("", f"expected a mapping with name, target, load, slos..., got {type(data).__name__}")
        return None
    return data


def _sections(root: Node, children: dict[str, Node], path: Path) -> dict[str, Any]:
    load, load_node = _load_spec(child(children, "load", root, required=True))
    chaos = _chaos(child(children, "chaos", root))
    parsed: dict[str, Any] = {
        "name": text(child(children, "name", root), default=path.stem),
        "description": text(child(children, "description", root), default="") or "",
        "target": _target(child(children, "target", root)),
        "load": load,
        "load_node": load_node,
        "chaos": chaos,
        "warmup": _duration(child(children, "warmup", root), 0.0),
        "slos": _slos(child(children, "slos", root, required=True), bool(chaos)),
        "guardrails": _guardrails(child(children, "guardrails", root)),
        "metrics": metric_sources.parse_sources(child(children, "metrics", root), _target_kind(children)),
    }
    parsed["files"] = [p for p in [load and load.profile, *(c.experiment for _, c in chaos)] if p]
    return parsed


def _target_kind(children: dict[str, Node]) -> str | None:
    node = children.get("target")
    value = node.value if node is not None else None
    kind = value.get("kind", "local") if isinstance(value, dict) else "local" if value is None else None
    return kind if isinstance(kind, str) else None


def _duration(node: Node | None, default: float | None) -> float | None:
    if node is None:
        return default
    return node.convert(parse_duration)


def _target(node: Node | None) -> LocalTarget | HttpTarget | KubernetesTarget | None:
    if node is None:
        return LocalTarget()
    kind = node.value.get("kind", "local") if isinstance(node.value, dict) else None
    if not isinstance(kind, str) or kind not in TARGET_KEYS:
        if kind is not None:
            node.problems.add(
                node.child_path("kind"), f"unknown target kind {kind!r}; expected local, http or kubernetes"
            )
        else:
            node.mapping(())
        return None
    children = node.mapping(TARGET_KEYS[kind])
    if children is None:
        return None
    return {"local": _local, "http": _http, "kubernetes": _kubernetes}[kind](node, children)


def _local(node: Node, children: dict[str, Node]) -> LocalTarget:
    from stack.config import DEFECTS

    defects_node = child(children, "defects", node)
    defects = strings(defects_node)
    for i, defect in enumerate(defects):
        if defect not in DEFECTS:
            node.problems.add(
                f"{node.path}.defects[{i}]", f"unknown defect {defect!r}; expected one of {', '.join(DEFECTS)}"
            )
    return LocalTarget(text(child(children, "stack", node), "default"), defects)


def _http(node: Node, children: dict[str, Node]) -> HttpTarget | None:
    url_node = child(children, "base_url", node, required=True)
    url = text(url_node)
    if url_node is None or url is None:
        return None
    if not url.startswith(("http://", "https://")):
        url_node.fail(f"expected an http:// or https:// URL, got {url!r}")
    elif problem := url_problem(url, "base_url"):
        url_node.fail(problem)  # refused before the run sends anything (harness.allowlist)
    return HttpTarget(url.rstrip("/"))


def _kubernetes(node: Node, children: dict[str, Node]) -> KubernetesTarget | None:
    context = text(child(children, "context", node, required=True))
    namespace_node = child(children, "namespace", node, required=True)
    namespace = text(namespace_node)
    allowed = strings(child(children, "allowed_namespaces", node, required=True))
    if namespace_node is not None and namespace and allowed and namespace not in allowed:
        namespace_node.fail(f"namespace {namespace!r} is not in allowed_namespaces {list(allowed)}")
    image = text(child(children, "image", node), KubernetesTarget.image)
    url_node = child(children, "gateway_url", node)
    gateway_url = text(url_node)
    if url_node is not None and gateway_url and not gateway_url.startswith(("http://", "https://")):
        url_node.fail(f"expected an http:// or https:// URL, got {gateway_url!r}")
    resources = _worker_resources(child(children, "worker_resources", node))
    if context and namespace and allowed:
        return KubernetesTarget(
            context, namespace, allowed, image, gateway_url and gateway_url.rstrip("/"), worker_resources=resources
        )
    return None


# Kubernetes quantities as a pod's requests take them (a subset: plain numbers and the usual suffixes)
RESOURCE_FORMS = {
    "cpu": (re.compile(r"^\d+(\.\d+)?m?$"), "cores like 0.5 or millicores like 250m"),
    "memory": (re.compile(r"^\d+(Ki|Mi|Gi)$"), "a size like 384Mi or 1Gi"),
}


def _worker_resources(node: Node | None) -> MappingProxyType:
    if node is None:
        return MappingProxyType({})
    children = node.mapping(tuple(RESOURCE_FORMS))
    if children is None:
        return MappingProxyType({})
    out = {}
    for key, item in children.items():
        value = str(item.value)
        pattern, form = RESOURCE_FORMS[key]
        if not pattern.match(value):
            item.fail(f"expected {form}, got {item.value!r}")
        else:
            out[key] = value
    return MappingProxyType(out)


def _load_spec(node: Node | None) -> tuple[LoadSpec | None, Node | None]:
    if node is None:
        return None, None
    children = node.mapping(LOAD_KEYS)
    if children is None:
        return None, node
    profile = text(child(children, "profile", node, required=True))
    shape_node = child(children, "shape", node)
    shape: str | None = text(shape_node, "constant_rate")
    if shape not in SHAPE_PARAMS:
        (shape_node or node).fail(f"unknown shape {shape!r}; expected one of {', '.join(SHAPE_PARAMS)}")
        shape = None
    duration = _duration(child(children, "duration", node, required=True), None)
    if duration == 0:
        children["duration"].fail("must be longer than 0s")
    params = _params(node, children, shape)
    processes = _processes(child(children, "processes", node))
    options = _options(child(children, "options", node))
    sink = _sink(child(children, "sink", node))
    where_node = child(children, "where", node)
    where = text(where_node, "local")
    if where not in LOAD_WHERE:
        (where_node or node).fail(f"unknown load.where {where!r}; expected local or cluster")
    workers = _processes(child(children, "workers", node))
    header_node = child(children, "variant_header", node)
    header = text(header_node)
    if header_node is not None and header is not None and not _HEADER.match(header):
        header_node.fail(f"{header!r} is not an HTTP header name (letters, digits and -)")
        header = None
    if profile is None:
        return None, node
    # Built even when other fields had problems (already reported), so the checks
    # that need the profile still run in this pass; the GameDay is not assembled.
    return LoadSpec(
        profile,
        shape or "",
        duration or 0.0,
        MappingProxyType(params or {}),
        processes,
        options,
        sink,
        where if where in LOAD_WHERE else "local",
        workers,
        header,
    ), node


def _params(node: Node, children: dict[str, Node], shape: str | None) -> dict[str, float] | None:
    required = SHAPE_PARAMS.get(shape, ()) if shape is not None else ()
    params: dict[str, float] = {}
    ok = True
    for name in ALL_PARAMS:
        param = child(children, name, node, required=name in required)
        if param is None:
            ok = ok and name not in required
            continue
        if shape is not None and name not in required and name not in shape_table.OPTIONAL:
            param.fail(f"{name!r} does not apply to shape {shape!r}, which takes {', '.join(required)}")
        value = _duration(param, None) if name in shape_table.DURATION_KEYS else number(param)
        if value is None:
            ok = False
        else:
            params[name] = value
    return params if ok else None


def _processes(node: Node | None) -> int | None:
    if node is None:
        return None
    if isinstance(node.value, bool) or not isinstance(node.value, int) or node.value < 1:
        node.fail(f"expected a whole number >= 1, got {node.value!r}")
        return None
    return node.value


def _options(node: Node | None) -> MappingProxyType:
    if node is None:
        return MappingProxyType({})
    if not isinstance(node.value, dict):
        node.fail(f"expected a mapping of profile options, got {node.value!r}")
        return MappingProxyType({})
    for key, value in node.value.items():
        if not isinstance(value, (str, int, float, bool)):
            node.problems.add(node.child_path(str(key)), f"expected a string, number or boolean, got {value!r}")
    return MappingProxyType({str(k): v for k, v in node.value.items()})


def _sink(node: Node | None) -> SinkSpec | None:
    if node is None:
        return None
    if not isinstance(node.value, dict):
        node.fail(f"expected a mapping such as {{kind: kafka, topic: scores}}, got {node.value!r}")
        return None
    kind = node.value.get("kind")
    if not isinstance(kind, str) or kind not in SINK_REQUIRED:
        node.problems.add(
            node.child_path("kind"), f"unknown sink kind {kind!r}; expected kafka, http, callable or amqp"
        )
        return None
    for key in SINK_REQUIRED[kind]:
        if not isinstance(node.value.get(key), str):
            node.problems.add(node.child_path(key), f"is required for a {kind} sink")
    if kind == "amqp" and sum(isinstance(node.value.get(key), str) for key in ("exchange", "queue")) != 1:
        node.fail(
            "an amqp sink needs exactly one of exchange (the pipeline's output exchange) or queue (a stream queue)"
        )
    options = {str(k): v for k, v in node.value.items() if k != "kind"}
    return SinkSpec(kind, MappingProxyType(options))


def _chaos(node: Node | None) -> list[tuple[str, ChaosBlock]]:
    if node is None:
        return []
    nodes = node.items() if isinstance(node.value, list) else [node]
    blocks = []
    for item in nodes:
        children = item.mapping(("experiment", "start_after"))
        if children is None:
            continue
        experiment = text(child(children, "experiment", item, required=True))
        start_after = _duration(child(children, "start_after", item, required=True), None)
        if experiment and start_after is not None:
            blocks.append((item.path, ChaosBlock(experiment, start_after)))
    return blocks


def _slos(node: Node | None, has_chaos: bool) -> list[tuple[str, Slo]]:
    if node is None:
        return []
    if node.value == []:
        # a game day that judges nothing would exit 0 whatever happened to the target
        node.fail("needs at least one SLO: a game day without SLOs judges nothing and would always pass")
        return []
    slos = []
    for item in node.items():
        slo = _slo(item, has_chaos)
        if slo is not None:
            slos.append((item.path, slo))
    return slos


def _slo(item: Node, has_chaos: bool) -> Slo | None:
    children = item.mapping(SLO_KEYS)
    if children is None:
        return None
    compare_node = child(children, "compare", item)
    objective_node = child(children, "objective", item, required=True)
    measure, objective = None, None
    if compare_node is not None and objective_node is not None:
        measure, objective = objective_node.convert(parse_comparison) or (None, None)
    elif objective_node is not None:
        objective = objective_node.convert(parse_objective)
    sli = _sli_name(item, children, objective)
    within = _within(item, children, sli)
    phase = _phase(item, children, sli, has_chaos, within is not None)
    endpoint = text(child(children, "endpoint", item))
    apdex_t = _apdex_t(item, children, sli)
    if sli and endpoint and not catalogue.per_endpoint(sli):
        children["endpoint"].fail(f"{sli!r} is measured for the whole run, not per endpoint; remove 'endpoint'")
    kind = catalogue.kind_of(sli) if sli else None
    if kind and objective and objective_node is not None:
        problem = comparison_problem(measure, objective, kind) if measure else unit_problem(objective, kind)
        if problem:
            objective_node.fail(problem)
    count_limited = _count_rate_limited(child(children, "count_rate_limited", item), sli)
    variant = _variant(item, children, sli)
    compare = _compare(compare_node, sli, measure, variant is not None)
    agg = _agg(item, children, sli, within is not None)
    source = text(child(children, "source", item))
    if source is not None and sli and not catalogue.is_metric(sli):
        children["source"].fail("source applies only to metric SLIs (metric:<name>)")
    if sli is None or phase is None or objective is None:
        return None
    if (
        (catalogue.base_name(sli) == "apdex" and apdex_t is None)
        or (compare_node is not None and compare is None)
        or (catalogue.is_metric(sli) and agg is None and within is None)
    ):
        return None
    return Slo(sli, phase, objective, endpoint, apdex_t, count_limited, variant, compare, agg, within, source)


def _variant(item: Node, children: dict[str, Node], sli: str | None) -> str | None:
    node = child(children, "variant", item)
    variant = text(node)
    if node is not None and variant is not None and sli is not None and not catalogue.per_endpoint(sli):
        node.fail(
            f"{sli!r} is not measured per variant (only request SLIs are: latency, availability, "
            "error_rate, correctness, ...)"
        )
        return None
    return variant


def _compare(node: Node | None, sli: str | None, measure: str | None, has_variant: bool) -> Compare | None:
    if node is None:
        return None
    children = node.mapping(("variant", "against"))
    if children is None:
        return None
    variant = text(child(children, "variant", node, required=True))
    against = text(child(children, "against", node, required=True))
    if has_variant:
        node.fail("give either variant (an SLO on one variant) or compare (one variant against another), not both")
        return None
    if sli is not None and not catalogue.comparable(sli):
        node.fail(
            f"{sli!r} cannot be compared between variants; compare latency.*, availability, error_rate, "
            "rate_limited, correctness or apdex (SLIs judged one second at a time)"
        )
        return None
    if variant is not None and variant == against:
        node.problems.add(node.child_path("against"), f"compares {variant!r} with itself")
        return None
    if variant is None or against is None or measure is None:
        return None
    return Compare(variant, against, measure)


def _within(item: Node, children: dict[str, Node], sli: str | None) -> float | None:
    node = child(children, "within", item)
    if node is None:
        return None
    if sli is not None and not catalogue.is_metric(sli):
        node.fail(
            "within applies only to metric SLIs (metric:<name>): how soon after the fault's removal the "
            "metric must meet the objective; for requests use recovery_time"
        )
        return None
    value = _duration(node, None)
    if value == 0:
        node.fail("must be longer than 0s")
        return None
    return value


def _agg(item: Node, children: dict[str, Node], sli: str | None, has_within: bool) -> str | None:
    node = child(children, "agg", item)
    agg = text(node)
    if sli is None or not catalogue.is_metric(sli):
        if node is not None:
            node.fail(
                "agg applies only to metric SLIs (metric:<name>); request SLIs name their statistic, e.g. latency.p99"
            )
        return None
    if has_within:
        if node is not None:
            node.fail("a metric SLO with within judges every second after the fault's removal; remove agg")
        return None
    if agg is None:
        item.problems.add(
            item.child_path("agg"),
            f"is required for a metric SLI: how the phase's samples become "
            f"one number ({', '.join(catalogue.METRIC_AGGS)} or pN)",
        )
        return None
    problem = catalogue.metric_agg_problem(agg)
    if problem and node is not None:
        node.fail(problem)
        return None
    return agg


def _count_rate_limited(node: Node | None, sli: str | None) -> bool:
    """Whether availability counts a 429 as a failed attempt (the default) or leaves it out."""
    if node is None:
        return True
    if not isinstance(node.value, bool):
        node.fail(f"expected true or false, got {node.value!r}")
        return True
    if sli is not None and sli != "availability":
        node.fail(f"count_rate_limited applies only to availability, not {sli!r}")
    return node.value


def _sli_name(item: Node, children: dict[str, Node], objective: Objective | None) -> str | None:
    sli_node = child(children, "sli", item)
    implied = objective.implied_sli if objective else None
    if sli_node is None:
        if implied:
            return implied
        item.problems.add(item.child_path("sli"), "is required (or write the objective as 'p(99) < 300ms')")
        return None
    sli = text(sli_node)
    if sli is None:
        return None
    if catalogue.kind_of(sli) is None:
        sli_node.fail(f"unknown SLI {sli!r}; expected one of {catalogue.known_names()}")
        return None
    if objective is not None and implied and catalogue.base_name(sli) == "latency" and implied != sli:
        children["objective"].fail(f"{objective.text!r} implies {implied!r} but sli is {sli!r}")
        return None
    return sli


def _phase(item: Node, children: dict[str, Node], sli: str | None, has_chaos: bool, within: bool = False) -> str | None:
    default = "recovery" if sli == "recovery_time" or within else "run"
    phase_node = child(children, "phase", item)
    phase = text(phase_node, default)
    if phase not in PHASES:
        hint = "; warmup is left out of every SLI" if phase == "warmup" else ""
        (phase_node or item).fail(f"unknown phase {phase!r}; expected one of {', '.join(PHASES)}{hint}")
        return None
    if phase in ("fault", "recovery") and not has_chaos:
        (phase_node or item).fail(f"phase {phase!r} needs a chaos experiment, and this game day has none")
    if sli == "recovery_time" and phase != "recovery":
        (phase_node or item).fail(f"recovery_time is measured after the fault; use phase 'recovery', not {phase!r}")
    if within and phase != "recovery":
        (phase_node or item).fail(f"within counts from the fault's removal; use phase 'recovery', not {phase!r}")
    return phase


def _apdex_t(item: Node, children: dict[str, Node], sli: str | None) -> float | None:
    t_node = child(children, "T", item)
    t_value = _duration(t_node, None)
    if sli is None or catalogue.base_name(sli) != "apdex":
        if t_node is not None:
            t_node.fail("T applies only to the apdex SLI")
        return None
    try:
        in_name = catalogue.apdex_t(sli)
    except ValueError as exc:
        children["sli"].fail(str(exc))
        return None
    if t_node is not None and in_name is not None and t_value is not None and in_name != t_value:
        t_node.fail(f"T {t_node.value!r} contradicts {sli!r}")
    if in_name is None and t_value is None and t_node is None:
        item.problems.add(item.child_path("T"), "apdex needs a T: write 'apdex(0.3s)' or add 'T: 0.3s'")
    return in_name if in_name is not None else t_value


def _guardrails(node: Node | None) -> list[tuple[str, Guardrail]]:
    if node is None:
        return []
    guardrails = []
    for item in node.items():
        children = item.mapping(("sli", "window", "abort_if", "endpoint"))
        if children is None:
            continue
        sli_node = child(children, "sli", item, required=True)
        sli = text(sli_node)
        if sli_node is not None and sli and not (catalogue.kind_of(sli) and catalogue.per_second(sli)):
            sli_node.fail(f"{sli!r} cannot be watched live; use error_rate, availability, throughput or latency.pN")
            sli = None
        window = _duration(child(children, "window", item, required=True), None)
        abort_node = child(children, "abort_if", item, required=True)
        abort_if = abort_node.convert(parse_objective) if abort_node else None
        kind = catalogue.kind_of(sli) if sli else None
        problem = unit_problem(abort_if, kind) if kind and abort_if else None
        if abort_node is not None and problem:
            abort_node.fail(problem)
        endpoint = text(child(children, "endpoint", item))
        if sli and window and abort_if:
            guardrails.append((item.path, Guardrail(sli, window, abort_if, endpoint)))
    return guardrails


def _assemble(parsed: dict[str, Any], path: Path, base_dir: str, raw: dict) -> GameDay:
    return GameDay(
        name=parsed["name"],
        path=str(path),
        target=parsed["target"],
        load=parsed["load"],
        chaos=tuple(c for _, c in parsed["chaos"]),
        warmup=parsed["warmup"],
        slos=tuple(s for _, s in parsed["slos"]),
        guardrails=tuple(g for _, g in parsed["guardrails"]),
        metrics=tuple(m for _, m in parsed["metrics"]),
        description=parsed["description"],
        base_dir=base_dir,
        raw=MappingProxyType(raw),
    )
