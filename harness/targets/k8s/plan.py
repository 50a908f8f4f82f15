"""What a game day will do, as text, without touching anything (`gameday run --dry-run`).

    plan_lines(gameday, run_id) -> list[str]
    cluster_locust(gameday, cluster, host, run_dir) -> ClusterLocust   the same objects, for a real run

The dry run builds the very manifests a real run creates, so what it prints is
what would be created.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from harness.load.child import INJECT, LOAD_START_TIMEOUT_S
from harness.spec.models import GameDay, HttpTarget, KubernetesTarget, LocalTarget
from harness.targets.k8s.client import Cluster
from harness.targets.k8s.cluster_load import READY_TIMEOUT_S, ClusterLocust
from harness.targets.k8s.labels import expiry_annotation, run_id
from harness.targets.k8s.locust_objects import (
    WORKER_CPU,
    WORKER_MEMORY,
    LocustPlan,
    manifests,
)

DEFAULT_WORKERS = 2
EXPIRY_MARGIN_S = 300.0
RUN_TIME_SLACK_S = 30  # Locust's own --run-time is the shape's duration plus this
STOP_TIMEOUT_S = 5  # Locust's --stop-timeout
CLUSTER_SINK = ("kafka", {"bootstrap": "kafka:9092", "topic": "scores"})  # the stack's broker, in-cluster
SINK_DRAIN_S = 5.0  # the master's sink keeps reading this long after the test (as the orchestrator's grace)


def locust_plan(gameday: GameDay, run: str, host: str, now: float) -> LocustPlan:
    """The distributed-Locust plan of a `where: cluster` game day."""
    load, target = gameday.load, cluster_target(gameday)
    profile = gameday.resolve(load.profile)
    return LocustPlan(
        run=run,
        namespace=target.namespace,
        image=target.image,
        workers=load.workers or DEFAULT_WORKERS,
        host=host,
        profile_name=profile.name,
        profile_text=profile.read_text(encoding="utf-8"),
        inject_text=INJECT.read_text(encoding="utf-8"),
        locust_args=tuple(shape_args(gameday)),
        expires_at=now + objects_lifetime_s(load.duration),
        sink_args=tuple(sink_args(gameday)),
        worker_cpu=target.worker_resources.get("cpu", WORKER_CPU),
        worker_memory=target.worker_resources.get("memory", WORKER_MEMORY),
    )


def objects_lifetime_s(duration: float) -> float:
    """How long a run's Locust objects may exist: every wait of a run that takes its longest at each step
    (a run deletes them at its end; the expiry is for `gameday cleanup --kubernetes` after a kill -9).
    """
    return (
        2 * READY_TIMEOUT_S  # the master, then the workers, ready
        + LOAD_START_TIMEOUT_S  # the master starts its test
        + duration
        + RUN_TIME_SLACK_S  # Locust's --run-time
        + STOP_TIMEOUT_S
        + SINK_DRAIN_S  # its stop, then the sink's drain
        + EXPIRY_MARGIN_S
    )


def sink_args(gameday: GameDay) -> list[str]:
    """The master's `--gameday-sink*` flags: the data-flow sink reader runs beside it in the cluster
    (it writes ledger/consumed.jsonl into the master's run directory, copied back with the samples).

    `load.sink` from the spec, else the stack's `scores` topic on kafka:9092 (in-cluster DNS).
    """
    spec = gameday.load.sink
    kind, options = (CLUSTER_SINK[0], dict(CLUSTER_SINK[1])) if spec is None else (spec.kind, dict(spec.options))
    if kind == "kafka":
        options.setdefault("bootstrap", CLUSTER_SINK[1]["bootstrap"])
    args = ["--gameday-sink", kind]
    for key, value in options.items():
        args += [f"--gameday-sink-{key.replace('_', '-')}", str(value)]
    return args + ["--gameday-sink-drain", f"{SINK_DRAIN_S:g}"]


def shape_args(gameday: GameDay) -> list[str]:
    """The --gameday-* shape flags and profile options, as for a local Locust (no paths, no --processes)."""
    load = gameday.load
    args = [
        "--gameday-shape",
        load.shape,
        "--gameday-duration",
        f"{load.duration:g}",
        "--run-time",
        f"{int(load.duration) + RUN_TIME_SLACK_S}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--only-summary",
    ]
    for key, value in load.params.items():
        args += [f"--gameday-{key.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    for key, value in load.options.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def cluster_target(gameday: GameDay) -> KubernetesTarget:
    """The target of a `where: cluster` game day."""
    target = gameday.target
    assert isinstance(target, KubernetesTarget), "the spec loader refuses load.where: cluster on any other target"
    return target


def cluster_locust(gameday: GameDay, cluster: Cluster, host: str, run_dir: Path) -> ClusterLocust:
    """The ClusterLocust driver of a run against `cluster` (a started KubernetesRun's), sending to `host`."""
    plan = locust_plan(gameday, run_id(Path(run_dir).name), host, time.time())
    return ClusterLocust(cluster, plan, run_dir)


def plan_lines(gameday: GameDay, run: str, now: float) -> list[str]:
    """Every line of the dry-run plan: target, load, objects, experiments, SLOs, guardrails."""
    lines = [f"game day '{gameday.name}' ({gameday.path}): dry run, nothing is touched", "", *_target(gameday), ""]
    lines += _load(gameday, run, now)
    lines += ["", "experiments:"]
    for block in gameday.chaos:
        lines.append(f"  at +{block.start_after:g}s: chaos run --rollback-strategy=always {block.experiment}")
        lines += [f"    {line}" for line in _activities(gameday.resolve(block.experiment))]
    if not gameday.chaos:
        lines.append("  none")
    lines += ["", f"SLOs (warmup {gameday.warmup:g}s left out):"]
    lines += [f"  {slo.label}" for slo in gameday.slos] or ["  none"]
    lines += ["", "guardrails:"]
    lines += [f"  abort if {g.sli} {g.abort_if.text} over {g.window:g}s" for g in gameday.guardrails] or ["  none"]
    return lines


def _target(gameday: GameDay) -> list[str]:
    t = gameday.target
    if isinstance(t, HttpTarget):
        return [f"target: http {t.base_url}"]
    if isinstance(t, LocalTarget):
        return [f"target: local stack '{t.stack}'"]
    return [
        f"target: kubernetes context '{t.context}', namespace '{t.namespace}' "
        f"(allowed namespaces: {', '.join(t.allowed_namespaces)})",
        (
            "  refused before anything runs unless $GAMEDAY_ALLOWED_CONTEXTS lists the context and "
            "$GAMEDAY_ALLOWED_NAMESPACES every allowed namespace"
        ),
        "  gateway: the Service labelled app.kubernetes.io/name=gateway",
    ]


def _load(gameday: GameDay, run: str, now: float) -> list[str]:
    load = gameday.load
    params = ", ".join(f"{k}={v:g}" for k, v in load.params.items())
    lines = [f"load: {load.profile}, {load.shape} ({params}) for {load.duration:g}s, Locust {load.where}"]
    if load.where != "cluster":
        return lines + ["objects to create: none"]
    plan = locust_plan(gameday, run, f"http://gateway.{cluster_target(gameday).namespace}.svc:80", now)
    lines.append(
        f"objects to create in '{plan.namespace}' (deleted at the end; expire "
        f"{expiry_annotation(plan.expires_at)}, then `gameday cleanup --kubernetes` removes them):"
    )
    for body in manifests(plan):
        replicas = body.get("spec", {}).get("replicas")
        sizes = ", ".join(
            f"{c['name']} cpu {c['resources']['requests']['cpu']} memory {c['resources']['requests']['memory']}"
            for c in body.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        )
        lines.append(
            f"  {body['kind']} {body['metadata']['name']}"
            + (f" replicas={replicas}" if replicas else "")
            + (f" (each pod requests {sizes})" if sizes else "")
        )
    return lines


def _activities(path: Path) -> list[str]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))  # JSON is YAML
    except (OSError, yaml.YAMLError) as exc:
        return [f"(cannot read: {exc})"]
    out = []
    for section in ("method", "rollbacks"):
        for act in doc.get(section) or []:
            provider = act.get("provider", {})
            func = ".".join(filter(None, [provider.get("module"), provider.get("func")])) or provider.get("path", "")
            out.append(
                f"{section[:-1] if section == 'rollbacks' else section}: {act.get('type')} {act.get('name')} -> {func}"
            )
    return out
