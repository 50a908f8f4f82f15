"""Debian's chromium, headless, driven by Playwright: for the tests that open reports and the UI.

`scripts/bootstrap` installs both (playwright from the test extra, chromium with apt-get),
so a missing one fails the test with what to run instead of skipping it: a skipped
browser test would prove nothing.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def playwright() -> Any:
    """`sync_playwright()`, ready for a `with` block; fails the test when a piece is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run ./scripts/bootstrap (pip install -e '.[test]')")
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run ./scripts/bootstrap (apt-get install -y chromium)")
    return sync_playwright()


def launch(p: Any) -> Any:
    """A headless chromium browser from the Playwright handle `p`."""
    return p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
