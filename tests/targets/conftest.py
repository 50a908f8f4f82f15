"""Fixtures of the Kubernetes target tests: a real control plane (kube_support)."""

from __future__ import annotations

import subprocess

import pytest

KUBE_FIXTURE = "kube"
_build_failure: list[str] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build (or reuse) kube-apiserver before the first test, outside any test's timeout.

    A cold build takes minutes; inside the fixture it would count against the first
    test's pytest-timeout. Only when a collected test uses the control plane. A failed
    build fails those tests (the fixture raises its output), not the whole session."""
    if any(KUBE_FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        from kube_support import build

        try:
            build()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            _build_failure.append(str(exc))


@pytest.fixture(scope="module")
def kube(tmp_path_factory):
    """etcd + kube-apiserver + kube-controller-manager for one test module; every process killed at its end."""
    from kube_support import KubeControlPlane

    if _build_failure:
        raise RuntimeError(_build_failure[0])
    plane = KubeControlPlane(tmp_path_factory.mktemp("kube"))
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()
