"""A real Prometheus server (Debian's `prometheus`) for the PromQL source tests, and a small exporter.

The server runs on a free loopback port with a data directory and a scrape config of
its own (every second, the targets a test names); it is a process of its own session
(tests/processes.Owned), so stopping it stops its whole group, on a failure too.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from processes import Owned
from support import free_port


class Prometheus:
    """`prometheus` scraping `targets` (host:port) every second until `stop()`."""

    def __init__(self, tmp: Path, targets: list[str], metrics_path: str = "/metrics") -> None:
        binary = shutil.which("prometheus")
        assert binary, "Debian's prometheus is not installed: run ./scripts/bootstrap as root"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = tmp / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "scrape_configs": [
                        {
                            "job_name": "gameday-test",
                            "metrics_path": metrics_path,
                            "static_configs": [{"targets": targets}],
                        }
                    ],
                }
            )
        )
        self.log = tmp / "prometheus.log"
        with self.log.open("wb") as log:
            self.owned = Owned(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.owned.proc.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def wait_for_samples(self, selector: str, count: int, timeout: float = 90.0) -> None:
        """Until the server holds at least `count` scraped samples of `selector` (a series selector)."""
        deadline = time.monotonic() + timeout
        query = urllib.parse.urlencode({"query": f"count_over_time({selector}[10m])"})
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{self.url}/api/v1/query?{query}", timeout=5) as response:
                result = json.loads(response.read())["data"]["result"]
            if result and float(result[0]["value"][1]) >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"prometheus never held {count} samples of {selector}")

    def stop(self) -> None:
        self.owned.stop(grace=15, first=signal.SIGTERM)
