"""A real Kubernetes control plane for the contract tests, started by scripts/kube-control-plane.

etcd (Debian's etcd-server) and kube-apiserver + kube-controller-manager built from
Debian's `kubernetes` source, on free loopback ports, in a directory of the test's own.
The API server authorizes with RBAC and logs every request (audit.log). There is no
scheduler and no kubelet: a Deployment gets its ReplicaSet and Pod objects, and a deleted
pod is replaced, but the pods stay Pending and never become ready.

    plane = KubeControlPlane(tmp_dir); plane.start()     # `build` first if not built
    plane.grant("ns")              # ns + deploy/stack/rbac.yaml's Role bound to USER, nothing else
    plane.kubeconfig(path, {"kind-gameday": USER, "prod": ADMIN})   # contexts -> identities
    plane.client(ADMIN)            # a kubernetes ApiClient
    plane.requests_since(t0, ADMIN)  # the audit log's requests by that user since t0
    plane.stop()                   # `down`, then anything still carrying its token is killed

Every process carries a token of its own (processes.Owned), and `up` gets the test
process's pid as --parent-pid: its watchdog takes the control plane down if pytest dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from processes import Owned

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kube-control-plane"
ADMIN = "gameday-admin"  # group system:masters
USER = "gameday-user"  # bound to deploy/stack/rbac.yaml's Role by `grant`, nothing else
UP_TIMEOUT_S = 300  # about 15 s on an idle machine
BUILD_TIMEOUT_S = 3600  # a cold build; scripts/test builds before pytest starts

T = TypeVar("T")


def build() -> str:
    """Build the binaries (or reuse the cached ones); their directory. Raises with the build's output."""
    result = subprocess.run(
        [str(SCRIPT), "build"], check=False, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/kube-control-plane build failed ({result.returncode}):\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


class KubeControlPlane:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.env: dict[str, str] = {}
        self._owned: Owned | None = None

    @property
    def server(self) -> str:
        return self.env["KCP_SERVER"]

    def start(self) -> None:
        """etcd, kube-apiserver and kube-controller-manager up, or RuntimeError with their logs (nothing left).

        `up` picks free ports and then binds them; a port taken in between (by another
        test's process) fails it, and it is tried once more on fresh ports."""
        build()
        for attempt in (1, 2):
            self._owned = Owned(
                [str(SCRIPT), "up", str(self.root), "--parent-pid", str(os.getpid())],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                _out, err = self._owned.proc.communicate(timeout=UP_TIMEOUT_S)
            except BaseException:
                self.stop()
                raise
            if self._owned.proc.returncode == 0:
                break
            self.stop()
            if attempt == 2 or "address already in use" not in err:
                raise RuntimeError(f"scripts/kube-control-plane up failed:\n{err}")
        self.env = dict(line.split("=", 1) for line in (self.root / "env").read_text().splitlines() if "=" in line)

    def stop(self) -> None:
        """`down` (TERM, then KILL, each process group), then SIGKILL anything else carrying its token."""
        try:
            subprocess.run([str(SCRIPT), "down", str(self.root)], check=False, capture_output=True, timeout=60)
        finally:
            if self._owned is not None:
                self._owned.kill()

    # ---- identities and namespaces ---------------------------------------------------
    def grant(self, namespace: str) -> str:
        """Create `namespace` with deploy/stack/rbac.yaml's Role bound to USER (as `up` does for 'gameday')."""
        result = subprocess.run(
            [str(SCRIPT), "grant", str(self.root), namespace], check=False, capture_output=True, text=True, timeout=180
        )
        if result.returncode != 0:
            raise RuntimeError(f"grant {namespace} failed:\n{result.stderr}")
        return namespace

    def kubeconfig(self, path: Path, contexts: Mapping[str, str], namespace: str = "default") -> Path:
        """A kubeconfig whose context NAME authenticates as IDENTITY (ADMIN or USER), for each item."""
        pki = self.root / "pki"
        who = {ADMIN: "admin", USER: "user"}
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": next(iter(contexts)),
            "clusters": [
                {"name": "kcp", "cluster": {"server": self.server, "certificate-authority": str(pki / "ca.crt")}}
            ],
            "users": [
                {
                    "name": identity,
                    "user": {
                        "client-certificate": str(pki / f"{who[identity]}.crt"),
                        "client-key": str(pki / f"{who[identity]}.key"),
                    },
                }
                for identity in dict.fromkeys(contexts.values())
            ],
            "contexts": [
                {"name": name, "context": {"cluster": "kcp", "user": identity, "namespace": namespace}}
                for name, identity in contexts.items()
            ],
        }
        path.write_text(yaml.safe_dump(doc))
        return path

    def client(self, identity: str = ADMIN):
        """A kubernetes ApiClient authenticated as `identity`."""
        from kubernetes import config

        path = self.root / f"client-{identity}.kubeconfig"
        if not path.exists():
            self.kubeconfig(path, {identity: identity})
        return config.new_client_from_config(config_file=str(path), context=identity, persist_config=False)

    # ---- the audit log -----------------------------------------------------------------
    def requests_since(self, since: float, username: str) -> list[dict[str, Any]]:
        """Requests `username` made since `since` (epoch s), from the audit log, as 'verb URI -> code' dicts.

        A marker request by the same user is made and awaited first, so every request that
        was answered before this call is in the log when it is read."""
        marker = f"audit-mark-{uuid.uuid4().hex[:8]}"
        from kubernetes import client
        from kubernetes.client.rest import ApiException

        try:
            client.CoreV1Api(self.client(username)).read_namespace(marker)
        except ApiException:
            pass  # 404 or 403: either way it is in the audit log
        (events,) = wait_for(lambda: _audit_until(self.root / "audit.log", marker), 30, f"audit event {marker}")
        return [e for e in events if e["user"] == username and e["ts"] >= since and "audit-mark-" not in e["uri"]]


def _audit_until(path: Path, marker: str) -> tuple[list[dict[str, Any]]] | None:
    """(every event before the marker,) once the marker is logged; None before."""
    events = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            event = json.loads(line)
            if marker in event.get("requestURI", ""):
                return (events,)
            stamp = datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp()
            events.append(
                {
                    "user": event["user"].get("username"),
                    "ts": stamp,
                    "verb": event["verb"],
                    "uri": event["requestURI"],
                    "code": event.get("responseStatus", {}).get("code"),
                }
            )
    return None


def wait_for(check: Callable[[], T | None], timeout: float, what: str, every: float = 0.5) -> T:
    """check()'s first truthy result, polled until `timeout` seconds; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout:g} s (last: {result!r})")
        time.sleep(every)


# ---- the reference stack, as `kubectl apply -k deploy/stack` would create it ----------------
STACK = ROOT / "deploy" / "stack"


def deploy_stack(api_client, namespace: str) -> None:
    """The objects of deploy/stack's kustomization in `namespace`, created as the cluster's owner would.

    Each resource file it lists, plus its generated ConfigMap; not rbac.yaml, which `grant`
    already created. kubectl is not needed (nor installed by the project)."""
    from kubernetes import client, utils

    kustomization = yaml.safe_load((STACK / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        if name != "rbac.yaml":
            utils.create_from_yaml(api_client, str(STACK / name), namespace=namespace)
    for generated in kustomization.get("configMapGenerator", []):
        data = {Path(f).name: (STACK / f).read_text() for f in generated["files"]}
        client.CoreV1Api(api_client).create_namespaced_config_map(
            namespace, {"metadata": {"name": generated["name"]}, "data": data}
        )


def pod_names(api_client, namespace: str, selector: str) -> set[str]:
    """Names of the pods matching `selector` that are not being deleted."""
    from kubernetes import client

    items = client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector=selector).items
    return {p.metadata.name for p in items if p.metadata.deletion_timestamp is None}
