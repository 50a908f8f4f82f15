"""A model replica: one process serving one model version over HTTP.

    python -m stack.replica --config <stack.json> --index I
    python -m stack.replica --port P --version stable|canary [--index I] [--work N]

Endpoints:
    POST /score    {"features": [8 numbers]} -> 200 {"score", "model_version", "replica"}
                   a bad body -> 400 {"error": "..."}
    GET  /healthz  -> 200 {"status": "ok", "replica", "model_version", "work"}

The model runs on the event loop thread on purpose: a saturated replica then
queues and slows down like a real CPU-bound model server, which is what the
gateway's timeouts, breakers and load shedding are there to handle.
SIGTERM and SIGINT stop the server cleanly (exit code 0).

Defect `canary-regression` (canary replicas only): every answer waits REGRESSION_DELAY_S
more (awaited, so the replica still serves others meanwhile, like a slower dependency),
and the inputs of a fixed slice of about REGRESSION_WRONG_PERCENT% (chosen by a hash of the
features, so the same inputs are wrong every time) get a score off by REGRESSION_OFFSET:
the canary that an aggregate SLO hides behind a 10% weight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import zlib
from dataclasses import dataclass
from typing import TypedDict

# One BLAS thread per replica: replicas are the unit of parallelism, and BLAS
# threads would fight each other for the same cores. Must precede numpy's import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from aiohttp import web  # noqa: E402

from stack.config import StackConfig  # noqa: E402
from stack.errors import StackError  # noqa: E402
from stack.model import KIND_TO_VERSION, N_FEATURES, Model, ScoreResponse, load, validate_features  # noqa: E402

SHUTDOWN_TIMEOUT_S = 2.0  # in-flight requests get this long to finish after SIGTERM
REGRESSION_DELAY_S = 0.05
REGRESSION_WRONG_PERCENT = 3
REGRESSION_OFFSET = 0.01


class HealthResponse(TypedDict):
    status: str
    replica: str
    model_version: str
    work: int


class ErrorResponse(TypedDict):
    error: str


@dataclass(frozen=True)
class ReplicaSettings:
    """Everything one replica process needs, resolved from flags or the stack config."""

    name: str
    host: str
    port: int
    model: Model
    work: int
    regression: bool = False  # the canary-regression defect is on and this replica serves the canary


def build_app(settings: ReplicaSettings) -> web.Application:
    """The replica's aiohttp application (no listener; `main` binds it)."""
    app = web.Application()
    app.router.add_post("/score", _score_handler(settings))
    app.router.add_get("/healthz", _health_handler(settings))
    return app


def _score_handler(settings: ReplicaSettings):
    async def score(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError as exc:  # JSONDecodeError and undecodable bytes
            return _bad_request(f'body is not valid JSON ({exc}); send {{"features": [8 numbers]}}')
        try:
            features = validate_features(body)
        except ValueError as exc:
            return _bad_request(str(exc))
        # Deliberately synchronous: see the module docstring.
        result = settings.model.score(features, settings.work)
        if settings.regression:
            result = await _regressed(result, features)
        answer: ScoreResponse = {"score": result, "model_version": settings.model.version, "replica": settings.name}
        return web.json_response(answer)

    return score


async def _regressed(score: float, features: list[float]) -> float:
    """The canary-regression defect: later, and off by REGRESSION_OFFSET for a fixed slice of inputs."""
    await asyncio.sleep(REGRESSION_DELAY_S)
    if zlib.crc32(repr(features).encode()) % 100 < REGRESSION_WRONG_PERCENT:
        return round(score + REGRESSION_OFFSET if score < 0.5 else score - REGRESSION_OFFSET, 6)
    return score


def _health_handler(settings: ReplicaSettings):
    async def healthz(request: web.Request) -> web.Response:
        answer: HealthResponse = {
            "status": "ok",
            "replica": settings.name,
            "model_version": settings.model.version,
            "work": settings.work,
        }
        return web.json_response(answer)

    return healthz


def _bad_request(message: str) -> web.Response:
    answer: ErrorResponse = {"error": message}
    return web.json_response(answer, status=400)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m stack.replica", description="Serve one model replica.")
    parser.add_argument("--config", help="stack.json written by `gameday stack up`")
    parser.add_argument("--index", type=int, default=1, help="1-based replica index (default 1)")
    parser.add_argument("--port", type=int, help="listen port; overrides the config's replica_upstream_I")
    parser.add_argument("--version", choices=sorted(KIND_TO_VERSION), help="model kind; overrides the config")
    parser.add_argument("--work", type=int, help="forward passes per request; overrides config.model_work")
    parser.add_argument("--host", help="listen address (default: the config's host, else 127.0.0.1)")
    return parser.parse_args(argv)


def resolve(args: argparse.Namespace) -> ReplicaSettings:
    """Settings from flags over the stack config; raises StackError naming what is missing."""
    config = StackConfig.load(args.config) if args.config else None
    if config is None and (args.port is None or args.version is None):
        raise StackError("give --config <stack.json>, or both --port and --version to run without a config")
    if config is not None and not 1 <= args.index <= config.replicas:
        raise StackError(f"--index {args.index} is out of range: the stack has replicas 1..{config.replicas}")
    work = args.work if args.work is not None else (config.model_work if config else StackConfig.model_work)
    if work < 1:
        raise StackError(f"work must be at least 1, got {work}")
    kind = args.version or config.replica_version(args.index)
    return ReplicaSettings(
        name=f"replica-{args.index}",
        host=args.host or (config.host if config else "127.0.0.1"),
        port=args.port if args.port is not None else config.port(f"replica_upstream_{args.index}"),
        model=load(kind),
        work=work,
        regression=kind == "canary" and config is not None and config.has_defect("canary-regression"),
    )


def main(argv: list[str] | None = None) -> int:
    """Run one replica until SIGTERM/SIGINT. Exit 0 on a clean stop, 2 on bad input, 4 if it cannot listen."""
    try:
        settings = resolve(parse_args(argv))
    except StackError as exc:
        print(f"StackError: {exc}", file=sys.stderr)
        return 2
    settings.model.score([0.0] * N_FEATURES)  # build the weights before the first request, not during it
    print(
        f"{settings.name}: serving {settings.model.version} (work={settings.work}"
        f"{', canary-regression' if settings.regression else ''}) on http://{settings.host}:{settings.port}",
        file=sys.stderr,
        flush=True,
    )
    try:
        web.run_app(
            build_app(settings),
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        )
    except OSError as exc:
        print(
            f"StackError: {settings.name} cannot listen on {settings.host}:{settings.port}: {exc}; "
            f"is another stack or replica using that port?",
            file=sys.stderr,
        )
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
