# Import locust first: importing urllib3/requests/kubernetes before locust breaks
# gevent's monkey-patching with a RecursionError (see docs/architecture.md).
import locust  # noqa: F401
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
