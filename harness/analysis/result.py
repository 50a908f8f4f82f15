"""The analysis of a run directory, and the versioned `result.json` document built from it.

    analyse(run_dir, gameday=None) -> Analysis     pure function of the directory's files
    result_document(analysis) -> ResultDoc         JSON-ready; fields in docs/result-json.md
    exit_code(analysis) -> ExitCode                harness.status.ExitCode

The game day is read from the run directory's `gameday.yaml` when not given. The
versions are those the orchestrator recorded in `run-start` detail `versions`,
else the ones installed now (the only input not from the directory).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pandas as pd

from harness.analysis import status as run_status
from harness.analysis.canary import judge_comparison
from harness.analysis.degradation import Degradation, degradation
from harness.analysis.experiment_checks import ExperimentCheck, experiment_checks
from harness.analysis.metric_slis import MetricData, judge_metric, read_metrics, recovery_rules
from harness.analysis.metric_slis import summary as metric_summary
from harness.analysis.phases import Fault, Phases, Window, faults, phases
from harness.analysis.recovery import NO_IMPACT, Recovery, criteria, recoveries
from harness.analysis.rundir import Ledger, read_events, read_ledger, read_samples
from harness.analysis.slis import DEFAULT_PERCENTILES, PhaseSlis, Request, latencies, per_second, phase_slis
from harness.analysis.variants import VariantSlis, judge_variant, variant_slis
from harness.analysis.verdicts import Verdict, judge
from harness.spec import catalogue
from harness.spec.loader import load_gameday
from harness.spec.models import GameDay, Slo
from harness.status import ExitCode

RESULT_VERSION = 1
RESULT_FILE = "result.json"
PACKAGES = {
    "harness": "gameday",
    "locust": "locust",
    "chaostoolkit": "chaostoolkit",
    "chaostoolkit-lib": "chaostoolkit-lib",
}


@dataclass(frozen=True)
class Analysis:
    """Everything the reports need, computed once from a run directory."""

    run_dir: str
    gameday: GameDay | None
    events: tuple[dict, ...]
    status: str
    phases: Phases
    slis: dict[str, PhaseSlis]
    per_second: pd.DataFrame
    verdicts: tuple[Verdict, ...]
    recoveries: tuple[Recovery, ...]
    degradation: tuple[Degradation, ...]
    ledger: Ledger
    variants: dict[str, VariantSlis] = field(default_factory=dict)  # by variant, when the load recorded them
    metrics: MetricData = field(default_factory=lambda: MetricData({}, {}))
    experiments: tuple[ExperimentCheck, ...] = ()  # each chaos block's experiment, judged

    @property
    def states(self) -> list[str]:
        """Every verdict's state, then every experiment's: an experiment that did not do what it was
        written to do fails the run as a failed SLO does (harness.analysis.experiment_checks)."""
        return [v.state for v in self.verdicts] + [c.state for c in self.experiments]


def analyse(run_dir: str | Path, gameday: GameDay | None = None, allow_generator_bound: bool | None = None) -> Analysis:
    """The Analysis of `run_dir`; `gameday` defaults to the directory's gameday.yaml (None if absent).

    `allow_generator_bound` None means what the run recorded (`gameday run --allow-generator-bound`).
    """
    run_dir = Path(run_dir)
    gameday = gameday or _stored_gameday(run_dir)
    events = read_events(run_dir)
    if allow_generator_bound is None:
        allow_generator_bound = recorded_allow_generator_bound(events)
    warmup = gameday.warmup if gameday else 0.0
    windows = phases(events, warmup=warmup)
    request = _request(gameday)
    samples, ledger = read_samples(run_dir), read_ledger(run_dir)
    tables = latencies(samples, windows, request)  # one pass over the histograms serves both
    table = phase_slis(samples, ledger, windows, request, tables)
    seconds = per_second(samples, request, tables)
    slos = gameday.slos if gameday else ()
    variants = variant_slis(samples, windows, request)
    metrics = read_metrics(run_dir, gameday)
    injected = faults(events, warmup)
    metric_rules, metric_seconds = recovery_rules(slos, metrics)
    found = recoveries(
        pd.concat([seconds, metric_seconds], ignore_index=True) if metric_rules else seconds,
        injected,
        (*criteria(slos, table.get("baseline")), *metric_rules),
        ledger,
    )
    judged = _judged(slos, table, variants, metrics, injected)
    return Analysis(
        str(run_dir),
        gameday,
        tuple(events),
        run_status.run_status(events),
        windows,
        table,
        seconds,
        tuple(judge(slos, table, found, allow_generator_bound, judged)),
        tuple(found),
        tuple(degradation(seconds, windows["baseline"], windows["fault"])),
        ledger,
        variants,
        metrics,
        experiment_checks(events),
    )


def _judged(
    slos: Sequence[Slo],
    table: dict[str, PhaseSlis],
    variants: dict[str, VariantSlis],
    metrics: MetricData,
    injected: Sequence[Fault],
) -> dict[int, Verdict]:
    """The verdicts of SLOs on a variant, comparing variants, or on the target's metrics, by SLO index."""
    out = {}
    for i, slo in enumerate(slos):
        if slo.is_metric:
            out[i] = judge_metric(slo, metrics, table, injected)
        elif slo.compare is not None:
            out[i] = judge_comparison(slo, variants, table)
        elif slo.variant is not None:
            out[i] = judge_variant(slo, variants)
    return out


