"""A real headless Chromium (as in test_browser.py) against `voc dashboard` on the customer
seed warehouse (tests/customer_seed.py): opens the 客户 page, filters by segment with the
page's multiselect, and checks what the page then shows; screenshots go to
build/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.customer_seed import NORMAL, THEME_LABEL, build_customer_warehouse
from tests.e2e.test_browser import SHOTS, _chromium, _settle, require_browser, serve_dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def customers_url(tmp_path_factory) -> Iterator[str]:
    require_browser()
    db = build_customer_warehouse(tmp_path_factory.mktemp("browser") / "voc.duckdb")
    with serve_dashboard(db) as url:
        yield url


def test_customers_page_filters_by_segment_in_a_real_browser(customers_url: str) -> None:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1400}, locale="zh-CN")
        page.set_default_timeout(60_000)
        try:
            _walk(page, customers_url)
        except Exception:
            page.screenshot(path=str(SHOTS / "customers-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _walk(page, url: str) -> None:
    page.goto(f"{url}/?page=customers&start=2025-01-01&end=2025-03-03")
    page.get_by_role("heading", name="客户", exact=True).wait_for()
    _settle(page)
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("关键驱动因素", exact=True).wait_for()
    main.get_by_text("样本不足").first.wait_for()  # March has 5 answers
    # Tables draw on a canvas; the verbatims' select box holds the top driver.
    # Under load the tables arrive after the headings: wait for the fourth one.
    page.locator('[data-testid="stDataFrame"]').nth(3).wait_for()
    assert page.locator('[data-testid="stDataFrame"]').count() >= 4
    verbatims_of = main.get_by_role("combobox", name="查看原话")
    assert verbatims_of.input_value() == THEME_LABEL
    page.screenshot(path=str(SHOTS / "5-customers.png"), full_page=True)

    # Filter by segment: the page's first multiselect (客户细分), choose 一般.
    select = main.locator('[data-testid="stMultiSelect"]').first
    select.click()
    page.get_by_role("option", name=NORMAL).click()
    page.keyboard.press("Escape")
    _settle(page)
    chosen = select.inner_text()
    assert NORMAL in chosen
    # 一般 customers answered in all three months but never mentioned the planted theme:
    # the top driver is another one now (价格, which 5 of them mention).
    page.wait_for_function(
        "() => document.querySelector('input[aria-label=\"查看原话\"]').value === '价格'",
        timeout=30_000,
    )
    page.screenshot(path=str(SHOTS / "6-customers-segment.png"), full_page=True)
    assert (SHOTS / "6-customers-segment.png").stat().st_size > 20_000
