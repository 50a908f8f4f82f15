"""What recording a variant per request costs the plugin's hot path (Aggregator.on_request).

    python benchmarks/variant_recording.py [--requests 200000] [--rounds 5]

Calls `on_request` directly, as Locust's `request` event does, with a response carrying an
`X-Model-Version` header, three ways: no variant header configured (the header is never
read), `variant_header` set, and set with three variants. Prints the best round's
microseconds per request of each and the difference. No network: this is the cost the
recorder adds per request, not the cost of a request.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from requests.structures import CaseInsensitiveDict  # noqa: E402

from harness.load.aggregate import Aggregator  # noqa: E402


class Response:
    status_code = 200

    def __init__(self, version: str) -> None:
        self.headers = CaseInsensitiveDict({"X-Model-Version": version, "Content-Type": "application/json"})


def one_round(header: str | None, versions: tuple[str, ...], n: int) -> float:
    agg = Aggregator(variant_header=header)
    responses = [Response(versions[i % len(versions)]) for i in range(64)]
    start_time = 1_800_000_000.0
    began = time.perf_counter()
    for i in range(n):
        agg.on_request(
            request_type="POST",
            name="/v1/score",
            response_time=12.5 + (i % 50),
            response=responses[i % 64],
            context=None,
            exception=None,
            start_time=start_time + i / 2000.0,
        )
    return (time.perf_counter() - began) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "no variant header": (None, ("stable",)),
        "variant_header, 2 variants": ("x-model-version", ("stable", "canary")),
        "variant_header, 3 variants": ("x-model-version", ("a", "b", "c")),
    }
    best = {name: min(one_round(h, v, args.requests) for _ in range(args.rounds)) for name, (h, v) in cases.items()}
    base = best["no variant header"]
    for name, us in best.items():
        print(f"{name:<28} {us:6.3f} us/request  ({us - base:+.3f} us)")


if __name__ == "__main__":
    main()
