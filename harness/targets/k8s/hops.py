"""`python -m harness.targets.k8s.hops --config stack.json`: the gateway pod's fault-proxy sidecar.

The stack's processes reach each other at 127.0.0.1 ports named in stack.json. In
a pod, the gateway's neighbours are Services instead, so this sidecar runs the
stack's own fault proxy (Toxiproxy-compatible API on 8474) with these hops:

    client-gateway      0.0.0.0:8080          -> 127.0.0.1:<gateway_upstream>   (what the Service targets)
    gateway-replica-i   127.0.0.1:<replica_i> -> $MODEL_SERVICE (model-replica:8000), or for the
                                              last `canary_replicas` replicas $CANARY_SERVICE
                                              (model-canary:8000)
    gateway-kafka       127.0.0.1:<kafka_gw>  -> $KAFKA_SERVICE (kafka:9093)

kafka:9093 is the Kafka pod's gateway listener, a Tansu proxy that advertises
127.0.0.1:<kafka_gw>: after bootstrap the gateway's connections come back to this
hop instead of going to the broker directly (harness.targets.k8s.kafka_pod).

kube-proxy balances each connection of a replica hop across the model-replica
pods, so the gateway's per-replica breakers act per hop, not per pod.

The proxy runs with `allow_pod_address` (what `python -m stack.proxy
--allow-pod-address` sets): without it the fault proxy binds and forwards on
loopback only, and would refuse the 0.0.0.0 listener and the Service names.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping

from harness.status import ExitCode
from harness.targets.k8s.kafka_pod import GATEWAY_LISTENER_PORT
from stack.config import StackConfig

LISTEN_PORT = 8080
API_PORT = 8474


def services(env: Mapping[str, str]) -> dict[str, str]:
    """Where the hops forward: $MODEL_SERVICE, $KAFKA_SERVICE, or the stack's Service names."""
    return {
        "model": env.get("MODEL_SERVICE", "model-replica:8000"),
        "canary": env.get("CANARY_SERVICE", "model-canary:8000"),
        "kafka": env.get("KAFKA_SERVICE", f"kafka:{GATEWAY_LISTENER_PORT}"),
    }


def hops(
    config: StackConfig, model: str, kafka: str, canary: str = "model-canary:8000", listen_port: int = LISTEN_PORT
) -> dict[str, tuple[str, str]]:
    """name -> (listen, upstream) for the gateway pod; canary replicas' hops go to `canary`."""
    out = {
        "client-gateway": (f"0.0.0.0:{listen_port}", f"127.0.0.1:{config.port('gateway_upstream')}"),
        "gateway-kafka": (f"127.0.0.1:{config.port('kafka_gateway')}", kafka),
    }
    for i in range(1, config.replicas + 1):
        upstream = canary if config.replica_version(i) == "canary" else model
        out[f"gateway-replica-{i}"] = (f"127.0.0.1:{config.port(f'replica_{i}')}", upstream)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.targets.k8s.hops", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--listen-port", type=int, default=LISTEN_PORT, help="the client-gateway hop's port (8080)")
    parser.add_argument("--api-port", type=int, default=API_PORT, help="the Toxiproxy-compatible API's port (8474)")
    args = parser.parse_args(argv)
    from stack.errors import StackError
    from stack.proxy.server import serve

    config = StackConfig.load(args.config)
    plan = hops(config, **services(os.environ), listen_port=args.listen_port)
    try:
        asyncio.run(serve("0.0.0.0", args.api_port, config.toxic_ttl_s, plan, allow_pod_address=True))
    except StackError as exc:
        print(f"StackError: {exc}", file=sys.stderr)
        return ExitCode.ERROR
    return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
