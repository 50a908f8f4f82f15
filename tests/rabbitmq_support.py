"""A real RabbitMQ (Debian's rabbitmq-server) for tests, on free loopback ports, in a directory of its own.

Each broker gets its own node name, data and log directories, config, Erlang cookie
(HOME), AMQP port, distribution port and epmd port, so several run side by side and
none touches /var/lib/rabbitmq. epmd is started here, in the foreground in a session
of its own (the broker would otherwise start a daemonized one that outlives it). Every
process carries GAMEDAY_TEST_RABBIT=<token> in its environment; `stop()` kills both
sessions and then anything else still carrying the token (Erlang's port helpers run
in sessions of their own).

scripts/bootstrap installs the package; without it these tests fail (not skip).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from support import free_port

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
BOOT_TIMEOUT_S = 90  # about 6 s on an idle machine; much longer beside other stacks


def epmd_binary() -> str:
    found = sorted(Path("/usr/lib/erlang").glob("erts-*/bin/epmd"))
    if not found:
        raise RuntimeError("epmd not found under /usr/lib/erlang: install rabbitmq-server (scripts/bootstrap)")
    return str(found[-1])


class RabbitMQ:
    """One broker: `start()`, then `url` (amqp://guest:guest@127.0.0.1:PORT/%2F), then `stop()`."""

    def __init__(self, root: Path) -> None:
        if not SERVER.exists():
            raise RuntimeError(f"{SERVER} is missing: install Debian's rabbitmq-server (scripts/bootstrap does)")
        self.root = root
        self.port, self.dist_port, self.epmd_port = free_port(), free_port(), free_port()
        self.token = uuid.uuid4().hex[:12]
        self.node = f"gd{self.token}@localhost"
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        r = self.root
        (r / "mnesia").mkdir(parents=True, exist_ok=True)
        (r / "log").mkdir(exist_ok=True)
        (r / "enabled_plugins").write_text("[].\n")
        (r / "rabbitmq.conf").write_text("loopback_users = none\n")
        return {
            **os.environ,
            "HOME": str(r),
            "GAMEDAY_TEST_RABBIT": self.token,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(r / "mnesia"),
            "RABBITMQ_LOG_BASE": str(r / "log"),
            "RABBITMQ_CONFIG_FILE": str(r / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(r / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(r / "plugins-expand"),
            "RABBITMQ_PID_FILE": str(r / "pid"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(r / "advanced.config"),
        }

    def start(self) -> RabbitMQ:
        env = self.env()
        log = open(self.root / "server.log", "ab")
        try:
            self.processes.append(
                subprocess.Popen(
                    [epmd_binary(), "-port", str(self.epmd_port)],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            self.processes.append(
                subprocess.Popen([str(SERVER)], env=env, stdout=log, stderr=log, start_new_session=True, cwd=self.root)
            )
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        finally:
            log.close()
        return self

    def wait_ready(self) -> None:
        import pika

        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.processes[-1].poll() is not None:
                break
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.3)
        tail = (self.root / "server.log").read_text(errors="replace")[-3000:]
        raise RuntimeError(f"rabbitmq-server did not come up on {self.port}: {tail}")

    def stop(self) -> None:
        for proc in reversed(self.processes):
            _kill_group(proc)
        for pid in _carrying(self.token):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.processes.clear()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass


def _carrying(token: str) -> list[int]:
    marker = f"GAMEDAY_TEST_RABBIT={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found
