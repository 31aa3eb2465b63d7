"""Debian's Chromium driven by Playwright, shared by the browser tests; missing parts fail in CI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def like_a_terminal() -> None:
    """preexec_fn for a server the test stops with Ctrl-C (SIGINT): a process started where SIGINT is
    ignored (a background CI job, a library in the test process) would inherit that and never stop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def missing(why: str):
    if IN_CI:
        pytest.fail(f"{why} (CI=true: this test must run; scripts/setup.sh --tests installs it)")
    pytest.skip(why)


@contextmanager
def chromium_browser(*extra_args: str) -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright's Python package is not installed (pip install -e '.[test]')")
    if not shutil.which(CHROMIUM):
        missing(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args], headless=True)
        try:
            yield browser
        finally:
            browser.close()
