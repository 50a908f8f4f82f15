"""harness.allowlist: loopback or $GAMEDAY_ALLOWED_HOSTS, never a name lookup; and the spec loader using it."""

from __future__ import annotations

import pytest
import yaml

from harness.allowlist import address_problem, is_allowed, url_problem
from harness.errors import SpecError
from harness.spec.loader import load_gameday
from harness.targets.http import HttpRun

NONE: dict[str, str] = {}


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts_are_allowed_without_a_list(host):
    assert is_allowed(host, NONE)


@pytest.mark.parametrize("host", ["10.1.2.3", "192.168.0.1", "example.com", "127.0.0.1.nip.io", "0.0.0.0", "::"])
def test_other_hosts_are_refused_without_a_list(host):
    assert not is_allowed(host, NONE)


def test_a_listed_name_address_or_network_is_allowed_and_nothing_else():
    env = {"GAMEDAY_ALLOWED_HOSTS": " staging.internal, 10.1.2.3 ,192.168.7.0/24"}
    assert is_allowed("staging.internal", env)
    assert is_allowed("10.1.2.3", env)
    assert is_allowed("192.168.7.200", env)
    assert not is_allowed("10.1.2.4", env)
    assert not is_allowed("192.168.8.1", env)
    assert not is_allowed("prod.internal", env)


def test_a_refusal_names_the_host_the_variable_and_what_it_lists():
    problem = url_problem("http://10.1.2.3:8000/x", "base_url", {"GAMEDAY_ALLOWED_HOSTS": "10.9.9.9"})
    assert "'10.1.2.3'" in problem and "$GAMEDAY_ALLOWED_HOSTS lists 10.9.9.9" in problem
    assert "export GAMEDAY_ALLOWED_HOSTS=10.1.2.3" in problem


def test_an_address_is_checked_by_its_host():
    assert address_problem("127.0.0.1:5672", "upstream", NONE) is None
    assert address_problem("[::1]:5672", "upstream", NONE) is None
    assert "not loopback" in address_problem("10.0.0.5:5672", "upstream", NONE)
    assert "not an address" in address_problem("5672", "upstream", NONE)


def write(tmp_path, base_url):
    profile = tmp_path / "locustfile.py"
    profile.write_text(
        "from locust import HttpUser, task\n\n\nclass U(HttpUser):\n    @task\n"
        "    def t(self):\n        self.client.get('/')\n"
    )
    spec = tmp_path / "gd.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "x",
                "target": {"kind": "http", "base_url": base_url},
                "load": {"profile": str(profile), "shape": "constant_rate", "rate": 1, "duration": "5s"},
                "slos": [{"sli": "availability", "phase": "run", "objective": ">= 99%"}],
            }
        )
    )
    return spec


def test_the_loader_refuses_a_non_loopback_base_url_at_its_yaml_path(tmp_path, monkeypatch):
    monkeypatch.delenv("GAMEDAY_ALLOWED_HOSTS", raising=False)
    spec = write(tmp_path, "http://10.1.2.3:8000")
    with pytest.raises(SpecError) as caught:
        load_gameday(spec, check_experiments=False)
    assert any(
        p.startswith(f"{spec}: target.base_url: ") and "GAMEDAY_ALLOWED_HOSTS" in p for p in caught.value.problems
    ), caught.value.problems


def test_the_loader_accepts_a_host_the_operator_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("GAMEDAY_ALLOWED_HOSTS", "10.1.2.3")
    spec = write(tmp_path, "http://10.1.2.3:8000")
    assert load_gameday(spec, check_experiments=False).target.base_url == "http://10.1.2.3:8000"


def test_a_spec_cannot_list_its_own_host(tmp_path, monkeypatch):
    monkeypatch.delenv("GAMEDAY_ALLOWED_HOSTS", raising=False)
    spec = write(tmp_path, "http://10.1.2.3:8000")
    doc = yaml.safe_load(spec.read_text())
    doc["env"] = {"GAMEDAY_ALLOWED_HOSTS": "10.1.2.3"}
    doc["allowed_hosts"] = ["10.1.2.3"]
    spec.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError) as caught:
        load_gameday(spec, check_experiments=False)
    assert any("target.base_url" in p for p in caught.value.problems)


def test_an_http_run_built_directly_refuses_too(monkeypatch):
    monkeypatch.delenv("GAMEDAY_ALLOWED_HOSTS", raising=False)
    with pytest.raises(SpecError, match="not loopback"):
        HttpRun("http://10.1.2.3:8000")
