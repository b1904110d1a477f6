"""What tests/browser/test_console.py runs against: a real postbox-server with
its HTTP listener and an admin token, and headless Chromium under
chromedriver, all on 127.0.0.1, each stopped by its pid (conftest.py's
fixtures stop them when the test ends, also when it fails).

The build passes the paths in POSTBOX_SERVER_BIN, POSTBOX_CHROMIUM and
POSTBOX_CHROMEDRIVER (tests/browser/CMakeLists.txt).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import server_process  # bindings/testing
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

WAIT = 10.0
WIDTH, HEIGHT = 1280, 900  # the screenshots' size
PAGES = ("login", "mailboxes", "mailbox", "sessions", "health")  # one screenshot each

# Runs in every document before the page's own script (through the DevTools
# protocol, so the page's policy does not apply to it): collects the
# securitypolicyviolation events the page raises.
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' +
                              (e.sourceFile || '') + ':' + (e.lineNumber || 0));
});
"""


class Server:
    """postbox-server over a store in `folder`, with the HTTP listener and an
    admin token (random, in a file only the owner reads)."""

    def __init__(self, folder: Path) -> None:
        self.token = secrets.token_urlsafe(32)  # 43 characters
        self.token_file = folder / "admin-token"
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.token + "\n")
        self.log = folder / "server.log"
        self.proc: Optional[subprocess.Popen[bytes]] = server_process.start(
            os.environ.get("POSTBOX_SERVER_BIN", ""),
            ["--data", str(folder / "data"), "--listen", "127.0.0.1:0",
             "--http-listen", "127.0.0.1:0", "--admin-token-file", str(self.token_file),
             "--threads", "1"],
            self.log)
        try:
            # It prints the sync listener's line, then the HTTP listener's.
            self.port = server_process.read_port(self.proc, server_process.SYNC_LINE, self.log)
            self.http_port = server_process.read_port(self.proc, server_process.HTTP_LINE,
                                                      self.log)
        except BaseException:
            self.stop()
            raise
        self.base = "http://127.0.0.1:%d" % self.http_port

    def stop(self) -> None:
        """SIGTERM by pid, SIGKILL if it does not exit in time."""
        proc, self.proc = self.proc, None
        server_process.stop(proc)

    def request(self, method: str, path: str, bearer: bool = True,
                headers: Optional[Dict[str, str]] = None,
                body: Optional[bytes] = None) -> Tuple[int, Dict[str, str], bytes]:
        """(status, headers with lower-case names, body) of one request to the
        HTTP listener, redirects not followed; `bearer` adds the admin token."""
        req = urllib.request.Request(self.base + path, method=method, data=body,
                                     headers=dict(headers or {}))
        if bearer:
            req.add_header("Authorization", "Bearer " + self.token)
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(req, timeout=WAIT) as res:
                return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def api(self, method: str, path: str) -> Tuple[int, Any]:
        """(status, parsed JSON or None) of an admin request with the bearer token."""
        status, _, body = self.request(method, path)
        return status, (json.loads(body) if body.strip() else None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def start_browser() -> Tuple[WebDriver, Service]:
    """Headless Chromium under chromedriver (both on 127.0.0.1), its viewport
    WIDTH x HEIGHT, the browser's console log kept, CSP_WATCH in every page."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("POSTBOX_CHROMIUM", "/usr/bin/chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=%d,%d" % (WIDTH, HEIGHT), "--no-first-run",
                "--disable-extensions", "--disable-background-networking", "--disable-sync",
                "--disable-default-apps", "--password-store=basic", "--lang=en-US",
                "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(os.environ.get("POSTBOX_CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_script_timeout(WAIT)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    except BaseException:
        stop_browser(driver, service)
        raise
    return driver, service


def stop_browser(driver: WebDriver, service: Service) -> None:
    """quit() ends Chromium and chromedriver; chromedriver by its pid if it did not."""
    try:
        driver.quit()
    finally:
        proc = service.process
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
