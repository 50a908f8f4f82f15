"""deploy/ validates offline: every manifest (and every object the harness creates) against
the pinned Kubernetes version's schemas, strictly; the Dockerfile at lint level."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from harness.targets.k8s.locust_objects import LocustPlan, manifests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.31.0"   # the oldest version docs/kubernetes.md supports


def kustomize(folder: str) -> list[dict]:
    """The folder's objects as `kubectl kustomize` renders them; without kubectl, its
    `resources:` files as written (the generators and image overrides are then not applied)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        config = yaml.safe_load((DEPLOY / folder / "kustomization.yaml").read_text())
        return [doc for name in config["resources"]
                for doc in yaml.safe_load_all((DEPLOY / folder / name).read_text()) if doc]
    out = subprocess.run([kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(DEPLOY / folder)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def assert_valid(docs: list[dict]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_stack_manifests_validate():
    assert_valid(kustomize("stack"))


def test_locust_manifests_validate():
    assert_valid(kustomize("locust"))


def test_stack_has_every_deployment_the_k8s_experiments_name():
    names = {d["metadata"]["name"] for d in kustomize("stack") if d["kind"] == "Deployment"}
    assert names == {"gateway", "model-replica", "model-canary", "scorer", "kafka"}


def test_every_stack_container_has_requests_and_every_server_a_readiness_probe():
    for dep in (d for d in kustomize("stack") if d["kind"] == "Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            assert c["resources"]["requests"], (dep["metadata"]["name"], c["name"])
            if c["name"] != "gateway":   # the gateway listens on loopback; its hops sidecar is probed
                assert "readinessProbe" in c, (dep["metadata"]["name"], c["name"])


def test_objects_the_harness_creates_validate():
    plan = LocustPlan(run="20261126t000000z-x", namespace="gameday", image="gameday:0.1.0", workers=4,
                      host="http://gateway.gameday.svc:80", profile_name="inference.py", profile_text="#\n",
                      inject_text="#\n", locust_args=("--gameday-shape", "constant_rate"), expires_at=time.time())
    assert_valid(manifests(plan))


def test_invalid_manifest_is_rejected():
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "three"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_dockerfile_pins_its_base_image_and_installs_the_project():
    parser = DockerfileParser(str(DEPLOY / "Dockerfile"))
    base = parser.baseimage
    assert ":" in base and not base.endswith(":latest"), base
    instructions = [(i["instruction"], i["value"]) for i in parser.structure]
    copied = " ".join(v for k, v in instructions if k == "COPY")
    for needed in ("pyproject.toml", "harness", "stack"):
        assert needed in copied
    assert any(k == "RUN" and "pip install ." in v for k, v in instructions)
    assert any(k == "USER" for k, _ in instructions)
