"""AppTest of every dashboard page against the seed warehouse (tests/dashboard/seed.py):
numbers a reader can check by hand, the alert workflow and corrections stored, filters
carried across pages and into the URL, the English switch, the optional password, and
hostile customer text never reaching a Markdown/HTML-rendering element."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.seed import HOSTILE, HOSTILE_HEALTH, HOSTILE_THEME_LABEL, build_seed_warehouse
from warehouse import actions, corrections
from warehouse.snapshot import publish_snapshot

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
N_DOCS = 28 * 12 + 20  # 28 days × 3 sources × 4 documents, plus the 20-post spike
N_NEGATIVE = 28 * 3 + 20
N_SOCIAL = 28 * 4 + 20


@pytest.fixture(scope="module")
def seed_db(tmp_path_factory) -> Path:
    return build_seed_warehouse(tmp_path_factory.mktemp("seed") / "voc.duckdb")


@pytest.fixture()
def db(seed_db: Path, tmp_path: Path) -> Path:
    """A private copy (and snapshot) per test, so stored actions do not leak between tests."""
    import shutil

    from warehouse.snapshot import snapshot_path

    copy = tmp_path / "voc.duckdb"
    shutil.copy(seed_db, copy)
    shutil.copy(snapshot_path(seed_db), snapshot_path(copy))
    return copy


def open_page(db: Path, monkeypatch, page: str = "overview", **state) -> AppTest:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.delenv("VOC_DASHBOARD_PASSWORD", raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["page"] = page
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def frames(at: AppTest) -> list:
    return [d.value for d in at.dataframe]


def frame_with(at: AppTest, column: str):
    return next(f for f in frames(at) if column in f.columns)


def cells(at: AppTest) -> set[str]:
    return {str(v) for f in frames(at) for col in f.columns for v in f[col]}


def test_overview_numbers_against_the_previous_period(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch)
    assert "客声" in at.title[0].value
    numbers = metrics(at)
    assert numbers["文档数"] == f"{N_DOCS:,}"
    assert numbers["负面占比"] == f"{N_NEGATIVE / N_DOCS:.1%}"
    net = (28 * 6 - N_NEGATIVE) / N_DOCS
    assert numbers["净情感值"] == f"{net:+.2f}"
    assert numbers["愤怒占比（社交）"] == f"{10 / N_SOCIAL:.1%}"
    assert [h.value for h in at.header] == ["总览"]
    assert {s.value for s in at.subheader} >= {"每日趋势", "社交媒体逐小时趋势（最近 7 天）"}
    # The spike shows among the period's alerts, with its driver.
    alerts = frame_with(at, "严重度")
    assert list(alerts["严重度"]) == ["严重"] and "物流慢" in alerts["驱动因素"][0]


def test_filters_apply_and_go_into_the_url_and_across_pages(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch)
    at.multiselect(key="f_sources").select("shop").run()
    assert not at.exception
    assert metrics(at)["文档数"] == f"{28 * 4:,}"
    assert at.query_params["src"] == ["shop"] or at.query_params["src"] == "shop"
    assert str(at.query_params["page"]).strip("[]'") == "overview"
    at.radio(key="nav_page").set_value("explore").run()
    assert not at.exception
    assert at.multiselect(key="f_sources").value == ["shop"]  # carried to the next page
    assert "共 112 条匹配" in " ".join(c.value for c in at.caption)


def test_a_shared_link_opens_the_same_view(db: Path, monkeypatch) -> None:
    monkeypatch.setenv("VOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in {
        "page": "explore",
        "src": "weibo",
        "start": "2025-03-27",
        "end": "2025-03-27",
        "q": "快递",
    }.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert at.radio(key="nav_page").value == "explore"
    assert at.multiselect(key="f_sources").value == ["weibo"]
    # HOSTILE[1] and [3] mention 快递, and the 15 ordinary spike posts.
    assert "共 17 条匹配" in " ".join(c.value for c in at.caption)


def test_alert_page_shows_explanation_and_stores_the_workflow(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "alerts")
    listing = frames(at)[0]
    assert list(listing["状态"]) == ["新"] and list(listing["类型"]) == ["来源"]
    assert at.selectbox(key="alert").value == "ep-weibo-0327"
    found = cells(at)
    assert "<b>快递太慢</b>" in found  # a driver phrase, shown verbatim as text
    assert set(HOSTILE) <= found  # the verbatims
    at.radio(key="al_new_status").set_value("acknowledged")
    at.text_input(key="al_who").input("王小明")
    at.text_area(key="al_note").input("已联系物流商 <b>跟进</b>")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    assert at.success and "状态已保存" in at.success[0].value
    stored = actions.alert_statuses(db, ["ep-weibo-0327"])["ep-weibo-0327"]
    assert (stored.status, stored.who, stored.note) == (
        "acknowledged",
        "王小明",
        "已联系物流商 <b>跟进</b>",
    )
    history = frames(at)[-1]
    assert list(history["处理人"]) == ["王小明"]
    at.radio(key="al_status").set_value("acknowledged").run()
    assert list(frames(at)[0]["状态"]) == ["已确认"]
    at.radio(key="al_status").set_value("new").run()
    assert frames(at)[0].empty


def test_alert_status_needs_a_name(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "alerts")
    at.radio(key="al_new_status").set_value("resolved")
    at.button[0].click().run()
    assert at.error, "saving without a name must be refused"
    assert actions.alert_statuses(db) == {}


def test_themes_page_ranks_and_opens_a_theme(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "themes")
    ranking = frames(at)[0]
    assert set(ranking["主题"]) == {"物流慢", HOSTILE_THEME_LABEL}
    assert list(ranking["声量"]) == sorted(ranking["声量"], reverse=True)
    at.selectbox(key="theme").set_value("theme-delivery").run()
    assert not at.exception
    assert "物流慢" in [t.value for t in at.text]
    verbatims = next(f for f in frames(at) if "同声数" in f.columns)
    assert len(verbatims) >= 1 and verbatims["原文"].str.contains("快递|物流").all()
    taxonomy = next(f for f in frames(at) if "类别" in f.columns)
    assert set(taxonomy["类别"]) == {"物流", "商品质量"}
    at.radio(key="th_sort").set_value("negativity").run()
    assert not at.exception


def test_a_linked_theme_outside_the_view_says_why_and_a_merged_one_opens_its_successor(
    db: Path, monkeypatch
) -> None:
    # The hostile-labelled theme's documents are all helpdesk tickets: none on weibo.
    at = open_page(db, monkeypatch, "themes", theme="theme-service", f_sources=["weibo"])
    (warning,) = at.warning
    assert "没有文档" in warning.value and "最近出现于 2025-" in warning.value
    assert HOSTILE_THEME_LABEL not in warning.value  # customers' words stay out of Markdown
    assert f"所选主题：{HOSTILE_THEME_LABEL}" in [x.value for x in at.text]
    assert at.selectbox(key="theme").value == "theme-delivery"

    at = open_page(db, monkeypatch, "themes", theme="theme-gone")
    assert "不存在" in at.warning[0].value and at.selectbox(key="theme").value

    with duckdb.connect(str(db)) as con:
        con.execute(
            "INSERT INTO tracked_themes SELECT * REPLACE ('theme-old' AS theme_id, "
            "'theme-service' AS merged_into, 'resolved' AS state) FROM tracked_themes "
            "WHERE theme_id = 'theme-delivery'"
        )
    publish_snapshot(db)
    at = open_page(db, monkeypatch, "themes", theme="theme-old")
    assert "已并入" in at.info[0].value and not at.warning
    assert at.selectbox(key="theme").value == "theme-service"


def test_explore_searches_pages_and_offers_exports(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "explore")
    at.text_input(key="q").input("快递").run()
    assert "共 17 条匹配" in " ".join(c.value for c in at.caption)
    assert {b.label for b in at.get("download_button")} == {"CSV", "XLSX", "PARQUET"}
    at.selectbox(key="ex_size").set_value(20)
    at.text_input(key="q").input("").run()
    assert f"共 {N_DOCS} 条匹配，第 1/18 页" in " ".join(c.value for c in at.caption)
    at.number_input(key="ex_page").set_value(18).run()
    assert len(frames(at)[0]) == N_DOCS - 17 * 20


def test_query_page_runs_a_select_and_refuses_a_write(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "query")
    at.text_area(key="query_sql").input("SELECT count(*) AS n FROM v_documents").run()
    at.button(key="query_run").click().run()
    assert int(frames(at)[0]["n"][0]) == N_DOCS
    at.text_area(key="query_sql").input("DELETE FROM raw_documents").run()
    at.button(key="query_run").click().run()
    assert at.error


def test_sources_page_shows_runs_and_health(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "sources")
    assert "数据源异常 1 项" in at.error[0].value
    health, runs = frames(at)[:2]
    assert list(health["详情"]) == [HOSTILE_HEALTH]
    by_source = runs.set_index("来源")
    assert by_source.loc["helpdesk", "状态"] == "失败" and by_source.loc["shop", "抓取"] == 112


def test_quality_page_shows_the_model_and_stores_a_correction(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "quality")
    numbers = metrics(at)
    assert numbers["模型版本"]
    gold = frames(at)[0]
    assert (gold["准确率"] > 0.5).all()
    recent = next(f for f in frames(at) if "正面概率" in f.columns)
    assert len(recent) == 7 * 3  # the neutral (score 0.5) document per source per day
    at.radio(key="qc_label").set_value("negative")
    at.text_input(key="qc_who").input("质检员")
    next(b for b in at.button if "保存更正" in b.label).click().run()
    assert not at.exception and "更正已保存" in at.success[0].value
    (correction,) = corrections.corrections(db)
    assert (correction.predicted_label, correction.corrected_label) == ("neutral", "negative")


def test_quality_page_withdraws_a_correction(db: Path, monkeypatch) -> None:
    corrections.add_correction(db, "doc-a", "点错了的更正", "m+1", "positive", "negative", "质检员")
    corrections.add_correction(db, "doc-b", "留下的更正", "m+1", "negative", "neutral", "质检员")
    at = open_page(db, monkeypatch, "quality")
    standing = next(f for f in frames(at) if "更正为" in f.columns)
    assert list(standing["原文"]) == ["点错了的更正", "留下的更正"]
    assert at.selectbox(key="qw_wdoc").value == "doc-b"  # newest first
    at.selectbox(key="qw_wdoc").set_value("doc-a")
    at.text_input(key="qw_wwho").input("组长")
    at.text_input(key="qw_wnote").input("误操作")
    next(b for b in at.button if b.label == "撤回").click().run()
    assert not at.exception and "更正已撤回" in at.success[0].value
    standing = next(f for f in frames(at) if "更正为" in f.columns)
    assert list(standing["原文"]) == ["留下的更正"]  # the page shows it gone at once
    assert [c.doc_id for c in corrections.corrections(db)] == ["doc-b"]


def test_english_switch(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "sources", lang="en")
    assert at.title[0].value == "VoC Monitor · Voice of the Customer"
    assert at.header[0].value == "Source status"
    assert "source problems" in at.error[0].value


@pytest.mark.parametrize("page", ["overview", "alerts", "themes", "explore", "sources", "quality"])
def test_hostile_text_is_only_ever_plain_text(db: Path, monkeypatch, page: str) -> None:
    at = open_page(db, monkeypatch, page, q="快递", theme="theme-service")
    rendered = (
        [
            e.value
            for kind in ("markdown", "caption", "title", "header", "subheader", "error", "info")
            for e in at.get(kind)
        ]
        + [m.label for m in at.metric]
        + [str(m.value) for m in at.metric]
    )
    rendered += [e.label for e in at.get("expandable")]
    for text in rendered:
        for marker in ("<script", "onerror", "](http://evil", "javascript:", ":red[", "<b>"):
            assert marker not in str(text), (page, text)


def test_password_login(db: Path, monkeypatch) -> None:
    monkeypatch.setenv("VOC_DB", str(db))
    monkeypatch.setenv("VOC_DASHBOARD_PASSWORD", "s3cret-口令")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.metric and not at.dataframe  # nothing shown before login
    at.text_input(key="login_password").input("wrong").run()
    at.button[0].click().run()
    assert "密码不正确" in at.error[0].value and not at.metric
    at.text_input(key="login_password").input("s3cret-口令")
    at.button[0].click().run()
    assert not at.exception
    assert metrics(at)["文档数"] == f"{N_DOCS:,}"


def test_every_interface_string_has_an_english_text() -> None:
    import re

    from dashboard.i18n import EN

    root = Path(APP).parent
    literals = {
        m.group(1)
        for path in root.rglob("*.py")
        if path.name != "i18n.py"
        for m in re.finditer(r"\bt\(\s*\"([^\"]+)\"", path.read_text(encoding="utf-8"))
    }
    assert literals, "no t() calls found"
    assert sorted(literals - set(EN)) == []


def test_a_notification_link_opens_its_alert_in_context(db: Path, monkeypatch) -> None:
    from datetime import date

    monkeypatch.setenv("VOC_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["alert"] = "ep-weibo-0327"  # what notify.drilldown_url links to
    at.run()
    assert not at.exception
    assert at.radio(key="nav_page").value == "alerts"
    assert at.selectbox(key="alert").value == "ep-weibo-0327"
    # Two weeks before the alert, one after (clamped to the data).
    assert at.date_input(key="f_range").value == (date(2025, 3, 13), date(2025, 3, 28))
    assert "预警详情" in [s.value for s in at.subheader]


def test_product_filter_narrows_explore_too(db: Path, monkeypatch) -> None:
    at = open_page(db, monkeypatch, "explore", f_products=["P1"])
    assert "共 112 条匹配" in " ".join(c.value for c in at.caption)  # the shop's documents
