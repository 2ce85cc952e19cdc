"""AppTest of the customer filters and the sources page's linked shares, against the seed
warehouse with customer links (tests/dashboard/segment_seed.py): the segment, province,
city and owner filters narrow every page, go into the URL and come back from it, and the
sources page shows each source's linked share and warns where linking broke."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.seed import build_seed_warehouse
from tests.dashboard.segment_seed import N_REGULAR, N_VIP, REGULAR, VIP, link_customers
from tests.dashboard.test_pages import APP, cells, frame_with, metrics, open_page
from warehouse.snapshot import snapshot_path


@pytest.fixture(scope="module")
def linked_db(tmp_path_factory) -> Path:
    return link_customers(build_seed_warehouse(tmp_path_factory.mktemp("seg") / "voc.duckdb"))


@pytest.fixture()
def db(linked_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "voc.duckdb"
    shutil.copy(linked_db, copy)
    shutil.copy(snapshot_path(linked_db), snapshot_path(copy))
    return copy


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_segment_filter_narrows_the_pages_and_goes_into_the_url(db, monkeypatch) -> None:
    at = open_page(db, monkeypatch)
    assert at.multiselect(key="f_segments").options == [VIP, REGULAR]
    at.multiselect(key="f_segments").select(VIP).run()
    assert not at.exception
    assert metrics(at)["文档数"] == f"{N_VIP:,}"
    assert metrics(at)["负面占比"] == f"{28 / N_VIP:.1%}"
    assert str(at.query_params["seg"]).strip("[]'") == VIP
    at.radio(key="nav_page").set_value("explore").run()
    assert not at.exception
    assert f"共 {N_VIP} 条匹配" in _captions(at)
    assert set(frame_with(at, "客户分层")["客户分层"]) == {VIP}
    at.radio(key="nav_page").set_value("themes").run()
    assert not at.exception
    assert at.multiselect(key="f_segments").value == [VIP]  # carried across pages


def test_a_shared_link_with_a_segment_opens_the_same_view(db, monkeypatch) -> None:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["seg"] = REGULAR
    at.query_params["prov"] = "广东"
    at.run()
    assert not at.exception
    assert at.multiselect(key="f_segments").value == [REGULAR]
    assert at.multiselect(key="f_provinces").value == ["广东"]
    assert metrics(at)["文档数"] == f"{N_REGULAR:,}"


@pytest.mark.parametrize(
    ("key", "value", "n_docs"),
    [("f_cities", "杭州", N_VIP), ("f_owners", "李经理", N_REGULAR)],
)
def test_city_and_owner_filters(db, monkeypatch, key: str, value: str, n_docs: int) -> None:
    at = open_page(db, monkeypatch, **{key: [value]})
    assert metrics(at)["文档数"] == f"{n_docs:,}"


def test_sources_page_shows_linked_shares_and_warns_when_linking_broke(db, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "sources")
    assert "客户关联" in [s.value for s in at.subheader]
    linking = frame_with(at, "已关联客户").set_index("来源")
    assert linking.loc["helpdesk", "已关联客户"] == f"{91 / 112:.1%}"
    assert linking.loc["helpdesk", "有客户标识"] == "100.0%"
    assert linking.loc["helpdesk", "近 7 天关联率"] == "25.0%"
    assert linking.loc["shop", "已关联客户"] == "0.0%"
    assert linking.loc["weibo", "有客户标识"] == "0.0%"
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 2
    assert any(w.startswith("shop：") and "没有一条关联到客户" in w for w in warnings)
    assert any(w.startswith("helpdesk：") and "25.0%" in w and "100.0%" in w for w in warnings)
    assert "helpdesk" in cells(at)


def test_without_customers_the_filter_bar_has_no_customer_filters(monkeypatch, tmp_path) -> None:
    at = open_page(build_seed_warehouse(tmp_path / "voc.duckdb"), monkeypatch, "sources")
    keys = {m.key for m in at.multiselect}
    assert "f_sources" in keys and not keys & {"f_segments", "f_provinces", "f_cities"}
    assert not at.warning  # no source has customer keys: nothing to warn about
