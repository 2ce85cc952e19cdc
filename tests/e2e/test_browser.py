"""A real headless Chromium (Debian's `chromium`, driven by Playwright) against `voc
dashboard` on the demo warehouse: opens Overview, clicks a filter, opens an alert and a
theme, and saves screenshots to build/screenshots/.

`.ci/run` installs the browser and a CJK font and sets VOC_REQUIRE_BROWSER=1, so there a
missing browser fails the test; on a machine without Chromium it is skipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "screenshots"
REQUIRED = os.environ.get("VOC_REQUIRE_BROWSER") == "1"


def _chromium() -> str | None:
    for candidate in (os.environ.get("VOC_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    if _chromium() is None:
        return "no chromium binary (Debian package `chromium`)"
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():
        return "no CJK font (Debian package `fonts-wqy-microhei`): Chinese would render as boxes"
    return None


def require_browser() -> None:
    """Skip (or fail, when the browser test is required) without chromium, playwright or a
    CJK font."""
    problem = _missing()
    if problem:
        if REQUIRED:
            pytest.fail(f"browser test required but {problem}")
        pytest.skip(problem)


@contextmanager
def serve_dashboard(db: Path) -> Iterator[str]:
    """`voc dashboard` on `db` in a subprocess until it answers its health check; its URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "dashboard", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CI": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("dashboard did not start within 90 s")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def dashboard_url(e2e_db: Path) -> Iterator[str]:
    require_browser()
    with serve_dashboard(e2e_db) as url:
        yield url


@pytest.fixture(scope="module")
def browser_page(dashboard_url: str):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def _settle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(300)


def _sidebar_choice(page, label: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(label, exact=True).first.click()
    _settle(page)


def test_overview_filter_alert_and_theme_in_a_real_browser(browser_page, dashboard_url) -> None:
    try:
        _walk(browser_page, dashboard_url)
    except Exception:
        # Keep what the browser showed when it went wrong (CI artefact).
        browser_page.screenshot(path=str(SHOTS / "failure.png"), full_page=True)
        print("browser test failed at", browser_page.url)
        raise


def _walk(page, dashboard_url: str) -> None:
    page.goto(f"{dashboard_url}/?page=overview")
    page.get_by_role("heading", name="总览").wait_for()
    _settle(page)
    page.get_by_text("文档数", exact=True).first.wait_for()
    page.screenshot(path=str(SHOTS / "1-overview.png"), full_page=True)

    # Click a filter: the source multiselect in the sidebar, choose 微博.
    select = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').first
    select.click()
    page.get_by_role("option", name="微博").click()
    page.keyboard.press("Escape")
    _settle(page)
    page.wait_for_function("() => location.search.includes('src=demo_weibo')")
    page.screenshot(path=str(SHOTS / "2-overview-weibo.png"), full_page=True)

    _sidebar_choice(page, "预警")
    page.get_by_role("heading", name="预警详情").wait_for()
    assert "page=alerts" in page.url and "src=demo_weibo" in page.url  # filter carried
    page.screenshot(path=str(SHOTS / "3-alert.png"), full_page=True)

    _sidebar_choice(page, "主题")
    page.get_by_role("heading", name="主题趋势").wait_for()
    page.screenshot(path=str(SHOTS / "4-theme.png"), full_page=True)
    for name in ("1-overview", "2-overview-weibo", "3-alert", "4-theme"):
        assert (SHOTS / f"{name}.png").stat().st_size > 20_000
