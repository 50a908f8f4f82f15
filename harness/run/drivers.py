"""The real children of a run, made from the spec: target, sink reader, Locust, `chaos run`, metrics readers.

Each factory returns one of the protocols of harness.run.seams; mypy checks that the
real classes satisfy them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import TargetError
from harness.load.child import locust_argv
from harness.load.sink import SinkProcess
from harness.run.chaos_driver import ChaosDriver
from harness.run.load_driver import LocustDriver
from harness.run.metrics_driver import MetricsDriver
from harness.run.seams import ChaosRun, Drivers, LoadDriver, MetricsReader, RunContext, SinkDriver, TargetRun
from harness.spec.models import ChaosBlock, HttpTarget, KubernetesTarget, LocalTarget
from harness.targets.http import HttpRun
from harness.targets.k8s.plan import cluster_locust
from harness.targets.kubernetes import KubernetesRun, kubeconfig_file
from harness.targets.local import LocalRun


@dataclass(frozen=True)
class RunOptions:
    """Command-line choices that are not part of the spec."""

    stack_name: str | None = None
    base_port: int | None = None
    defects: tuple[str, ...] = ()


class SinkReader:
    """The ledger's sink reader as a child process (harness.load.sink): a SinkDriver."""

    def __init__(self, run_dir: Path, argv: list[str]):
        self.run_dir, self.argv = run_dir, argv
        self.process: SinkProcess | None = None

    def start(self) -> None:
        process = self.process = SinkProcess(self.run_dir, self.argv)
        try:
            process.wait_ready()
        except RuntimeError as exc:
            raise TargetError(f"the data-flow sink reader did not start: {exc}") from None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def describe(self) -> str:
        return " ".join(self.argv)


def real_drivers(options: RunOptions) -> Drivers:
    return Drivers(target=lambda ctx: _target(ctx, options), load=_load, sink=_sink, chaos=_chaos, metrics=_metrics)


def _target(ctx: RunContext, options: RunOptions) -> TargetRun:
    spec = ctx.gameday.target
    if isinstance(spec, LocalTarget):
        return LocalRun(options.stack_name or spec.stack, (*spec.defects, *options.defects), options.base_port)
    if isinstance(spec, HttpTarget):
        return HttpRun(spec.base_url)
    if isinstance(spec, KubernetesTarget):
        budget = ctx.gameday.load.duration + sum(b.start_after for b in ctx.gameday.chaos[:1])
        return KubernetesRun(
            spec,
            ctx.gameday.load.where,
            budget,
            config_file=kubeconfig_file(),
            sink_forward=ctx.gameday.load.sink is None,
        )
    raise TargetError(f"target kind '{spec.kind}' cannot run here; use local, http or kubernetes")


def _sink(ctx: RunContext, target: TargetRun) -> SinkDriver | None:
    """The spec's sink reader; a local target fills in what it knows (the broker's address)."""
    if ctx.gameday.load.where == "cluster":
        return None  # it runs beside the Locust master in the cluster (harness.targets.k8s.plan.sink_args)
    spec, default = ctx.gameday.load.sink, target.sink_argv()
    if spec is None:
        return SinkReader(ctx.run_dir, default) if default else None
    options = dict(spec.options)
    if spec.kind == "kafka" and "bootstrap" not in options and default:
        options["bootstrap"] = default[default.index("--bootstrap") + 1]
    argv = ["--kind", spec.kind]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return SinkReader(ctx.run_dir, argv)


def _load(ctx: RunContext, target: TargetRun) -> LoadDriver:
    load = ctx.gameday.load
    if load.where == "cluster":
        # the spec loader refuses load.where: cluster for any target but kubernetes
        assert isinstance(target, KubernetesRun), f"load.where: cluster on {target.describe()}"
        return cluster_locust(ctx.gameday, target.connected, target.host, ctx.run_dir)
    argv = locust_argv(
        ctx.gameday.resolve(load.profile).resolve(),
        target.host,
        ctx.run_dir,
        load.shape,
        load.duration,
        load.params,
        load.processes,
        load.options,
    )
    if load.variant_header:
        argv += ["--gameday-variant-header", load.variant_header]
    return LocustDriver(argv, ctx.run_dir, env={**ctx.env, **target.env()})


def _metrics(ctx: RunContext, target: TargetRun) -> MetricsReader:
    """A reader of the spec's metrics sources; `target:` endpoints resolved on the running local stack."""
    urls = {}
    for source in ctx.gameday.metrics:
        if source.target is not None:
            if not isinstance(target, LocalRun):
                raise TargetError(f"metrics source {source.name!r}: target endpoints exist only on a local stack")
            urls[source.name] = target.stack.metrics_url(source.target)
        else:
            assert source.url is not None  # the spec loader requires one of url and target
            urls[source.name] = source.url
    return MetricsDriver(ctx.gameday, ctx.run_dir, urls)


def _chaos(ctx: RunContext, target: TargetRun, block: ChaosBlock) -> ChaosRun:
    index = ctx.gameday.chaos.index(block)
    journal = "journal.json" if index == 0 else f"journal-{index + 1}.json"
    return ChaosDriver(
        ctx.gameday.resolve(block.experiment), ctx.run_dir, env={**ctx.env, **target.env()}, journal=journal
    )
