"""scripts/kube-control-plane: what it serves, and that nothing it starts outlives `down` or its parent."""

from __future__ import annotations

import os
import subprocess

import psutil
import pytest
from kube_support import ADMIN, SCRIPT, USER, KubeControlPlane, wait_for

pytestmark = pytest.mark.slow


def started(root) -> list[psutil.Process]:
    """The process group leaders `up` recorded (etcd, kube-apiserver, kube-controller-manager)."""
    pids = [int(line.split()[0]) for line in (root / "pids").read_text().splitlines()]
    return [psutil.Process(pid) for pid in pids]


def running(procs: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_up_serves_the_built_version_with_rbac_and_down_kills_every_group(tmp_path):
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    plane = KubeControlPlane(tmp_path / "kcp")
    plane.start()
    try:
        procs = started(plane.root)
        assert sorted(p.name() for p in procs) == ["etcd", "kube-apiserver", "kube-controller-manager"]
        assert all(os.getpgid(p.pid) == p.pid for p in procs), "each leads its own process group"
        built = subprocess.run(
            [f"{plane.env['KCP_BIN']}/kube-apiserver", "--version"],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()[-1]
        assert client.VersionApi(plane.client(ADMIN)).get_code().git_version == built == "v1.20.2"
        with pytest.raises(ApiException) as refused:  # RBAC is on: the user is not an admin
            client.CoreV1Api(plane.client(USER)).list_namespace()
        assert refused.value.status == 403
    finally:
        plane.stop()
    assert running(procs) == []
    assert not (plane.root / "pids").exists()


def test_the_control_plane_goes_down_when_the_process_that_started_it_dies(tmp_path):
    parent = subprocess.Popen(["sleep", "600"])
    root = tmp_path / "kcp"
    try:
        up = subprocess.run(
            [str(SCRIPT), "up", str(root), "--parent-pid", str(parent.pid)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert up.returncode == 0, up.stderr
        procs = started(root)
        assert len(running(procs)) == 3
        parent.kill()
        parent.wait()
        wait_for(lambda: running(procs) == [], 60, "etcd, apiserver and controller-manager gone")
    finally:
        parent.kill()
        subprocess.run([str(SCRIPT), "down", str(root)], check=False, capture_output=True, timeout=60)
