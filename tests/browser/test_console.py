"""The web console (engine/src/sync/server/console/) in a real browser.

A real postbox-server on 127.0.0.1 with an admin token and the HTTP listener;
headless Chromium (Debian's chromium + chromium-driver) driven by Selenium
(python3-selenium); a real sync client from bindings/python. The test logs
in, manages mailboxes and connections, watches a client's session appear and
kicks it, reads the health charts, deletes a mailbox through its
confirmation, and checks from the browser's side that the token never shows
in a URL or storage, that the Content-Security-Policy holds (no violation is
reported), and that the pages are labelled and usable with the keyboard. It
saves a screenshot of each page in $POSTBOX_ARTIFACTS.

Everything it starts (the server, chromedriver and its Chromium) listens on
127.0.0.1 only and is stopped by pid when the test ends, also when it fails.
ctest sets POSTBOX_SERVER_BIN, POSTBOX_C_LIBRARY, PYTHONPATH (bindings/python),
POSTBOX_CHROMIUM, POSTBOX_CHROMEDRIVER and POSTBOX_ARTIFACTS
(tests/browser/CMakeLists.txt).
"""

from __future__ import annotations

import html.parser
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

import postbox
from harness import PAGES, WAIT, Server

APP_VERSION = "console-test/1.2.3"

# The console's policy, as docs/operations.md states it.
EXPECTED_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

# Problems of the page's accessibility, as a list of strings (empty: none).
A11Y_CHECK = """
const problems = [];
const text = (e) => (e ? e.textContent.replace(/\\s+/g, ' ').trim() : '');
const byIds = (e, attr) => (e.getAttribute(attr) || '').split(/\\s+/).filter(Boolean)
    .map((id) => text(document.getElementById(id))).join(' ').trim();
const describe = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
    ' ' + e.outerHTML.slice(0, 90);
for (const e of document.querySelectorAll('input, select, textarea')) {
  if (e.type === 'hidden') continue;
  const label = [...(e.labels || [])].map(text).join(' ').trim() ||
      (e.getAttribute('aria-label') || '').trim() || byIds(e, 'aria-labelledby');
  if (!label) problems.push('control without a label: ' + describe(e));
}
for (const e of document.querySelectorAll('button, [role=button], input[type=submit]')) {
  const name = (e.getAttribute('aria-label') || '').trim() || byIds(e, 'aria-labelledby') ||
      text(e) || (e.getAttribute('title') || '').trim() || (e.value || '').trim();
  if (!name) problems.push('button without a name: ' + describe(e));
}
for (const e of document.querySelectorAll('a[href]')) {
  if (!text(e) && !(e.getAttribute('aria-label') || '').trim()) {
    problems.push('link without a name: ' + describe(e));
  }
}
for (const e of document.querySelectorAll('img')) {
  if (!e.hasAttribute('alt')) problems.push('image without alt: ' + describe(e));
}
for (const e of document.querySelectorAll('svg')) {
  const title = e.querySelector(':scope > title');
  const name = (e.getAttribute('aria-label') || '').trim() || byIds(e, 'aria-labelledby') ||
      text(title);
  if (!name && e.getAttribute('aria-hidden') !== 'true') {
    problems.push('svg without a title or aria-label: ' + describe(e));
  }
}
for (const e of document.querySelectorAll('th')) {
  if (!['col', 'row', 'colgroup', 'rowgroup'].includes(e.getAttribute('scope'))) {
    problems.push('th without scope: ' + describe(e));
  }
}
for (const e of document.querySelectorAll('[aria-labelledby], [aria-describedby]')) {
  for (const attr of ['aria-labelledby', 'aria-describedby']) {
    for (const id of (e.getAttribute(attr) || '').split(/\\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) problems.push(attr + ' names no element: ' + describe(e));
    }
  }
}
const seen = new Set();
for (const e of document.querySelectorAll('[id]')) {
  if (seen.has(e.id)) problems.push('duplicate id ' + e.id);
  seen.add(e.id);
}
if (!(document.documentElement.getAttribute('lang') || '').trim()) problems.push('no lang');
const h1 = document.querySelectorAll('h1').length;
if (h1 !== 1) problems.push('expected one h1, found ' + h1);
if (!document.title.trim()) problems.push('no title');
const live = document.querySelectorAll('[aria-live], [role=status], [role=alert]').length;
if (live === 0) problems.push('no live region for status messages');
return problems;
"""


