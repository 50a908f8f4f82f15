"""Locust in the cluster: a master and N workers, driven like the local Locust child.

`ClusterLocust` has the LoadDriver shape the orchestrator uses (start, running,
sending, wait, stop, live). It creates the objects of locust_objects, then copies the
master's run directory into the local one through the Service proxy (see that
module's docstring), at most once a second: new sample and event lines are
appended to the local files, live.json is replaced. `stop` copies one last
time and deletes every object of the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.run.load_driver import test_started
from harness.targets.k8s import objects
from harness.targets.k8s.cleanup import delete_run
from harness.targets.k8s.client import Cluster
from harness.targets.k8s.locust_objects import (
    EXIT_FILE,
    FILES_PORT,
    LocustPlan,
    manifests,
)

READY_TIMEOUT_S = 180.0
SYNC_EVERY_S = 1.0
APPENDED = ("samples/samples.jsonl", "events.jsonl")   # append-only files in the master's run dir
REPLACED = ("live.json", "locust.log")


class ClusterLocust:
    def __init__(self, cluster: Cluster, plan: LocustPlan, run_dir: Path, ready_timeout_s: float = READY_TIMEOUT_S):
        self.cluster, self.plan, self.run_dir = cluster, plan, Path(run_dir)
        self.ready_timeout_s = ready_timeout_s
        self.copied: dict[str, int] = {}      # bytes of each appended file already copied
        self.exit_code: int | None = None
        self.started = False
        self._last_sync = 0.0

    pid = None

    def start(self) -> None:
        """Create the ConfigMap, Service and Deployments; return when every pod is ready."""
        self.started = True
        for body in manifests(self.plan):
            objects.create(self.cluster, body)
        objects.wait_available(self.cluster, self.plan.namespace, f"{self.plan.name}-master", 1, self.ready_timeout_s)
        objects.wait_available(self.cluster, self.plan.namespace, f"{self.plan.name}-worker", self.plan.workers,
                               self.ready_timeout_s)

    @property
    def running(self) -> bool:
        self.sync()
        return self.started and self.exit_code is None

    @property
    def sending(self) -> bool:
        """True once the master's `test_start` has been copied into the local events.jsonl."""
        self.sync()
        return test_started(self.run_dir)

    @property
    def returncode(self) -> int | None:
        return self.exit_code

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
        while self.running and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.exit_code

    def stop(self, timeout: float = 15.0) -> int | None:
        """Copy the last seconds, then delete every object of this run (also after a failure)."""
        try:
            self.sync(force=True)
        finally:
            self.removed = delete_run(self.cluster, self.plan.namespace, self.plan.run)
        return self.exit_code

    def live(self) -> Mapping[str, Any] | None:
        from harness.load.live import read_live

        try:
            return read_live(self.run_dir)
        except ValueError:
            return None

    # ---- copying the master's run directory ----------------------------------------
    def sync(self, force: bool = False) -> None:
        """Copy what is new in the master's run directory (rate-limited unless `force`)."""
        if not self.started or (not force and time.monotonic() - self._last_sync < SYNC_EVERY_S):
            return
        self._last_sync = time.monotonic()
        for name in APPENDED:
            self._append_new(name)
        for name in REPLACED:
            data = self.fetch(name)
            if data is not None:
                _write_atomic(self.run_dir / name, data)
        code = self.fetch(EXIT_FILE)
        if code is not None and code.strip():
            self.exit_code = int(code.strip())

    def fetch(self, path: str) -> bytes | None:
        """A file of the master's run directory, or None while it does not exist (or the pod is not serving)."""
        from kubernetes.client.rest import ApiException

        # param_serialize + call_api rather than connect_get_namespaced_service_proxy_with_path,
        # which percent-encodes the slashes of `path` into one segment
        api = self.cluster.core.api_client
        request = api.param_serialize(
            "GET", f"/api/v1/namespaces/{{namespace}}/services/{{name}}/proxy/{path}",
            path_params={"namespace": self.plan.namespace, "name": f"{self.plan.name}:{FILES_PORT}"},
            auth_settings=["BearerToken"])
        try:
            response = api.call_api(*request)
        except ApiException:
            return None
        return response.read() if response.status == 200 else None

    def _append_new(self, name: str) -> None:
        data = self.fetch(name)
        if not data:
            return
        done = self.copied.get(name, 0)
        end = data.rfind(b"\n") + 1          # only whole lines: the master may be mid-write
        if end <= done:
            return
        target = self.run_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "ab") as out:
            out.write(data[done:end])
        self.copied[name] = end


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