def recorded_allow_generator_bound(events: Sequence[dict]) -> bool:
    """Whether the run was started with --allow-generator-bound (its run-start detail says so)."""
    for event in events:
        if event.get("source") == "harness" and event.get("kind") == "run-start":
            return bool((event.get("detail") or {}).get("allow_generator_bound"))
    return False


def _stored_gameday(run_dir: Path) -> GameDay | None:
    path = run_dir / "gameday.yaml"
    return load_gameday(path, check_files=False) if path.exists() else None


def _request(gameday: GameDay | None) -> Request:
    """Default percentiles plus any the SLOs name; the SLOs' apdex Ts."""
    wanted = set(DEFAULT_PERCENTILES)
    for slo in gameday.slos if gameday else ():
        found = catalogue.percentile_of(slo.sli)
        if found:
            wanted.add(found[1])
    return Request(tuple(sorted(wanted)), gameday.apdex_ts if gameday else ())


def exit_code(analysis: Analysis) -> ExitCode:
    """0 pass, 1 an SLO failed or had no data or an experiment did not run as written, 3 aborted/interrupted,
    4 target or harness failed."""
    return run_status.exit_code(analysis.status, analysis.states)


# ---- the document ---------------------------------------------------------------


class VerdictDoc(TypedDict):
    slo: str
    sli: str
    phase: str
    endpoint: str | None
    objective: str
    state: str
    observed: float | None
    observed_text: str
    reason: str
    meaning: str
    evidence: dict[str, Any]
    variant: NotRequired[str]  # an SLO on one variant
    compare: NotRequired[dict[str, Any]]  # a comparison SLO: the variants, the measure, the test's figures
    metric: NotRequired[dict[str, Any]]  # an SLO on the target's metrics: source, agg, within, what was read


class ResultDoc(TypedDict):
    version: int
    gameday: dict[str, Any]
    run: dict[str, Any]
    versions: dict[str, str | None]
    phases: dict[str, Any]
    slis: dict[str, dict[str, dict[str, float | int | None]]]
    verdicts: list[VerdictDoc]
    recovery: list[dict[str, Any]]
    degradation: list[Degradation]
    ledger: dict[str, int]
    variants: dict[str, Any]
    metrics: dict[str, Any]
    experiment_checks: list[dict[str, Any]]
    exit_code: int


def result_document(analysis: Analysis) -> ResultDoc:
    """The JSON-ready result (docs/result-json.md); NaN and infinity never appear in it."""
    return ResultDoc(
        version=RESULT_VERSION,
        gameday=_gameday_doc(analysis.gameday),
        run=_run_doc(analysis),
        versions=versions(analysis.events),
        phases={name: _phase_doc(windows, analysis.slis.get(name)) for name, windows in analysis.phases.items()},
        slis={name: _clean(table.endpoints) for name, table in analysis.slis.items()},
        verdicts=[_verdict_doc(v) for v in analysis.verdicts],
        recovery=[_recovery_doc(r) for r in analysis.recoveries],
        degradation=_clean(list(analysis.degradation)),
        ledger=_ledger_doc(analysis.ledger),
        variants=_variants_doc(analysis),
        metrics=_metrics_doc(analysis),
        experiment_checks=[asdict(c) for c in analysis.experiments],
        exit_code=exit_code(analysis),
    )


