"""`optim layer` on EfficientNet-Lite0, then the gallery opened in headless Chromium.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (CI installs them in .ci/run)
and the Python package ``selenium``. Outside CI the test is skipped when they are missing; on
CI (``CI`` set) a missing browser is a failure, so the check never silently disappears.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

CHANNELS = 16

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    paths = _browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        paths = None
    if paths is None:
        message = "needs chromium, chromium-driver and selenium (apt-get install chromium " \
                  "chromium-driver; pip install selenium)"  # fmt: skip
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    chromium, driver = paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery") / "blocks4"
    command = [sys.executable, "-m", "optim.cli", "layer", "_blocks.4",
               "--model", "efficientnet_lite0", "--channels", f"0-{CHANNELS - 1}",
               "--size", "64", "--steps", "4", "--batch-size", "8", "--seed", "0",
               "--no-progress", "--out", str(out)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    return out


def test_every_thumbnail_loads_and_every_channel_is_on_the_page(browser, gallery):
    browser.get((gallery / "index.html").as_uri())
    widths = browser.execute_script(
        "return Array.from(document.images).map(img => img.complete ? img.naturalWidth : 0);"
    )
    assert len(widths) == 2 * CHANNELS  # a thumbnail and an enlarged view per channel
    assert all(width > 0 for width in widths), widths
    channels = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.channel'))"
        ".map(f => Number(f.dataset.channel));"
    )
    assert channels == list(range(CHANNELS))
    captions = browser.execute_script(
        "return Array.from(document.querySelectorAll('figcaption')).map(c => c.innerText);"
    )
    assert all("objective" in caption for caption in captions)


def test_clicking_a_thumbnail_enlarges_it(browser, gallery):
    browser.get((gallery / "index.html").as_uri())
    browser.execute_script("document.querySelector('figure.channel a').click();")
    shown = browser.execute_script(
        "const box = document.getElementById('channel-0');"
        "return [location.hash, getComputedStyle(box).display];"
    )
    assert shown == ["#channel-0", "flex"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "lite0"
    command = [sys.executable, "-m", "optim.cli", "model", "efficientnet_lite0",
               "--layers", "_blocks.4,_blocks.10", "--channels", "0-3", "--size", "64",
               "--steps", "4", "--seed", "0", "--no-progress", "--out", str(out)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    return out


def _loaded_image_widths(browser) -> list[int]:
    return browser.execute_script(
        "return Array.from(document.images).map(img => img.complete ? img.naturalWidth : 0);"
    )


def test_model_page_links_each_layer_gallery_and_every_image_loads(browser, site):
    browser.get((site / "index.html").as_uri())
    widths = _loaded_image_widths(browser)
    assert len(widths) == 2 and all(width > 0 for width in widths), widths  # two thumbnails
    layers = browser.execute_script(
        "return Array.from(document.querySelectorAll('a.layer')).map(a => a.dataset.layer);"
    )
    assert layers == ["_blocks.4", "_blocks.10"]
    browser.execute_script("document.querySelector('a.layer').click();")
    assert browser.current_url.endswith("/_blocks.4/index.html")
    widths = _loaded_image_widths(browser)
    assert len(widths) == 2 * 4 and all(width > 0 for width in widths), widths
    browser.execute_script("document.querySelector('header a').click();")  # back up
    assert browser.current_url == (site / "index.html").as_uri()


@pytest.fixture(scope="module")
def exemplar_gallery(tmp_path_factory, photos):
    out = tmp_path_factory.mktemp("exemplars") / "blocks4"
    command = [sys.executable, "-m", "optim.cli", "layer", "_blocks.4", "--channels", "0-3",
               "--size", "64", "--steps", "4", "--seed", "0", "--exemplars", str(photos),
               "--no-progress", "--out", str(out)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True)
    assert process.returncode == 0, process.stderr
    return out


def test_a_gallery_with_exemplars_loads_every_image_and_shows_each_ratio(
    browser, exemplar_gallery, photos
):
    browser.get((exemplar_gallery / "index.html").as_uri())
    widths = _loaded_image_widths(browser)
    photo_count = len(list(photos.glob("*.png")))  # fewer photos than k = 9: all of them
    assert len(widths) == 2 * 4 + 4 * photo_count, widths
    assert all(width > 0 for width in widths), widths
    ratios = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.channel'))"
        ".map(f => f.querySelector('.ratio').innerText);"
    )
    assert len(ratios) == 4 and all(r.startswith("ratio ") for r in ratios), ratios
    assert all(float(r.split()[1]) > 0 for r in ratios), ratios
    note = browser.execute_script("return document.querySelector('.note').innerText;")
    assert "Far above 1" in note
