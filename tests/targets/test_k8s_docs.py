"""docs/kubernetes.md's RBAC step, run as written against a real kube-apiserver (kube_support)
with the kubectl on this machine: the identity it binds is the one the API server authenticates."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kube_support import ADMIN, USER

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "kubernetes.md"
MARKER = "<!-- tests/targets/test_k8s_docs.py runs this block against a real API server -->"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the docs' steps are kubectl commands")


NAMESPACE = "rbac-docs"  # the control plane's own `gameday` namespace already binds its test user


def in_namespace(line: str) -> str:
    """A docs line with the namespace `gameday` (not the names gameday-harness...) as NAMESPACE."""
    return re.sub(r"\bgameday\b(?!-)", NAMESPACE, line)


def rbac_block() -> list[str]:
    """The shell lines of the block under MARKER in docs/kubernetes.md, in NAMESPACE."""
    text = DOCS.read_text(encoding="utf-8")
    assert MARKER in text, "docs/kubernetes.md lost its RBAC block marker"
    block = re.search(r"```sh\n(.*?)```", text[text.index(MARKER) :], re.DOTALL).group(1)
    return [in_namespace(line) for line in block.splitlines() if line.strip()]


def run(line: str, kubeconfig: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", line],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)},
    )


@pytest.fixture
def stack_namespace(kube, tmp_path):
    """NAMESPACE with deploy/stack/rbac.yaml applied (as `kubectl apply -k deploy/stack` does), and an
    admin kubeconfig whose context, like kind's, names a user entry unlike its identity."""
    kubeconfig = kube.kubeconfig(tmp_path / "kubeconfig", {"kind-gameday": ADMIN}, namespace=NAMESPACE)
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["users"][0]["name"] = "kind-gameday"  # kind's entry name; the certificate says otherwise
    doc["contexts"][0]["context"]["user"] = "kind-gameday"
    kubeconfig.write_text(yaml.safe_dump(doc))
    for line in (
        f"kubectl get namespace {NAMESPACE} || kubectl create namespace {NAMESPACE}",
        f"kubectl -n {NAMESPACE} apply -f {ROOT}/deploy/stack/rbac.yaml",
    ):
        result = run(line, kubeconfig)
        assert result.returncode == 0, result.stderr
    return kubeconfig


def test_the_docs_rbac_step_gives_an_identity_with_the_role_in_its_namespace_only(stack_namespace):
    kubeconfig = stack_namespace
    answers = []
    for line in rbac_block():
        result = run(line, kubeconfig)
        if "auth can-i" in line:
            answers.append((line.split("#")[-1].strip(), result.stdout.strip()))
        else:
            assert result.returncode == 0, f"{line}\n{result.stderr}"
    assert answers == [("yes", "yes"), ("no", "no")], answers
    # the context really authenticates as the ServiceAccount, and reaches what a game day needs
    allowed = run(
        f"kubectl --context gameday-harness -n {NAMESPACE} get deployments,networkpolicies,configmaps", kubeconfig
    )
    assert allowed.returncode == 0, allowed.stderr
    denied = run("kubectl --context gameday-harness -n default get pods", kubeconfig)
    assert denied.returncode != 0 and f"system:serviceaccount:{NAMESPACE}:gameday-harness" in denied.stderr


def test_binding_a_kubeconfig_entry_name_grants_nobody_anything(kube, stack_namespace, tmp_path):
    """What the docs used to say: bind `.contexts[0].context.user`, a name in the kubeconfig.
    The user the API server authenticates (the certificate's CN) gets nothing from it."""
    kubeconfig = stack_namespace
    old = (
        f"kubectl -n {NAMESPACE} create rolebinding gameday-harness-by-entry --role gameday-harness "
        "--user \"$(kubectl config view --minify -o jsonpath='{.contexts[0].context.user}')\""
    )
    assert run(old, kubeconfig).returncode == 0
    limited = kube.kubeconfig(tmp_path / "user", {"laptop": USER}, namespace=NAMESPACE)
    doc = yaml.safe_load(limited.read_text())
    doc["users"][0]["name"] = "kind-gameday"  # the same entry name, another authenticated user
    doc["contexts"][0]["context"]["user"] = "kind-gameday"
    limited.write_text(yaml.safe_dump(doc))
    assert run(f"kubectl -n {NAMESPACE} auth can-i delete pods", limited).stdout.strip() == "no"