def versions(events: tuple[dict, ...] = ()) -> dict[str, str | None]:
    """Versions recorded at run start, else the installed ones (None if not installed)."""
    for event in events:
        if event.get("kind") == "run-start" and isinstance((event.get("detail") or {}).get("versions"), dict):
            return dict(event["detail"]["versions"])
    out: dict[str, str | None] = {}
    for key, package in PACKAGES.items():
        try:
            out[key] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[key] = None
    return out


def _gameday_doc(gameday: GameDay | None) -> dict[str, Any]:
    if gameday is None:
        return {"name": None, "path": None, "description": "", "target": None}
    target = {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(gameday.target).items()}
    return {
        "name": gameday.name,
        "path": gameday.path,
        "description": gameday.description,
        "target": target,
        "experiments": [c.experiment for c in gameday.chaos],
        "profile": gameday.load.profile,
    }


def _run_doc(analysis: Analysis) -> dict[str, Any]:
    events = analysis.events
    run = analysis.phases.get("run") or ()
    load_start = (analysis.phases.get("warmup") or run or (None,))[0]
    return {
        "dir": analysis.run_dir,
        "status": analysis.status,
        "outcome": run_status.outcome(analysis.status, analysis.states),
        "started": events[0]["ts"] if events else None,
        "ended": events[-1]["ts"] if events else None,
        "load": {"start": load_start.start if load_start else None, "end": run[-1].end if run else None},
        "aborts": [
            {"ts": e["ts"], "source": e.get("source"), "name": e.get("name"), "detail": e.get("detail")}
            for e in events
            if e.get("kind") == "abort"
        ],
    }


def _phase_doc(windows: tuple[Window, ...], table: PhaseSlis | None) -> dict[str, Any]:
    return {
        "windows": [[w.start, w.end] for w in windows],
        "seconds": table.seconds if table else 0,
        "generator_bound_seconds": table.generator_bound_seconds if table else 0,
        "generator_bound": table.generator_bound if table else False,
    }


def _verdict_doc(verdict: Verdict) -> VerdictDoc:
    observed = verdict.observed
    never = observed is not None and math.isinf(observed)
    evidence = verdict.evidence
    slo = verdict.slo
    doc = VerdictDoc(
        slo=slo.label,
        sli=slo.sli,
        phase=slo.phase,
        endpoint=slo.endpoint,
        objective=slo.objective.text,
        state=verdict.state,
        observed=None if (observed is None or never) else observed,
        observed_text="no impact observed" if verdict.note == NO_IMPACT else _observed_text(verdict),
        reason=verdict.reason,
        meaning=_meaning(verdict),
        evidence={
            "start": evidence.start,
            "end": evidence.end,
            "windows": [[w.start, w.end] for w in evidence.windows],
            "seconds": evidence.seconds,
            "samples": evidence.samples,
            "generator_bound_seconds": evidence.generator_bound_seconds,
            "generator_bound": evidence.generator_bound,
        },
    )
    if slo.variant is not None:
        doc["variant"] = slo.variant
    if slo.compare is not None:
        doc["compare"] = _clean(
            dict(
                verdict.detail
                or {
                    "variant": slo.compare.variant,
                    "against": slo.compare.against,
                    "measure": slo.compare.measure,
                }
            )
        )
    if slo.is_metric:
        doc["metric"] = _clean(
            {
                "source": slo.source,
                "agg": slo.agg,
                "within": slo.within,
                **(verdict.detail or {}),
            }
        )
    return doc


