# The test process itself is NOT gevent-patched: pytest-xdist's workers (execnet) and
# our own tests use real threads, which patch_all() would turn into greenlets (and
# execnet then dies with LoopExit). Locust reads LOCUST_SKIP_MONKEY_PATCH at import;
# the variable is removed again at once so that every Locust child a test starts is
# patched exactly as in production. What needs a patched process (the Kafka reader
# as a greenlet) is tested in a child process.
import os
import sys
from pathlib import Path

os.environ["LOCUST_SKIP_MONKEY_PATCH"] = "1"
import locust  # noqa: E402,F401  (imported first: see docs/architecture.md on import order)

del os.environ["LOCUST_SKIP_MONKEY_PATCH"]

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "e2e"))  # e2e_support: real stacks and `gameday` runs

import pytest  # noqa: E402

# The session fails if a process it started outlives it (tests/leftovers.py).
pytest_plugins = ("leftovers",)


@pytest.fixture(scope="module")
def healthy_stack(tmp_path_factory):
    """A reference stack started separately, as an SRE would, shared by one test module's game days."""
    from e2e_support import Stack

    stack = Stack(tmp_path_factory.mktemp("home"), "healthy")  # each module has a GAMEDAY_HOME of its own
    stack.up()
    yield stack
    stack.down()
