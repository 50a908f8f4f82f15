"""`python -m harness.targets.k8s.kafka_pod ROLE`: the processes of the Kafka pod (deploy/stack/kafka.yaml).

    broker            Tansu, in memory, on 9092, advertised as kafka:9092 (scorers, the in-cluster sink)
    gateway-listener  a Tansu proxy on 9093 advertising 127.0.0.1:<kafka_gateway>: the gateway pod's
                      gateway-kafka hop listens there, so after bootstrap every connection the gateway
                      opens still goes through the hop (the local stack does the same, see stack.config)
    sink-listener     a Tansu proxy on 9094 advertising 127.0.0.1:9094, for a sink reader on your machine
                      through `kubectl port-forward svc/kafka 9094` (game days with load.where: local)
    topics            keeps the stack's topics: Tansu stores them in memory, so a restarted broker
                      comes back empty; this creates what is missing every couple of seconds, and
                      touches a ready file the pod's readiness probe reads (Ready = topics exist).
                      It talks to the broker directly: the pod maps `kafka` to 127.0.0.1 (hostAliases),
                      since the kafka Service has no endpoint until the pod is Ready, and the pod is
                      Ready only once the topics exist
    check             exit 0 if a metadata request through --bootstrap succeeds (a listener's
                      liveness probe: a Tansu proxy does not reconnect to a broker that restarted
                      inside the pod, so the kubelet restarts it)

A Kafka client connects to whatever address the broker advertises, so one advertised
address per client group is what puts that group behind its own fault hop.
Each role replaces itself with Tansu (exec), so Tansu gets the container's signals.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.clock import wait_until
from stack.config import TOPIC_IN, TOPIC_OUT, StackConfig

if TYPE_CHECKING:  # confluent_kafka is imported where the pod's topic keeper runs
    from confluent_kafka.admin import AdminClient

BROKER_PORT = 9092
GATEWAY_LISTENER_PORT = 9093
SINK_LISTENER_PORT = 9094
SERVICE = "kafka"
TOPICS_EVERY_S = 2.0
TOPICS_READY_FILE = "/tmp/gameday/topics.ready"

log = logging.getLogger("gameday.kafka_pod")


def broker_argv(listen: str = f"0.0.0.0:{BROKER_PORT}", advertise: str = f"{SERVICE}:{BROKER_PORT}") -> list[str]:
    from stack.kafka import broker_bin

    return [
        broker_bin(),
        "broker",
        "--listener-url",
        f"tcp://{listen}",
        "--advertised-listener-url",
        f"tcp://{advertise}",
        "--storage-engine",
        "memory://tansu/",
    ]


def listener_argv(listen: str, advertise: str, origin: str = f"127.0.0.1:{BROKER_PORT}") -> list[str]:
    from stack.kafka import broker_bin

    return [
        broker_bin(),
        "proxy",
        "--listener-url",
        f"tcp://{listen}",
        "--advertised-listener-url",
        f"tcp://{advertise}",
        "--origin-url",
        f"tcp://{origin}",
    ]


def gateway_advertised(config: StackConfig) -> str:
    """What the gateway-listener advertises: the gateway pod's gateway-kafka hop (harness.targets.k8s.hops)."""
    return f"127.0.0.1:{config.port('kafka_gateway')}"


# ---- topics ---------------------------------------------------------------------------
def missing_topics(admin: AdminClient, topics: tuple[str, ...], timeout: float = 5.0) -> list[str]:
    present = admin.list_topics(timeout=timeout).topics
    return [t for t in topics if t not in present]


def keep_topics(
    bootstrap: str,
    ready_file: Path,
    should_stop: Callable[[], bool],
    every_s: float = TOPICS_EVERY_S,
    topics: tuple[str, ...] = (TOPIC_IN, TOPIC_OUT),
) -> None:
    """Until `should_stop()`: create missing `topics`; touch `ready_file` while all exist, remove it otherwise."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from stack.errors import StackError
    from stack.kafka import ensure_topics

    admin = AdminClient({"bootstrap.servers": bootstrap, "reconnect.backoff.max.ms": 1000})
    ready_file.parent.mkdir(parents=True, exist_ok=True)
    while not should_stop():
        try:
            missing = missing_topics(admin, topics)
            if missing:
                ready_file.unlink(missing_ok=True)
                log.info("creating missing topics %s on %s", ", ".join(missing), bootstrap)
                ensure_topics(bootstrap, tuple(missing))
            ready_file.touch()
        except (KafkaException, StackError) as exc:
            ready_file.unlink(missing_ok=True)
            log.warning("topics not ensured on %s: %s", bootstrap, exc)
        wait_until(should_stop, every_s, interval=0.1)


def answers(bootstrap: str, timeout: float) -> bool:
    """True if a metadata request through `bootstrap` is answered within `timeout` seconds."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        print(f"no answer through {bootstrap}: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.targets.k8s.kafka_pod", description=__doc__.splitlines()[0]
    )
    parser.add_argument("role", choices=("broker", "gateway-listener", "sink-listener", "topics", "check"))
    parser.add_argument("--config", help="stack.json (gateway-listener: the hop port it advertises)")
    parser.add_argument("--listen", help="host:port to listen on (default: the role's pod port on 0.0.0.0)")
    parser.add_argument("--advertise", help="host:port advertised to clients (default: the role's)")
    parser.add_argument(
        "--origin",
        default=f"127.0.0.1:{BROKER_PORT}",
        help="the broker a listener forwards to, or the topics keeper talks to",
    )
    parser.add_argument("--bootstrap", help="check: the listener to ask for metadata")
    parser.add_argument("--timeout", type=float, default=5.0, help="check: seconds to wait for the answer")
    parser.add_argument("--ready-file", default=TOPICS_READY_FILE, help="topics: touched while the topics exist")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.role == "topics":
        stop = {"now": False}
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.__setitem__("now", True))
        keep_topics(args.origin, Path(args.ready_file), lambda: stop["now"])
        return 0
    if args.role == "check":
        return 0 if answers(args.bootstrap or args.origin, args.timeout) else 1
    if args.role == "broker":
        command = broker_argv(args.listen or f"0.0.0.0:{BROKER_PORT}", args.advertise or f"{SERVICE}:{BROKER_PORT}")
    elif args.role == "gateway-listener":
        if not args.config and not args.advertise:
            parser.error("gateway-listener needs --config (or --advertise)")
        advertise = args.advertise or gateway_advertised(StackConfig.load(args.config))
        command = listener_argv(args.listen or f"0.0.0.0:{GATEWAY_LISTENER_PORT}", advertise, args.origin)
    else:
        command = listener_argv(
            args.listen or f"0.0.0.0:{SINK_LISTENER_PORT}",
            args.advertise or f"127.0.0.1:{SINK_LISTENER_PORT}",
            args.origin,
        )
    sys.stdout.flush()
    os.execv(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
