"""Locust in the cluster: a master and N workers, driven like the local Locust child.

`ClusterLocust` is a harness.run.seams.LoadDriver, as the local Locust child is (start,
running, sending, wait, stop, live). It creates the objects of locust_objects, then copies the
master's run directory into the local one through the Service proxy (see that
module's docstring), at most once a second. Append-only files are copied
incrementally: each request asks for the bytes after what was copied (an HTTP
Range of at most CHUNK bytes), and only whole lines are appended locally.
live.json is replaced. Every request has a timeout, and a sync stops at its first
failure, so a stuck proxy delays the copy but cannot hang the run. `stop` copies
one last time and deletes every object of the run.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3

if TYPE_CHECKING:  # the kubernetes client (0.3 s to import) is imported on first use
    from kubernetes.client import ApiClient

from harness.clock import wait_until
from harness.errors import TargetError
from harness.files import atomic_write
from harness.load.child import test_started
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
CHUNK = 4 * 1024 * 1024  # bytes per request: a backlog is copied over several syncs
CHUNKS_PER_SYNC = 4
REQUEST_TIMEOUT_S = (5.0, 10.0)  # (connect, read) for each request through the API server
# append-only files in the master's run directory
APPENDED = (
    "samples/samples.jsonl",
    "events.jsonl",
    "locust.log",
    "ledger/produced.jsonl",
    "ledger/consumed.jsonl",
    "ledger/sink.log",
)
REPLACED = ("live.json",)


log = logging.getLogger("gameday.k8s")


class FetchFailed(TargetError):
    """A copy request through the API server failed or timed out (the copy resumes next sync)."""


class ClusterLocust:
    def __init__(self, cluster: Cluster, plan: LocustPlan, run_dir: Path, ready_timeout_s: float = READY_TIMEOUT_S):
        self.cluster, self.plan, self.run_dir = cluster, plan, Path(run_dir)
        self.ready_timeout_s = ready_timeout_s
        self.copied: dict[str, int] = {}  # bytes of each appended file already copied
        self.exit_code: int | None = None
        self.started = False
        self.fetch_failures = 0
        self._last_sync = 0.0
        self._files_client: ApiClient | None = None

    pid: int | None = None  # no process here

    def start(self) -> None:
        """Create the ConfigMap, Service and Deployments; return when every pod is ready."""
        self.started = True
        for body in manifests(self.plan):
            objects.create(self.cluster, body)
        objects.wait_available(self.cluster, self.plan.namespace, f"{self.plan.name}-master", 1, self.ready_timeout_s)
        objects.wait_available(
            self.cluster, self.plan.namespace, f"{self.plan.name}-worker", self.plan.workers, self.ready_timeout_s
        )

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
        wait_until(lambda: not self.running, math.inf if timeout is None else timeout, interval=0.5)
        return self.exit_code

    def stop(self, timeout: float = 15.0) -> int | None:
        """Copy the last seconds, then delete every object of this run (also after a failure)."""
        try:
            self.sync(force=True)
        finally:
            self.removed = delete_run(self.cluster, self.plan.namespace, self.plan.run)
            if self._files_client is not None:
                self._files_client.close()
        return self.exit_code

    def live(self) -> Mapping[str, Any] | None:
        from harness.load.live import read_live

        try:
            return read_live(self.run_dir)
        except ValueError:
            return None

    # ---- copying the master's run directory ----------------------------------------
    def sync(self, force: bool = False) -> None:
        """Copy what is new in the master's run directory (rate-limited unless `force`).

        Stops at the first request that fails or times out; the next sync picks up
        from there.
        """
        if not self.started or (not force and time.monotonic() - self._last_sync < SYNC_EVERY_S):
            return
        self._last_sync = time.monotonic()
        try:
            for name in self.appended:
                self._append_new(name)
            for name in REPLACED:
                data = self.fetch(name)
                if data is not None:
                    atomic_write(self.run_dir / name, data, durable=False)  # live.json: rewritten each second
            code = self.fetch(EXIT_FILE)
        except FetchFailed as exc:
            self.fetch_failures += 1
            log.warning("copy from the Locust master paused: %s", exc)
            return
        if code is not None and code.strip():
            self.exit_code = int(code.strip())

    @property
    def appended(self) -> tuple[str, ...]:
        return APPENDED

    def fetch(self, path: str, start: int | None = None, length: int | None = None) -> bytes | None:
        """A file of the master's run directory (from byte `start`, at most `length` bytes, when given).

        None while the file does not exist (or the pod is not serving yet); b"" when
        it has nothing from `start` on. FetchFailed when the request fails or times out.
        """
        from kubernetes.client.rest import ApiException

        # param_serialize + call_api rather than connect_get_namespaced_service_proxy_with_path,
        # which percent-encodes the slashes of `path` into one segment
        api = self._files_api()
        length = length or CHUNK
        headers = {} if start is None else {"Range": f"bytes={start}-{start + length - 1}"}
        request = api.param_serialize(
            "GET",
            f"/api/v1/namespaces/{{namespace}}/services/{{name}}/proxy/{path}",
            path_params={"namespace": self.plan.namespace, "name": f"{self.plan.name}:{FILES_PORT}"},
            header_params=headers,
            auth_settings=["BearerToken"],
        )
        try:
            response = api.call_api(*request, _request_timeout=REQUEST_TIMEOUT_S)
            data = response.read()
        except ApiException as exc:
            raise FetchFailed(f"GET {path}: {exc.status} {exc.reason}") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise FetchFailed(f"GET {path}: {type(exc).__name__}: {exc}") from None
        if response.status == 416:
            return b""  # nothing past `start` yet
        if response.status in (404, 503):
            return None  # not written yet, or the pod is not serving yet
        if response.status not in (200, 206):
            raise FetchFailed(f"GET {path}: {response.status} {response.reason}")
        if response.status == 206 or start is None:
            return data
        return data[start : start + length]  # a server that ignored the Range sent the whole file

    def _files_api(self) -> ApiClient:
        """An API client for the copies: like the cluster's, but a read that times out is not
        retried (urllib3 would retry it 3 times; the next sync retries anyway)."""
        if self._files_client is None:
            from kubernetes import client

            config = copy.deepcopy(self.cluster.core.api_client.configuration)
            config.retries = urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0)
            self._files_client = client.ApiClient(config)
        return self._files_client

    def _append_new(self, name: str) -> None:
        """Append the new whole lines of `name`, a chunk at a time."""
        for _ in range(CHUNKS_PER_SYNC):
            done = self.copied.get(name, 0)
            data = self.fetch(name, start=done)
            if not data:
                return
            end = data.rfind(b"\n") + 1  # only whole lines: the master may be mid-write
            if end == 0:
                return
            target = self.run_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "ab") as out:
                out.write(data[:end])
            self.copied[name] = done + end
            if len(data) < CHUNK:
                return
