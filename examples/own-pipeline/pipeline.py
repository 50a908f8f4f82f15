"""Run the example pipeline: the ingest service and one worker, restarting the worker when it dies.

    python examples/own-pipeline/pipeline.py --port 8000 --amqp amqp://guest:guest@127.0.0.1:5672/%2F \\
        --worker-amqp amqp://guest:guest@127.0.0.1:5673/%2F [--defect ack-before-process] [--pid-dir DIR]

`--worker-amqp` is where the worker reaches RabbitMQ: point it at a `gameday proxy`
hop to let experiments cut the worker off from the broker (default: `--amqp`).
The worker's pid is kept in `DIR/worker.pid` (default $PIPELINE_PID_DIR, else
/tmp/own-pipeline) for the experiment's `process` action. A dead worker is started
again after RESTART_S, as a process supervisor would. SIGTERM or SIGINT stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESTART_S = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    parser.add_argument("--worker-amqp", default=None)
    parser.add_argument("--defect", default=None, help="ack-before-process: the worker's planted defect")
    parser.add_argument("--pid-dir", default=os.environ.get("PIPELINE_PID_DIR", "/tmp/own-pipeline"))
    args = parser.parse_args(argv)
    pid_dir = Path(args.pid_dir)
    pid_dir.mkdir(parents=True, exist_ok=True)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    ingest = subprocess.Popen([sys.executable, str(HERE / "ingest.py"), "--port", str(args.port), "--amqp", args.amqp])
    worker_argv = [sys.executable, str(HERE / "worker.py"), "--amqp", args.worker_amqp or args.amqp]
    if args.defect:
        worker_argv += ["--defect", args.defect]
    worker, restarts = None, 0
    try:
        while not stop["now"]:
            if worker is None or worker.poll() is not None:
                if worker is not None:
                    restarts += 1
                    print(
                        f"pipeline: worker exited ({worker.returncode}); starting it again (restart {restarts})",
                        file=sys.stderr,
                        flush=True,
                    )
                    time.sleep(RESTART_S)
                worker = subprocess.Popen(worker_argv)
                (pid_dir / "worker.pid").write_text(f"{worker.pid}\n")
            if ingest.poll() is not None:
                print(f"pipeline: the ingest service exited ({ingest.returncode})", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.1)
    finally:
        for child in (worker, ingest):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