# ---- Helpers ------------------------------------------------------------------------


def wait_for(driver: WebDriver, what: str, predicate: Callable[[WebDriver], Any],
             timeout: float = WAIT) -> Any:
    """Polls `predicate` (stale elements count as not yet) until it gives a true value."""
    deadline = time.monotonic() + timeout
    last_error: Optional[Exception] = None
    while True:
        try:
            value = predicate(driver)
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as e:
            last_error = e
        if time.monotonic() > deadline:
            error = driver.find_element(By.ID, "error").text
            raise AssertionError("timed out after %.0f s waiting for %s (page error: %r%s)"
                                 % (timeout, what, error,
                                    ", last exception: %s" % last_error if last_error else ""))
        time.sleep(0.05)


def by_id(driver: WebDriver, element_id: str) -> WebElement:
    return driver.find_element(By.ID, element_id)


def shown_page(driver: WebDriver) -> List[str]:
    return [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "main .page")
            if e.is_displayed()]


def wait_page(driver: WebDriver, page: str) -> None:
    wait_for(driver, "page %s" % page, lambda d: shown_page(d) == ["page-" + page])


def active_id(driver: WebDriver) -> str:
    return driver.execute_script("return document.activeElement && document.activeElement.id")


def press(driver: WebDriver, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver: WebDriver, element_id: str, limit: int = 40) -> None:
    """Moves focus to `element_id` with TAB key presses only."""
    for _ in range(limit):
        if active_id(driver) == element_id:
            return
        press(driver, Keys.TAB)
    raise AssertionError("#%s cannot be reached with TAB (focus ends on #%s)"
                         % (element_id, active_id(driver)))


def check_focus_visible(driver: WebDriver) -> None:
    outline = driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return [s.outlineStyle, parseFloat(s.outlineWidth)];")
    assert outline[0] != "none" and outline[1] >= 2, \
        "focus on #%s is not visible (outline %r)" % (active_id(driver), outline)


def check_accessible(driver: WebDriver, where: str) -> None:
    problems = driver.execute_script(A11Y_CHECK)
    assert problems == [], "accessibility problems on the %s page: %s" % (where, problems)


def screenshot(driver: WebDriver, folder: Path, page: str) -> None:
    path = folder / ("console-%s.png" % page)
    assert driver.save_screenshot(str(path)), "no screenshot of the %s page" % page
    assert path.stat().st_size > 10000, "the screenshot of the %s page is blank" % page


def status_text(driver: WebDriver) -> str:
    return by_id(driver, "status").text


def row(driver: WebDriver, tbody: str, mkey: str) -> Optional[WebElement]:
    rows = driver.find_elements(By.CSS_SELECTOR, '#%s tr[data-mkey="%s"]' % (tbody, mkey))
    return rows[0] if rows else None


def row_mkeys(driver: WebDriver, tbody: str) -> List[str]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#' + arguments[0] + ' tr')]"
        ".map((r) => r.getAttribute('data-mkey'));", tbody)


def click_nav(driver: WebDriver, page: str) -> None:
    by_id(driver, "nav-" + page).click()
    wait_page(driver, page)


def create_mailbox(driver: WebDriver, keyboard: bool) -> Tuple[str, str]:
    """Creates a mailbox with the page's button: (mkey, secret) as shown once."""
    before = by_id(driver, "created-mkey").text if by_id(driver, "created-panel").is_displayed() \
        else ""
    if keyboard:
        tab_to(driver, "create-mailbox")
        check_focus_visible(driver)
        press(driver, Keys.ENTER)
    else:
        by_id(driver, "create-mailbox").click()
    mkey = wait_for(driver, "the new mailbox's key",
                    lambda d: by_id(d, "created-panel").is_displayed() and
                    by_id(d, "created-mkey").text not in ("", before) and
                    by_id(d, "created-mkey").text)
    secret = by_id(driver, "created-secret").text
    assert re.fullmatch(r"[0-9a-f]{32}", mkey), mkey
    assert len(secret) >= 16, "the secret shown is %r" % secret
    assert "shown only now" in by_id(driver, "created-note").text
    wait_for(driver, "the new mailbox in the list", lambda d: row(d, "mailbox-rows", mkey))
    return mkey, secret


