"""The game day, as frozen dataclasses. `loader.load_gameday` builds them; nothing else should.

Every duration is in seconds and every path is as written in the spec, resolved
against the spec file's directory's parent project by the loader (see `GameDay.base_dir`).
Mappings (`params`, `options`) are read-only views: a spec is not edited after loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from harness.spec.slo_expr import Objective

PHASES = ("baseline", "fault", "recovery", "run")


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class LocalTarget:
    """The reference stack, started and stopped by the harness."""

    stack: str = "default"
    defects: tuple[str, ...] = ()
    kind: Literal["local"] = "local"


@dataclass(frozen=True)
class HttpTarget:
    """A stack someone else runs, reached at `base_url`."""

    base_url: str
    kind: Literal["http"] = "http"


@dataclass(frozen=True)
class KubernetesTarget:
    """A namespace of a cluster, reached through kubeconfig `context`; only `allowed_namespaces` are touched."""

    context: str
    namespace: str
    allowed_namespaces: tuple[str, ...]
    image: str = "gameday:0.1.0"  # the image of deploy/Dockerfile, for Locust pods
    gateway_url: str | None = None  # with load.where: local, how this machine reaches the gateway
    # with load.where: cluster, each Locust worker pod's {cpu, memory} request (memory is also its limit)
    worker_resources: Mapping[str, str] = field(default_factory=_empty)
    kind: Literal["kubernetes"] = "kubernetes"


Target = LocalTarget | HttpTarget | KubernetesTarget  # told apart by `kind` (mypy narrows on it)


@dataclass(frozen=True)
class SinkSpec:
    """Where the data-flow ledger reads produced events back: kafka | http | callable | amqp, plus its options."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=_empty)


@dataclass(frozen=True)
class LoadSpec:
    """The Locust side. `params` are the shape's numbers keyed like the `--gameday-*` options
    with underscores (`rate`, `rate_to`, `over`, `users`, ...), durations already in seconds;
    `options` are extra profile options passed through as `--<key>` flags."""

    profile: str
    shape: str
    duration: float
    params: Mapping[str, float] = field(default_factory=_empty)
    processes: int | None = None
    options: Mapping[str, Any] = field(default_factory=_empty)
    sink: SinkSpec | None = None
    where: str = "local"  # kubernetes targets: run Locust here, or in the cluster
    workers: int | None = None  # where: cluster: Locust worker pods (default 2)
    variant_header: str | None = None  # response header naming the variant that answered (canary, A/B)


@dataclass(frozen=True)
class ChaosBlock:
    """One experiment, started `start_after` seconds after the load starts."""

    experiment: str
    start_after: float


@dataclass(frozen=True)
class Compare:
    """A comparison SLO: the SLI of `variant` against that of `against`, by `measure`:
    ratio (variant / against) or difference (variant - against)."""

    variant: str
    against: str
    measure: str


@dataclass(frozen=True)
class MetricSource:
    """Where the target's own metrics come from.

    `scrape`: Prometheus text from `url` (or, on a local target, the stack endpoint named
    by `target`) every `interval` seconds during the run, into metrics/<name>.jsonl.
    `prometheus`: PromQL range queries to the server at `url` over the run's span, at
    `interval` resolution, fetched when the run ends into metrics/<name>.jsonl.
    `chart` are more expressions to draw in the report, beside those the SLOs use."""

    name: str
    kind: str
    url: str | None = None
    target: str | None = None
    interval: float = 1.0
    chart: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slo:
    """An objective on an SLI in a phase. `endpoint` None means all endpoints together.
    `apdex_t` is T in seconds for apdex SLIs (from `apdex(T)` or the SLO's `T:`).
    `variant` scopes a request SLI to the requests one variant answered; `compare` judges
    one variant against another (harness.analysis.canary). Metric SLIs (`metric:<expr>`)
    take `agg` (how a phase's samples become one number) and `source` (a MetricSource
    name), or `within`: seconds from each fault's removal by which the metric must meet
    the objective (and keep it for 5 s)."""

    sli: str
    phase: str
    objective: Objective
    endpoint: str | None = None
    apdex_t: float | None = None
    # availability only: True counts a 429 as a failed attempt (ok / all attempts);
    # False keeps ok / (ok + error) for contracts where a 429 is a correct answer
    count_rate_limited: bool = True
    variant: str | None = None
    compare: Compare | None = None
    agg: str | None = None
    within: float | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        """A stable one-line name, e.g. 'latency.p99[POST /v1/score]@baseline < 150ms',
        'latency.p99{canary vs stable}@fault ratio < 1.2', 'metric:lag max@fault < 5000'."""
        where = f"[{self.endpoint}]" if self.endpoint else ""
        if self.compare is not None:
            where += f"{{{self.compare.variant} vs {self.compare.against}}}"
        elif self.variant is not None:
            where += f"{{{self.variant}}}"
        if self.agg is not None:
            where += f" {self.agg}"
        within = f" within {self.within:g}s" if self.within is not None else ""
        return f"{self.sli}{where}@{self.phase} {self.objective.text}{within}"

    @property
    def is_metric(self) -> bool:
        return self.sli.startswith("metric:")


@dataclass(frozen=True)
class Guardrail:
    """Abort the chaos when `abort_if` holds for the live SLI over the last `window` seconds."""

    sli: str
    window: float
    abort_if: Objective
    endpoint: str | None = None


@dataclass(frozen=True)
class GameDay:
    """A loaded, validated game day. `path` is the spec file; `base_dir` is what relative paths resolve against."""

    name: str
    path: str
    target: Target
    load: LoadSpec
    chaos: tuple[ChaosBlock, ...] = ()
    warmup: float = 0.0
    slos: tuple[Slo, ...] = ()
    guardrails: tuple[Guardrail, ...] = ()
    metrics: tuple[MetricSource, ...] = ()
    description: str = ""
    base_dir: str = "."
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    def resolve(self, relative: str) -> Path:
        """A spec path (profile, experiment) as a path on disk."""
        path = Path(relative)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def apdex_ts(self) -> tuple[float, ...]:
        """Every apdex T the SLOs ask for, in seconds (the analysis computes these)."""
        return tuple(sorted({s.apdex_t for s in self.slos if s.apdex_t is not None}))
