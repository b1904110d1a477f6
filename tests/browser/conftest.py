"""Fixtures of the console's browser test (harness.py): one server and one
browser for the module, stopped by pid at the end, also when a test fails."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from harness import PAGES, Server, start_browser, stop_browser


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="postbox-console-") as folder:
        s = Server(Path(folder))
        try:
            yield s
        finally:
            s.stop()
        # The token never reaches the server's log (a failed login included:
        # the test tries a wrong one).
        assert s.token not in s.log.read_text(errors="replace"), \
            "the admin token is in the server's log"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    driver, service = start_browser()
    try:
        yield driver
    finally:
        stop_browser(driver, service)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    """$POSTBOX_ARTIFACTS (ctest: tests/artifacts/console in the build tree),
    emptied of the last run's screenshots."""
    folder = Path(os.environ.get("POSTBOX_ARTIFACTS") or
                  Path(tempfile.gettempdir()) / "postbox-console-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        (folder / ("console-%s.png" % page)).unlink(missing_ok=True)
    return folder