def check_health_page(d: WebDriver, server: Server, artifacts: Path) -> None:
    """The charts drawn from the server's samples, refreshed while shown."""
    click_nav(d, "health")
    names = ("sessions", "commits", "latency", "errors", "store")
    for name in names:
        wait_for(d, "the %s chart" % name, lambda d: d.find_elements(By.ID, "chart-" + name))

    def drawn(d: WebDriver) -> bool:
        return all(int(p.get_attribute("data-points")) >= 2 for p in d.find_elements(
            By.CSS_SELECTOR, "#chart-sessions path.chart-line, #chart-store path.chart-line"))
    wait_for(d, "charts with two samples or more", lambda d: drawn(d) and
             len(d.find_elements(By.CSS_SELECTOR, "#chart-store path.chart-line")) == 1)
    titles = d.execute_script(
        "return [...document.querySelectorAll('#charts svg')].map((s) => [s.getAttribute('role'),"
        " (s.querySelector(':scope > title') || {textContent: ''}).textContent.trim()]);")
    assert len(titles) == len(names) and all(role == "img" and title for role, title in titles), \
        "charts without role=img and a title: %s" % titles
    # The kick answered the client 503 ("closed by the operator"): errors by code show it.
    wait_for(d, "the kick's 503 among the errors", lambda d: d.find_elements(
        By.CSS_SELECTOR, '#chart-errors path[data-series="503"]'))
    # Every series the server's samples have a number for is drawn, through
    # each of those samples (read at once: the page redraws every 2 s).
    drawn_now = d.execute_script(
        "return {latest: document.getElementById('charts').getAttribute('data-latest'),"
        " paths: [...document.querySelectorAll('#charts path.chart-line')].map((p) =>"
        " [p.closest('figure').id, p.getAttribute('data-series'),"
        "  Number(p.getAttribute('data-points'))])};")
    _, health = server.api("GET", "/admin/health")
    shown = [s for s in health["samples"] if s["t_ms"] <= int(drawn_now["latest"])]
    assert shown and shown[-1]["t_ms"] == int(drawn_now["latest"]), (drawn_now, health)
    series: Dict[Tuple[str, str], Callable[[Dict[str, Any]], Any]] = {
        ("chart-sessions", "sessions"): lambda s: s["sessions"],
        ("chart-commits", "commits/s"): lambda s: s["commits_per_s"],
        ("chart-latency", "p50"): lambda s: s["commit_p50_ms"],
        ("chart-latency", "p99"): lambda s: s["commit_p99_ms"],
        ("chart-errors", "all codes"): lambda s: s["errors_per_s"],
        ("chart-store", "used"): lambda s: s["store_used_bytes"],
    }
    for code in sorted({code for s in shown for code in s["errors"]}):
        series[("chart-errors", code)] = lambda s: 1
    expected = {key: sum(isinstance(value(s), (int, float)) for s in shown)
                for key, value in series.items()}
    assert {(f, n): points for f, n, points in drawn_now["paths"]} == \
        {key: n for key, n in expected.items() if n}, "the charts do not show the samples"
    assert expected[("chart-latency", "p50")] > 0, "no commit latency in %s" % shown
    latest = by_id(d, "charts").get_attribute("data-latest")
    wait_for(d, "a newer sample", lambda d: by_id(d, "charts").get_attribute("data-latest")
             not in ("", latest), timeout=8)
    check_accessible(d, "health")
    screenshot(d, artifacts, "health")