def _observed_text(verdict: Verdict) -> str:
    """_show, or for a comparison 'ratio 1.31 (canary 62.0ms vs stable 47.3ms)' and for within seconds."""
    slo, observed = verdict.slo, verdict.observed
    if slo.within is not None and observed is not None:
        return "never" if math.isinf(observed) else f"{observed:.1f}s"
    if slo.compare is None or observed is None:
        return _show(slo.sli, observed)
    detail = verdict.detail or {}
    value = (
        "infinite"
        if math.isinf(observed)
        else (f"{observed:.3g}" if slo.compare.measure == "ratio" else _show(slo.sli, observed))
    )
    return (
        f"{slo.compare.measure} {value} ({slo.compare.variant} {_show(slo.sli, detail.get('variant_value'))} "
        f"vs {slo.compare.against} {_show(slo.sli, detail.get('against_value'))})"
    )


def _meaning(verdict: Verdict) -> str:
    """What the observed number is, where an SLI has more than one reading."""
    slo = verdict.slo
    if slo.sli == "availability":
        return (
            "ok / (ok + error)  (429s left out)"
            if not slo.count_rate_limited
            else "ok / (ok + error + rate_limited)  (every attempt)"
        )
    if slo.sli == "recovery_time":
        return "no-impact" if verdict.note == NO_IMPACT else "from the fault's removal to 5 healthy seconds"
    return ""


def _show(sli: str, value: float | None) -> str:
    """A human form of an observed value: '142.0ms', '99.95%', 'never', 'no data'."""
    if value is None:
        return "no data"
    if math.isinf(value):
        return "never"
    kind = catalogue.kind_of(sli)
    if sli == "recovery_time":
        return f"{value:.1f}s"
    if kind == "time":
        return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"
    if kind == "ratio":
        return f"{value * 100:.2f}%"
    if kind == "rate":
        return f"{value:.1f}/s"
    return f"{value:g}"


def _recovery_doc(recovery: Recovery) -> dict[str, Any]:
    impact = recovery.impact
    return {
        "fault": [recovery.fault.start, recovery.fault.end],
        "removal": recovery.removal,
        # no impact: nothing to recover from, so no time either (not a 0.0 that reads as a recovery)
        "outcome": recovery.outcome,
        "seconds": None if recovery.outcome == NO_IMPACT else recovery.seconds,
        "never": recovery.seconds is None,
        "proof": [recovery.proof.start, recovery.proof.end] if recovery.proof else None,
        "impact": {
            "observed": impact.observed,
            "first_bad": impact.first_bad,
            "time_to_detect": impact.time_to_detect,
            "bad_seconds": impact.bad_seconds,
            "worst": [
                {"sli": w.criterion.sli, "endpoint": w.criterion.endpoint, "value": _clean(w.value)}
                for w in impact.worst
            ],
        },
        "criteria": [
            {"sli": c.sli, "endpoint": c.endpoint, "objective": c.objective.text, "source": c.source}
            for c in recovery.criteria
        ],
    }


def _variants_doc(analysis: Analysis) -> dict[str, Any]:
    """`header`, `names`, and `slis[variant][phase][endpoint][sli]` (as `slis`, for each variant's requests)."""
    gameday = analysis.gameday
    return {
        "header": gameday.load.variant_header if gameday else None,
        "names": list(analysis.variants),
        "slis": {
            name: {phase: _clean(table.endpoints) for phase, table in found.phases.items()}
            for name, found in analysis.variants.items()
        },
    }


def _metrics_doc(analysis: Analysis) -> dict[str, Any]:
    """`sources` as the spec gave them, and `series`: per (source, expression) its reads and per-phase summary."""
    sources = [
        {
            "name": s.name,
            "kind": s.kind,
            "url": s.url,
            "target": s.target,
            "interval": s.interval,
            "chart": list(s.chart),
        }
        for s in analysis.metrics.sources.values()
    ]
    return {"sources": sources, "series": _clean(metric_summary(analysis.metrics, analysis.phases))}


def _ledger_doc(ledger: Ledger) -> dict[str, int]:
    events = ledger.events
    return {
        "produced": int(len(events)),
        "delivered": int((events["deliveries"] > 0).sum()) if len(events) else 0,
        "unexpected": ledger.unexpected,
        "bad_lines": ledger.bad_lines,
    }


def _clean(value: Any) -> Any:
    """NaN and infinities become None, recursively, so the document is strict JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
