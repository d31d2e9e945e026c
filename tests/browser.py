"""Headless Chromium for the tests that look at a page as a person does (the playground, `/docs`).

Chromium and ChromeDriver are Debian's (`apt-get install chromium chromium-driver`; .ci/run installs
them). Missing, a browser test is skipped on a developer's machine and FAILS under CI=true, so a CI
that lost the browser cannot pass quietly. Every wait is bounded by WAIT.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
WAIT = 60  # seconds: a bound on each wait, not a speed assertion
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run")


@contextmanager
def headless_chromium(prefix: str, *flags: str) -> Iterator[object]:
    """A Selenium driver of a fresh Chromium profile, quit and removed afterwards; `flags` are added
    to FLAGS (a window size, host resolver rules)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        missing = " and ".join(n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if p is None)
        message = f"{missing} not installed: apt-get install -y chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (*FLAGS, *flags):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix=f"{prefix}-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