def check_nothing_kept(d: WebDriver, server: Server) -> None:
    """The token in no URL the page asked for, no storage, nothing in the page."""
    entries = d.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
        ".concat(performance.getEntriesByType('navigation').map((e) => e.name))")
    assert any("/admin/mailboxes" in name for name in entries), entries  # the check sees the API
    leaks = [name for name in entries + [d.current_url] if server.token in name]
    assert leaks == [], "the token is in URLs: %s" % leaks
    kept = d.execute_script(
        "const all = [document.cookie, document.documentElement.outerHTML];"
        "for (const s of [localStorage, sessionStorage])"
        "  for (let i = 0; i < s.length; i++) all.push(s.key(i), s.getItem(s.key(i)));"
        "return all;")
    assert all(server.token not in text for text in kept), "the token is kept in the page"
    assert "postbox_admin" not in kept[0], "the login cookie is readable by scripts"
    assert d.execute_script("return localStorage.length + sessionStorage.length") == 0


def check_no_csp_violation(d: WebDriver) -> None:
    """No CSP violation in the whole session (the watch and the log); then one on
    purpose, to see that both report it."""
    violations = d.execute_script("return window.__cspViolations")
    assert violations == [], "CSP violations: %s" % violations
    log = d.get_log("browser")
    refused = [e["message"] for e in log if "Content Security Policy" in e["message"] or
               "Refused to" in e["message"]]
    assert refused == [], "CSP violations in the browser's log: %s" % refused
    d.execute_script("const p = document.createElement('p'); document.body.append(p);"
                     "p.setAttribute('style', 'color: red'); p.remove();")
    wait_for(d, "the CSP watch to see a violation",
             lambda d: d.execute_script("return window.__cspViolations.length") > 0)
    assert any("Content Security Policy" in e["message"] for e in d.get_log("browser")), \
        "the browser's log does not report CSP violations: the check above cannot fail"


def check_a11y_check_works(d: WebDriver) -> None:
    """A11Y_CHECK finds an unnamed button and an unlabelled input."""
    d.execute_script("const b = document.createElement('button'); b.id = 'probe-b';"
                     "const i = document.createElement('input'); i.id = 'probe-i';"
                     "document.body.append(b, i);")
    found = d.execute_script(A11Y_CHECK)
    d.execute_script("document.getElementById('probe-b').remove();"
                     "document.getElementById('probe-i').remove();")
    assert len(found) == 2 and "probe-b" in " ".join(found) and "probe-i" in " ".join(found), \
        found


# ---- The tests ------------------------------------------------------------------------


