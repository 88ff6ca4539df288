"""The documentation site, built without running the tutorials, opened in headless Chromium.

Every page is loaded from a local HTTP server (as a reader would open it; search needs one)
and must log no severe console message (a missing file, a script error, anything fetched from
the network); the search box must find ``ChannelActivation`` and link to its API page. Every
local link and anchor of every built page (tutorials included) must resolve.

Needs the docs dependencies (noxfile.py ``DOCS_DEPS``), Chromium, chromium-driver and selenium.
Outside CI the test is skipped when they are missing; on CI (``CI`` set) that is a failure.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS_MODULES = ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    missing = [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        _missing(f"needs the docs dependencies (noxfile.py DOCS_DEPS): {', '.join(missing)}")
    out = tmp_path_factory.mktemp("docs") / "site"
    env = {**os.environ, "OPTIM_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
               "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    assert process.returncode == 0, process.stdout + process.stderr
    return out


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on a free local port; yields its base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        thread.join()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        chromium = None
    if not (chromium and driver):
        _missing("needs chromium, chromium-driver and selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-docs')}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


def _pages(site: Path) -> list[str]:
    """Every page of the site, as paths relative to its root ("" for the home page)."""
    pages = []
    for index in sorted(site.rglob("index.html")):
        relative = index.parent.relative_to(site).as_posix()
        if not relative.startswith(("assets", "search")):
            pages.append("" if relative == "." else relative + "/")
    return pages


def test_the_site_has_every_section(site):
    pages = _pages(site)
    for page in ["", "getting-started/", "plugins/", "cli/", "api/", "api/loss/",
                 "api/reducer/", "api/circuits/", "api/dataset/", "api/models/",
                 "tutorials/feature_visualization/", "tutorials/activation_atlas/"]:  # fmt: skip
        assert page in pages, pages
    assert len([p for p in pages if p.startswith("tutorials/")]) >= 5


class _Links(HTMLParser):
    """The ids and the local ``href``/``src`` targets of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            local = value and not urlsplit(value).scheme and not value.startswith("//")
            if name in ("href", "src") and local:
                self.targets.append(value)


def _read_links(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_local_link_and_anchor_resolves(site):
    """mkdocs --strict checks the Markdown pages' links; this checks every built page, the
    executed tutorials (notebooks) and the API pages included: each local link names a file
    of the site, and each #anchor an id on its page."""
    pages = {page: _read_links(page) for page in site.rglob("*.html")}
    problems = []
    for page, links in pages.items():
        if page.relative_to(site).parts[0] in ("assets", "search"):
            continue
        for target in links.targets:
            parts = urlsplit(target)
            base = site if parts.path.startswith("/") else page.parent  # the 404 page's
            path = (base / unquote(parts.path).lstrip("/")).resolve() if parts.path else page
            if path.is_dir():
                path = path / "index.html"
            where = f"{page.relative_to(site)}: {target}"
            if not path.is_file():
                problems.append(f"{where} (no such file)")
            elif parts.fragment and path.suffix == ".html":
                ids = pages[path].ids if path in pages else _read_links(path).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where} (no such anchor)")
    assert not problems, "\n".join(problems)


def test_every_page_loads_without_console_errors(browser, server, site):
    problems = []
    for page in _pages(site):
        browser.get(server + page)
        title = browser.execute_script("return document.querySelector('h1')?.innerText || '';")
        if not title:
            problems.append(f"{page}: no heading")
        for entry in browser.get_log("browser"):
            if entry["level"] == "SEVERE":
                problems.append(f"{page}: {entry['message']}")
    assert not problems, "\n".join(problems)


def test_search_finds_channel_activation_on_its_api_page(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server)
    box = WebDriverWait(browser, 20).until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "input.md-search__input"))
    )
    box.click()
    box.send_keys("ChannelActivation")

    def result_links(driver):
        links = driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item a")
        return [link.get_attribute("href") for link in links] or False

    hrefs = WebDriverWait(browser, 20).until(result_links)
    assert any("/api/loss/" in href and "ChannelActivation" in href for href in hrefs), hrefs
