"""`python -m harness.chaos.reaper`: undo one supervisor-side fault when its TTL runs out.

Started detached by `faults.arm`. It sleeps until the expiry, then undoes the
fault only if its record still exists with the same token (a fault undone by
hand, or replaced by a newer one, is left alone), and removes the record.
"""

from __future__ import annotations

import argparse
import sys
import time

from harness.chaos import faults
from harness.chaos.httpjson import call
from harness.chaos.replicas import start_if_down
from stack.config import StackConfig
from stack.lifecycle import load_running
from stack.supervise import Supervisor


def undo(config: StackConfig, record: faults.FaultRecord) -> str:
    """Undo the fault `record` describes; returns what was done, for the log."""
    if record["undo"] == "split":
        call("POST", f"{config.url('gateway')}/admin/split", {"canary_weight": float(record["target"])})
        return f"canary weight restored to {record['target']}"
    sup = Supervisor(config)
    if record["undo"] == "cont":
        sup.signal(record["target"], "CONT")
        return f"resumed {record['target']}"
    start_if_down(sup, record["target"], wait=False)
    return f"started {record['target']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.chaos.reaper")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--state-root", required=True)
    parser.add_argument("--after", type=float, required=True, help="seconds to wait before undoing")
    parser.add_argument("--id", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    time.sleep(max(0.0, args.after))
    config = load_running(args.stack, args.state_root)
    record = faults.read(config, args.id)
    if record is None or record["token"] != args.token:
        return 0  # undone by hand or replaced by a newer fault
    try:
        done = undo(config, record)
    except Exception as exc:  # noqa: BLE001 - the log is the only place a detached reaper can report to
        print(f"{time.strftime('%FT%TZ', time.gmtime())} reaper {args.id}: undo failed: {exc}", flush=True)
        return 1
    faults.remove(config, args.id, args.token)
    print(f"{time.strftime('%FT%TZ', time.gmtime())} reaper {args.id}: TTL expired, {done}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