class TagScan(html.parser.HTMLParser):
    """Inline script, style attributes and event-handler attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: List[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script":
            self.in_script = "src" not in names
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append("<%s %s=...>" % (tag, name))
            if value and value.strip().lower().startswith("javascript:"):
                self.problems.append("<%s %s=javascript:...>" % (tag, name))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("inline script: %r" % data.strip()[:60])


def test_console_files_are_served_under_a_strict_policy(server: Server) -> None:
    status, headers, _ = server.request("GET", "/console", bearer=False)
    assert status == 308 and headers.get("location", "").endswith("/console/"), (status, headers)
    # index.html, console.css, console.js and every module it imports, in turn.
    bodies: Dict[str, str] = {}
    queue = ["/console/", "/console/console.css", "/console/console.js"]
    while queue:
        path = queue.pop(0)
        if path in bodies:
            continue
        status, headers, body = server.request("GET", path, bearer=False)
        assert status == 200, (path, status)
        kind = ("text/html" if path.endswith("/") else
                "text/css" if path.endswith(".css") else "text/javascript")
        assert kind in headers.get("content-type", ""), (path, headers.get("content-type"))
        assert headers.get("content-security-policy") == EXPECTED_CSP, (path, headers)
        assert headers.get("x-content-type-options") == "nosniff", (path, headers)
        assert headers.get("x-frame-options") == "DENY", (path, headers)
        assert headers.get("referrer-policy") == "no-referrer", (path, headers)
        assert headers.get("cross-origin-opener-policy") == "same-origin", (path, headers)
        assert "access-control-allow-origin" not in headers, (path, headers)
        bodies[path] = body.decode("utf-8")
        if path.endswith(".js"):
            queue += ["/console/" + m for m in
                      re.findall(r"""\bfrom\s+['"]\./([a-z_]+\.js)['"]""", bodies[path])]
    modules = [p for p in bodies if p.endswith(".js")]
    assert len(modules) >= 2, "console.js imports nothing? %s" % modules
    scan = TagScan()
    scan.feed(bodies["/console/"])
    assert scan.problems == [], "index.html breaks its own policy: %s" % scan.problems
    # What the scripts call (comments stripped): nothing that parses markup or
    # code from strings, sets inline style or handlers, or stores anything.
    for path in modules:
        script = re.sub(r"/\*.*?\*/", "", bodies[path], flags=re.S)
        script = re.sub(r"//.*", "", script)
        for banned in (r"\.innerHTML\b", r"\.outerHTML\b", r"insertAdjacentHTML",
                       r"document\.write", r"\beval\s*\(", r"\bnew\s+Function\b",
                       r"\bset(Timeout|Interval)\(\s*['\"`]", r"\blocalStorage\b",
                       r"\bsessionStorage\b", r"\.style\b", r"setAttribute\(\s*['\"](style|on)",
                       r"\.on[a-z]+\s*=", r"\bimport\s*\("):
            assert not re.search(banned, script), "%s matches %s" % (path, banned)
    # No secret is built into the files.
    for body in bodies.values():
        assert server.token not in body
    # Without a login nothing changes; a login without a token is malformed.
    status, _, body = server.request("POST", "/admin/mailboxes", bearer=False)
    assert status == 401, (status, body)
    status, _, body = server.request("POST", "/admin/login", bearer=False,
                                     headers={"Content-Type": "application/json"}, body=b"{}")
    assert status == 400, (status, body)


