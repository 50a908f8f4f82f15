"""The `metrics:` block of a game day, and the checks that tie SLOs to metrics and variants.

    metrics:
      - {kind: scrape, target: lag-exporter, interval: 1s}       # a local stack's endpoint, by name
      - {name: app, kind: scrape, url: "http://127.0.0.1:9100/metrics", chart: [queue_depth]}
      - {name: prom, kind: prometheus, url: "http://127.0.0.1:9090", interval: 1s}

`name` defaults to the target's endpoint name, else the kind; it names the file
metrics/<name>.jsonl and is what an SLO's `source:` refers to (needed only when there is
more than one source). `target:` names a Prometheus endpoint of the local stack
(stack.config.METRICS_ENDPOINTS), whose port is known only when the run starts; other
targets give a `url`, whose host must be allowed like an http target's
(harness.allowlist). For a scrape source an SLI's expression is a selector
(harness.metrics.selector); for a prometheus source it is any PromQL expression.

`check(parsed, problems)` runs after every section parsed: source names unique, each
metric SLO resolves to a source and its expression reads, and `variant` / `compare`
only when the load records a variant (a local Locust run: the cluster's pods do not yet).
"""

from __future__ import annotations

import re
from typing import Any

from harness.allowlist import url_problem
from harness.durations import parse_duration
from harness.metrics.selector import parse_selector
from harness.spec import catalogue
from harness.spec.models import MetricSource, Slo
from harness.spec.reader import Node, Problems, child, strings, text

KINDS = ("scrape", "prometheus")
SOURCE_KEYS = ("name", "kind", "url", "target", "interval", "chart")
MIN_INTERVAL_S = 0.2
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def parse_sources(node: Node | None, target_kind: str | None) -> list[tuple[str, MetricSource]]:
    """(yaml path, MetricSource) for each entry that parsed; problems reported on their paths."""
    if node is None:
        return []
    found = []
    for item in node.items():
        source = _source(item, target_kind)
        if source is not None:
            found.append((item.path, source))
    return found


def _source(item: Node, target_kind: str | None) -> MetricSource | None:
    children = item.mapping(SOURCE_KEYS)
    if children is None:
        return None
    kind_node = child(children, "kind", item, required=True)
    kind = text(kind_node)
    if kind_node is not None and kind is not None and kind not in KINDS:
        kind_node.fail(f"unknown metrics kind {kind!r}; expected scrape or prometheus")
        kind = None
    url, target = _where(item, children, kind, target_kind)
    interval = _interval(child(children, "interval", item))
    name_node = child(children, "name", item)
    name = text(name_node, target or kind)
    if name is not None and not _NAME.match(name):
        (name_node or item).fail(f"name {name!r} must be lowercase letters, digits, - or _ (it names a file)")
        name = None
    chart = strings(child(children, "chart", item))
    if kind is None or name is None or interval is None or (url is None and target is None):
        return None
    return MetricSource(name, kind, url, target, interval, chart)


def _where(
    item: Node, children: dict[str, Node], kind: str | None, target_kind: str | None
) -> tuple[str | None, str | None]:
    """(url, target endpoint): exactly one of them, or (None, None) after reporting why."""
    url_node, target_node = child(children, "url", item), child(children, "target", item)
    url, target = text(url_node), text(target_node)
    if target_node is not None and target is not None and url is None:
        return None, _target(target_node, target, kind, target_kind)
    if url_node is None or url is None or target is not None:
        item.fail("needs exactly one of url (http://host:port/path) or target (an endpoint of the local stack)")
        return None, None
    if not url.startswith(("http://", "https://")):
        url_node.fail(f"expected an http:// or https:// URL, got {url!r}")
        return None, None
    problem = url_problem(url, "metrics url")
    if problem:
        url_node.fail(problem)
        return None, None
    return url, None


def _target(node: Node, target: str, kind: str | None, target_kind: str | None) -> str | None:
    from stack.config import METRICS_ENDPOINTS

    if kind == "prometheus":
        node.fail("a prometheus source needs the server's url, not a target endpoint")
        return None
    if target_kind not in (None, "local"):
        node.fail(f"target endpoints exist only on a local target, and this one is {target_kind!r}; give a url")
        return None
    if target not in METRICS_ENDPOINTS:
        node.fail(f"unknown endpoint {target!r}; the local stack serves metrics at {', '.join(METRICS_ENDPOINTS)}")
        return None
    return target


def _interval(node: Node | None) -> float | None:
    if node is None:
        return 1.0
    value = node.convert(parse_duration)
    if value is not None and value < MIN_INTERVAL_S:
        node.fail(f"interval {node.value!r} is shorter than {MIN_INTERVAL_S:g}s")
        return None
    return value


def check(parsed: dict[str, Any], problems: Problems) -> None:
    """The cross-section checks of the module docstring."""
    sources = {}
    for path, source in parsed["metrics"]:
        if source.name in sources:
            problems.add(f"{path}.name", f"two metrics sources are called {source.name!r}; give each a name")
        sources[source.name] = source
        for i, expression in enumerate(source.chart):
            _check_expression(problems, f"{path}.chart[{i}]", source, expression)
    load = parsed["load"]
    header = load.variant_header if load is not None else None
    if header and load.where == "cluster":
        # the cluster's Locust pods are started without it (harness.targets.k8s): every comparison would be no-data
        problems.add(
            "load.variant_header",
            "is recorded only by a Locust run here (load.where: local), not yet by the cluster's Locust pods",
        )
    for path, slo in parsed["slos"]:
        if slo.is_metric:
            _check_metric_slo(problems, path, slo, sources)
        elif (slo.variant or slo.compare) and load is not None and not header:
            key = "compare" if slo.compare else "variant"
            problems.add(
                f"{path}.{key}",
                "needs the load to record variants: add load.variant_header "
                "(the response header naming the version that answered, e.g. x-model-version)",
            )


def _check_metric_slo(problems: Problems, path: str, slo: Slo, sources: dict[str, MetricSource]) -> None:
    if slo.source is not None and slo.source not in sources:
        known = ", ".join(sources) or "none: add a metrics: block"
        problems.add(f"{path}.source", f"unknown metrics source {slo.source!r}; the game day has {known}")
        return
    if slo.source is None and len(sources) != 1:
        problems.add(
            f"{path}.sli",
            "a metric SLI needs a metrics: source"
            if not sources
            else f"there are {len(sources)} metrics sources ({', '.join(sources)}): name one in 'source'",
        )
        return
    source = sources[slo.source] if slo.source else next(iter(sources.values()))
    _check_expression(problems, f"{path}.sli", source, catalogue.metric_expression(slo.sli))


def _check_expression(problems: Problems, path: str, source: MetricSource, expression: str) -> None:
    if source.kind != "scrape":
        return  # PromQL: only the server can say (a refused query is recorded, and its SLI has no data)
    try:
        parse_selector(expression)
    except ValueError as exc:
        problems.add(path, f"{exc} (source {source.name!r} is a scrape)")
