"""`gameday proxy`: a standalone fault hop, with Toxiproxy's HTTP API, in front of any TCP service.

    gameday proxy --listen 127.0.0.1:15672 --upstream 127.0.0.1:5672 [--api 127.0.0.1:8474] [--name rabbit]

Point the client side of a link (a worker's RabbitMQ URL, a service's Kafka or
database address) at `--listen`; stock `chaostoolkit-toxiproxy` experiments then
add latency, cut or reset that link through the API at `--api`, with
`toxiproxy_host`/`toxiproxy_port` in their configuration and `--name` as the proxy.

It is the reference stack's fault proxy (`stack/proxy`) with one hop, run in this
process until SIGINT/SIGTERM, so it has the same safety: a toxic or a disable made
without a `ttl` (stock chaostoolkit-toxiproxy never sends one) lasts
`--default-ttl` seconds and then removes itself, whatever happened to whoever made
it (a `chaos run` or `gameday run` killed with -9 included).

Only loopback addresses are listened on. The upstream must be loopback unless the
machine's owner lists its host in $GAMEDAY_ALLOWED_HOSTS (harness.allowlist);
a refused upstream exits 2 before anything is bound or connected, and the running
proxy refuses the same hosts when an API call tries to move the hop.

Each running proxy registers itself in `$GAMEDAY_HOME/proxies/` (removed when it
stops), so `gameday cleanup` can heal it: `registered()` lists them, `heal()` removes
every toxic and re-enables every disabled hop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any, TypedDict

from chaoslib.exceptions import ActivityFailed

from harness.allowlist import address_problem, is_allowed, is_loopback
from harness.chaos.httpjson import HttpStatusError, call
from harness.errors import SpecError, TargetError
from harness.files import atomic_write, gameday_home

DEFAULT_TTL_S = 300.0  # as the reference stack's toxic_ttl_s


class Registration(TypedDict):
    """One running `gameday proxy`, as written to `$GAMEDAY_HOME/proxies/<api host>_<api port>.json`."""

    name: str
    api: str  # the Toxiproxy API's base URL
    listen: str
    upstream: str
    pid: int
    default_ttl: float
    started: float  # UTC epoch seconds


def register_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `proxy` to the `gameday` subparsers."""
    p = subparsers.add_parser("proxy", help="a fault hop with the Toxiproxy API in front of any TCP service")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="where clients connect (loopback)")
    p.add_argument(
        "--upstream",
        required=True,
        metavar="HOST:PORT",
        help="the service (loopback unless $GAMEDAY_ALLOWED_HOSTS lists its host)",
    )
    p.add_argument(
        "--api",
        default="127.0.0.1:8474",
        metavar="HOST:PORT",
        help="the Toxiproxy HTTP API (default 127.0.0.1:8474, Toxiproxy's own)",
    )
    p.add_argument("--name", default="upstream", help="the proxy's name in the API (default: upstream)")
    p.add_argument(
        "--default-ttl",
        type=float,
        default=DEFAULT_TTL_S,
        metavar="SECONDS",
        help=f"seconds a toxic or disable made without ttl lasts (default {DEFAULT_TTL_S:g})",
    )
    p.set_defaults(func=cmd_proxy)


def cmd_proxy(args: argparse.Namespace) -> int:
    api_host, api_port = _checked(args)
    from stack.errors import StackError
    from stack.proxy.__main__ import _loop_factory
    from stack.proxy.server import serve

    record = Registration(
        name=args.name,
        api=f"http://{_join(api_host, api_port)}",
        listen=args.listen,
        upstream=args.upstream,
        pid=os.getpid(),
        default_ttl=args.default_ttl,
        started=time.time(),
    )
    path = registry_dir() / f"{api_host.strip('[]')}_{api_port}.json"

    def ready() -> None:
        _write_registration(path, record)
        print(
            f"gameday proxy '{args.name}': {args.listen} -> {args.upstream}; Toxiproxy API {record['api']}; "
            f"a fault made without ttl lasts {args.default_ttl:g}s",
            flush=True,
        )

    hops = {args.name: (args.listen, args.upstream)}
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(api_host, api_port, args.default_ttl, hops, upstream_allowed=is_allowed, on_ready=ready))
    except StackError as exc:
        raise TargetError(f"gameday proxy '{args.name}' cannot start: {exc}") from None
    finally:
        _remove_registration(path)
    return 0


def _checked(args: argparse.Namespace) -> tuple[str, int]:
    """The API's (host, port); SpecError listing every bad flag, before anything is bound or connected."""
    problems = []
    for flag, value in (("--listen", args.listen), ("--api", args.api)):
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not is_loopback(host):
            problems.append(f"{flag} '{value}' must be a loopback address with a port, e.g. 127.0.0.1:8474")
    upstream = address_problem(args.upstream, "--upstream")
    if upstream:
        problems.append(upstream)
    if not args.default_ttl > 0:
        problems.append(f"--default-ttl {args.default_ttl:g} must be a positive number of seconds")
    if not args.name or "/" in args.name:
        problems.append(f"--name '{args.name}' must be a non-empty name without '/'")
    if problems:
        raise SpecError(problems)
    host, _, port = args.api.rpartition(":")
    return host.strip("[]"), int(port)


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---- registry ------------------------------------------------------------------------
def registry_dir() -> Path:
    """`$GAMEDAY_HOME/proxies` (default ~/.gameday/proxies), beside the stacks' state."""
    return gameday_home() / "proxies"


def _write_registration(path: Path, record: Registration) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record))


def _remove_registration(path: Path) -> None:
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():  # not a successor's on the same API
            path.unlink()
    except (OSError, ValueError):
        pass


def registered() -> list[Registration]:
    """The running `gameday proxy` processes; files left by a proxy that died are removed."""
    found = []
    for path in sorted(registry_dir().glob("*.json")):
        try:
            record: Registration = json.loads(path.read_text())
            alive = _alive(int(record["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if alive:
            found.append(record)
        else:
            path.unlink(missing_ok=True)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def heal(record: Registration) -> list[str]:
    """Remove every toxic and re-enable every disabled hop of one proxy; one line per fault removed.

    Raises ActivityFailed when its API does not answer.
    """
    removed = []
    proxies: dict[str, Any] = call("GET", f"{record['api']}/proxies") or {}
    for name, proxy in proxies.items():
        removed += [f"proxy {record['api']} {line}" for line in heal_one(record["api"], name, proxy)]
    return removed


def heal_one(api: str, name: str, proxy: dict) -> list[str]:
    """Heal the proxy `name` (its JSON is `proxy`) at the Toxiproxy API `api`."""
    removed = []
    for toxic in proxy.get("toxics", []):
        try:
            call("DELETE", f"{api}/proxies/{name}/toxics/{toxic['name']}")
        except HttpStatusError as exc:
            if exc.status != 404:  # 404: it expired in the meantime
                raise
        removed.append(f"{name}: toxic {toxic['name']} ({toxic['type']})")
    if not proxy.get("enabled", True):
        call("POST", f"{api}/proxies/{name}", {"enabled": True})
        removed.append(f"{name}: hop was down, enabled")
    return removed


def clean_all() -> tuple[list[str], list[str]]:
    """(faults removed, proxies that did not answer) over every registered `gameday proxy`."""
    removed, failed = [], []
    for record in registered():
        try:
            removed += heal(record)
        except ActivityFailed as exc:
            failed.append(f"gameday proxy '{record['name']}' (pid {record['pid']}): {exc}")
    return removed, failed
