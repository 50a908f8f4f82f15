"""pytest plugin: the test session fails if any process it started is still running at its end.

Each session gets a token (`GAMEDAY_TEST_SESSION`, see `processes.py`). The process that
runs the tests (pytest alone, or each xdist worker, which gets the controller's token)
adds it to its own environment before the first test, so every process a test starts
inherits it: stacks (supervisord and everything under it), Locust, `chaos run`, sink
readers, reapers, brokers, etcd, kube-apiserver, browsers. pytest's own processes do not
carry it (it was added after they started).

At the end (on the controller, after the xdist workers have torn their fixtures down),
processes still carrying the token get a short grace period to exit. Whatever is left
is printed, killed, and the session exits 1 even if every test passed.

Loaded by tests/conftest.py; `pytest -p leftovers` loads it for a test file elsewhere
(tests/test_leftovers.py does, to prove the check fails).
"""

from __future__ import annotations

import os
import sys
import time

import pytest
from processes import TOKEN_ENV, carrying, describe, kill_all, new_token, with_token

_TOKEN = pytest.StashKey[str]()
_WORKERINPUT = "gameday_test_session"


class _XdistController:
    """Hands the controller's token to each worker (a hook that exists only with xdist)."""

    @staticmethod
    def pytest_configure_node(node) -> None:
        node.workerinput[_WORKERINPUT] = node.config.stash[_TOKEN]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "leftover_grace",
        "seconds the processes still running at the end get to exit before they count as left behind",
        default="20",
    )


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    config.stash[_TOKEN] = workerinput[_WORKERINPUT] if workerinput else new_token()
    if config.pluginmanager.hasplugin("xdist") and workerinput is None:
        config.pluginmanager.register(_XdistController(), "gameday-leftovers-xdist")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    # The xdist controller starts no test process of its own; only its workers do, and it
    # must not hand the token to them through their initial environment.
    if session.config.pluginmanager.has_plugin("dsession"):
        return
    os.environ[TOKEN_ENV] = with_token(session.config.stash[_TOKEN])[TOKEN_ENV]


@pytest.hookimpl(trylast=True)  # after xdist has shut its workers down
def pytest_sessionfinish(session: pytest.Session) -> None:
    if hasattr(session.config, "workerinput"):
        return
    left = _still_running(session.config.stash[_TOKEN], float(session.config.getini("leftover_grace")))
    if not left:
        return
    lines = [describe(p) for p in left]
    kill_all(left)
    _report(session.config, lines)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _still_running(token: str, grace: float) -> list:
    """Processes carrying `token`, after up to `grace` seconds for those already exiting."""
    deadline = time.monotonic() + grace
    left = carrying(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = carrying(token)
    return left


def _report(config: pytest.Config, lines: list[str]) -> None:
    title = f"{len(lines)} process(es) started by this test session were still running (now killed)"
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        print("\n".join([title, *lines]), file=sys.stderr)
        return
    reporter.ensure_newline()
    reporter.write_sep("=", title, red=True, bold=True)
    for line in lines:
        reporter.write_line(line)