def test_console_in_a_browser(server: Server, browser: WebDriver, artifacts: Path) -> None:
    d = browser
    started = time.monotonic()
    d.get(server.base + "/console/")

    # ---- Log in, with the keyboard only: a wrong token first.
    wait_page(d, "login")
    assert not by_id(d, "nav").is_displayed(), "navigation shown before logging in"
    check_accessible(d, "login")
    screenshot(d, artifacts, "login")
    tab_to(d, "login-token")
    press(d, "not-the-token-" + secrets.token_hex(8), Keys.ENTER)
    wait_for(d, "the wrong token's error", lambda d: "401" in by_id(d, "login-error").text)
    assert "admin token" in by_id(d, "login-error").text, by_id(d, "login-error").text
    assert shown_page(d) == ["page-login"] and not by_id(d, "nav").is_displayed()
    assert by_id(d, "login-token").get_attribute("value") == "", "the field keeps the token"
    tab_to(d, "login-token")
    press(d, server.token, Keys.ENTER)
    wait_page(d, "mailboxes")
    assert active_id(d) == "mailboxes-heading", "focus did not move to the page: %s" % active_id(d)
    assert by_id(d, "login-token").get_attribute("value") == ""

    # ---- Navigation and creating a mailbox, with the keyboard only.
    tab_to(d, "nav-sessions")
    check_focus_visible(d)
    press(d, Keys.ENTER)
    wait_page(d, "sessions")
    assert by_id(d, "nav-sessions").get_attribute("aria-current") == "page"
    assert "Sessions" in d.title
    tab_to(d, "nav-mailboxes")
    press(d, Keys.ENTER)
    wait_page(d, "mailboxes")
    a_mkey, a_secret = create_mailbox(d, keyboard=True)
    assert "created" in status_text(d)

    # ---- A second mailbox, by mouse; the list, its search.
    b_mkey, _ = create_mailbox(d, keyboard=False)
    assert b_mkey != a_mkey
    assert server.api("GET", "/admin/mailboxes/" + a_mkey)[0] == 200
    assert {a_mkey, b_mkey} <= set(row_mkeys(d, "mailbox-rows"))
    check_accessible(d, "mailboxes")
    screenshot(d, artifacts, "mailboxes")
    common = len(os.path.commonprefix([a_mkey, b_mkey]))
    prefix = a_mkey[:max(8, common + 1)].upper()  # any case
    field = by_id(d, "search-prefix")
    field.clear()
    field.send_keys(prefix, Keys.ENTER)
    wait_for(d, "the search's answer", lambda d: row_mkeys(d, "mailbox-rows") == [a_mkey])
    field.clear()
    field.send_keys("xyz", Keys.ENTER)
    wait_for(d, "the bad prefix's error", lambda d: "hexadecimal" in by_id(d, "error").text)
    by_id(d, "search-clear").click()
    wait_for(d, "all mailboxes again",
             lambda d: {a_mkey, b_mkey} <= set(row_mkeys(d, "mailbox-rows")))

    # ---- Mailbox A: connect it to B.
    row(d, "mailbox-rows", a_mkey).find_element(By.TAG_NAME, "a").click()
    wait_page(d, "mailbox")
    assert not by_id(d, "created-panel").is_displayed()
    assert by_id(d, "created-secret").get_attribute("textContent") == "", \
        "the secret outlived its page"
    wait_for(d, "mailbox A's fields", lambda d: by_id(d, "field-mkey").text == a_mkey)
    assert by_id(d, "field-viewers").text == "0"
    assert by_id(d, "conn-connected-empty").is_displayed()
    by_id(d, "connect-peer").send_keys(b_mkey)
    by_id(d, "connect-submit").click()
    wait_for(d, "B among A's connections", lambda d: row(d, "conn-connected-rows", b_mkey))
    assert a_mkey in status_text(d) and b_mkey in status_text(d)
    status, answer = server.api("GET", "/admin/mailboxes/%s/connections?kind=connected" % a_mkey)
    assert status == 200 and answer["connections"] == [b_mkey], answer

    # ---- A real client session of A: the Sessions page shows it.
    client = postbox.Client(a_mkey, a_secret, host="127.0.0.1", port=server.port,
                            app_version=APP_VERSION, reconnect=False)
    try:
        client.connect()
        status, sessions = server.api("GET", "/admin/sessions")
        mine = [s for s in sessions["sessions"] if s["mkey"] == a_mkey]
        assert status == 200 and len(mine) == 1, sessions
        session = mine[0]
        click_nav(d, "sessions")
        r = wait_for(d, "A's session", lambda d: row(d, "session-rows", a_mkey))
        cells = {c.get_attribute("data-col"): c.text
                 for c in r.find_elements(By.TAG_NAME, "td")}
        assert cells["id"] == str(session["id"]), cells
        assert cells["mailbox"] == a_mkey, cells
        assert cells["platform"] == session["platform"] and cells["platform"], cells
        assert cells["app_version"] == APP_VERSION, cells
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cells["since"]), cells
        assert cells["bytes_in"].endswith("B") and cells["pending_pushes"] == "0", cells
        viewer = wait_for(d, "A among the viewers", lambda d: row(d, "viewer-rows", a_mkey))
        assert viewer.find_elements(By.TAG_NAME, "td")[1].text == "1"
        check_accessible(d, "sessions")
        screenshot(d, artifacts, "sessions")

        # Its mailbox page counts the viewer.
        r.find_element(By.CSS_SELECTOR, 'td[data-col="mailbox"] a').click()
        wait_page(d, "mailbox")
        wait_for(d, "A's viewer count", lambda d: by_id(d, "field-viewers").text == "1")
        wait_for(d, "A's connections", lambda d: row(d, "conn-connected-rows", b_mkey))
        check_accessible(d, "mailbox")
        screenshot(d, artifacts, "mailbox")

        # Kick it.
        click_nav(d, "sessions")
        r = wait_for(d, "A's session", lambda d: row(d, "session-rows", a_mkey))
        r.find_element(By.CSS_SELECTOR, 'button[data-test="kick"]').click()
        wait_for(d, "the kicked session gone", lambda d: row(d, "session-rows", a_mkey) is None)
        assert "kicked" in status_text(d)

        def gone(_: WebDriver) -> bool:
            _, answer = server.api("GET", "/admin/sessions")
            return all(s["mkey"] != a_mkey for s in answer["sessions"])
        wait_for(d, "the server to close the session", gone)
    finally:
        client.close()

    check_health_page(d, server, artifacts)

    # ---- Delete B through the confirmation.
    click_nav(d, "mailboxes")
    wait_for(d, "B in the list", lambda d: row(d, "mailbox-rows", b_mkey))
    row(d, "mailbox-rows", b_mkey).find_element(By.TAG_NAME, "a").click()
    wait_page(d, "mailbox")
    wait_for(d, "B's page", lambda d: by_id(d, "field-mkey").text == b_mkey and
             by_id(d, "delete-mailbox").is_enabled())
    # With the keyboard: the dialog takes focus, keeps it, and Escape gives it back.
    by_id(d, "delete-mailbox").click()
    dialog = by_id(d, "confirm-dialog")
    wait_for(d, "the confirmation", lambda d: dialog.get_attribute("open") is not None)
    assert by_id(d, "confirm-mkey").text == b_mkey
    assert active_id(d) == "confirm-cancel", "the dialog did not take focus: %s" % active_id(d)
    check_accessible(d, "delete confirmation")
    for _ in range(4):
        press(d, Keys.TAB)
        assert d.execute_script(
            "return arguments[0].contains(document.activeElement)", dialog), \
            "TAB left the dialog for #%s" % active_id(d)
    press(d, Keys.ESCAPE)
    wait_for(d, "the dialog to close", lambda d: dialog.get_attribute("open") is None)
    assert active_id(d) == "delete-mailbox", "focus did not return: %s" % active_id(d)
    assert server.api("GET", "/admin/mailboxes/" + b_mkey)[0] == 200, "cancel deleted it"
    by_id(d, "delete-mailbox").click()
    wait_for(d, "the confirmation", lambda d: dialog.get_attribute("open") is not None)
    by_id(d, "confirm-delete").click()
    wait_page(d, "mailboxes")
    wait_for(d, "the delete's status", lambda d: "deleted" in status_text(d))
    wait_for(d, "the list without B", lambda d: a_mkey in row_mkeys(d, "mailbox-rows"))
    assert b_mkey not in row_mkeys(d, "mailbox-rows")
    assert server.api("GET", "/admin/mailboxes/" + b_mkey)[0] == 404

    check_nothing_kept(d, server)
    check_no_csp_violation(d)
    check_a11y_check_works(d)

    # ---- The login's cookie: out of scripts' reach, only for /admin, same-site only.
    cookies = [c for c in d.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]
               if c["name"] == "postbox_admin"]
    assert len(cookies) == 1, cookies
    cookie = cookies[0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin", \
        cookie
    assert cookie["value"] != server.token and len(cookie["value"]) >= 32, "the cookie is weak"
    with_cookie = {"Cookie": "postbox_admin=" + cookie["value"]}
    assert server.request("GET", "/admin/login", bearer=False, headers=with_cookie)[0] == 200

    # ---- Log out: the server forgets the login; a later 401 (the cookie
    # gone) returns to the login form.
    by_id(d, "logout").click()
    wait_page(d, "login")
    assert "logged out" in status_text(d)
    assert server.request("GET", "/admin/login", bearer=False, headers=with_cookie)[0] == 401
    d.refresh()
    wait_page(d, "login")
    by_id(d, "login-token").send_keys(server.token, Keys.ENTER)
    wait_page(d, "mailboxes")
    click_nav(d, "health")
    d.execute_cdp_cmd("Network.clearBrowserCookies", {})
    wait_page(d, "login")
    assert "401" in by_id(d, "login-error").text, by_id(d, "login-error").text
    assert not by_id(d, "nav").is_displayed()

    for page in PAGES:
        assert (artifacts / ("console-%s.png" % page)).is_file(), page
    elapsed = time.monotonic() - started
    assert elapsed < 90, "the browser part took %.0f s" % elapsed
