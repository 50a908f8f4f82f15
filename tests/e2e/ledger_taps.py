"""A user's callable sink for the record_event tests: yields each id written to $GAMEDAY_TEST_TAP_FILE."""

from __future__ import annotations

import os
import time
from pathlib import Path


def tail_ids():
    path = Path(os.environ["GAMEDAY_TEST_TAP_FILE"])
    path.touch()
    with open(path) as handle:
        while True:
            line = handle.readline()
            if line.endswith("\n"):
                yield line.strip()
            else:
                if line:
                    handle.seek(handle.tell() - len(line))
                time.sleep(0.05)
