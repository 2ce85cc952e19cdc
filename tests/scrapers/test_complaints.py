"""Complaint platforms: list and detail parsers on saved pages, and real crawls of a local site."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scrapers.complaints import (
    detail_url,
    list_url,
    merge_detail,
    parse_amount,
    parse_complaint_time,
    parse_detail_page,
    parse_list_page,
    status_label,
    with_customer_key,
)
from scrapers.errors import LayoutChanged, SourceError
from scrapers.parsers import CHINA_TZ
from scrapers.run import run_crawl
from tests.localserver import reply, serve
from voc.records import Document, hash_customer_key, make_document, read_documents_jsonl
from voc.settings import SourceConfig

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2024, 3, 8, 12, 0, tzinfo=CHINA_TZ)
VIEW = "https://tousu.sina.com.cn/complaint/view/{}/"
A, B, C, D, E, F = (
    "17359012345",  # full page, 已完成
    "17359012346",  # 处理中 (a later page: 已完成)
    "17359012350",  # its page has a new layout
    "17359012351",  # its page is missing (404)
    "17359012360",  # its page is a login page
    "17359012361",  # one timeline step has no readable time
)
#: Keyword search pages; any other page is an empty list.
LISTS = {1: "complaints_list_p1.json", 2: "complaints_list_p2.json", 3: "complaints_list_p3.json"}
#: Complaint pages by sn; a missing sn is a 404.
DETAILS = {
    A: "complaints_detail_17359012345.html",
    B: "complaints_detail_17359012346.html",
    C: "complaints_detail_changed.html",
    E: "complaints_detail_login.html",
    F: "complaints_detail_17359012361.html",
}


def _json(name: str) -> dict:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def _html(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


# -- list parser ---------------------------------------------------------------------------


def test_list_page_gives_records_with_attributes_and_names_the_unreadable_one() -> None:
    records, pager, problems = parse_list_page(_json("complaints_list_p1.json"), NOW)
    assert [r["external_id"] for r in records] == [A, B]
    first = records[0]
    assert first["text"] == (
        "快递丢件拒不赔偿\n2月28日寄出的包裹显示已签收，但收件人根本没收到，联系客服多次只说在核实…"
    )
    assert first["created_at"] == datetime(2024, 3, 3, 12, 30, tzinfo=CHINA_TZ)  # epoch seconds
    assert (first["author"], first["url"], first["product"]) == (
        "黑猫用户5821",
        VIEW.format(A),
        None,
    )
    assert first["attributes"] == {
        "title": "快递丢件拒不赔偿",
        "target": "某某快递",
        "status": "已回复",
        "demand": "退款",
        "amount": 199.0,
        "updated_at": None,
        "status_steps": None,
    }
    assert records[1]["attributes"]["status"] == "处理中"  # status code 2
    assert records[1]["attributes"]["amount"] is None  # cost ""
    assert (pager.current, pager.page_amount) == (1, 6)
    assert problems == ["complaint #3: 17359012347: no time"]


def test_list_time_as_text_is_china_time_and_amounts_with_commas_are_read() -> None:
    records, _, problems = parse_list_page(_json("complaints_list_p2.json"), NOW)
    assert problems == []
    assert records[0]["created_at"] == datetime(2024, 2, 29, 21, 40, tzinfo=CHINA_TZ)
    assert records[0]["attributes"]["amount"] == 1299.0
    assert records[1]["attributes"]["status"] == "已回复"  # status code 3


def test_company_list_reads_the_complaints_key() -> None:
    records, pager, _ = parse_list_page(_json("complaints_company_p1.json"), NOW)
    assert [r["external_id"] for r in records] == [B]
    assert pager == (1, 1)


def test_empty_list_error_payload_and_changed_layout() -> None:
    records, pager, problems = parse_list_page(_json("complaints_list_empty.json"), NOW)
    assert (records, problems, pager.current) == ([], [], 4)
    with pytest.raises(SourceError, match="list API error -1: 参数错误"):
        parse_list_page(_json("complaints_error.json"), NOW)
    with pytest.raises(LayoutChanged, match=r"no result.data.lists .*'list', 'pagination'"):
        parse_list_page(_json("complaints_changed.json"), NOW)
    with pytest.raises(LayoutChanged, match="no result in the list payload"):
        parse_list_page({"data": {"lists": []}}, NOW)


def test_small_readers() -> None:
    assert parse_complaint_time("1709440200000", NOW) == datetime(
        2024, 3, 3, 12, 30, tzinfo=CHINA_TZ
    )
    assert parse_complaint_time(1709440200, NOW).utcoffset().total_seconds() == 8 * 3600
    with pytest.raises(ValueError, match="unrecognised date format"):
        parse_complaint_time("上个月", NOW)
    assert [status_label(v) for v in (4, "1", "已回复", 9, None)] == [
        "已完成",
        "待分配",
        "已回复",
        "状态9",
        None,
    ]
    assert [parse_amount(v) for v in ("1,299.50元", "0", "", None, "面议")] == [
        1299.5,
        0.0,
        None,
        None,
        None,
    ]


def test_urls() -> None:
    assert list_url("https://tousu.sina.com.cn/", 2, keywords="某某快递") == (
        "https://tousu.sina.com.cn/api/index/s?keywords=%E6%9F%90%E6%9F%90%E5%BF%AB%E9%80%92"
        "&page=2&page_size=10"
    )
    assert list_url("https://t.cn", 1, company_id="5000123", page_size=20) == (
        "https://t.cn/api/company/received_complaints?couid=5000123&type=1&page_size=20&page=1"
    )
    with pytest.raises(ValueError, match="keywords or company_id"):
        list_url("https://t.cn", 1)
    assert detail_url("http://127.0.0.1:8000", VIEW.format(A)) == (
        f"http://127.0.0.1:8000/complaint/view/{A}/"
    )


# -- detail parser -------------------------------------------------------------------------


def test_detail_page_gives_the_full_text_and_the_timeline() -> None:
    detail, problems = parse_detail_page(_html(DETAILS[A]), VIEW.format(A), NOW)
    assert problems == []
    assert detail["sn"] == A
    assert detail["body"].startswith("2月28日在某某快递寄出一个包裹（内含一双运动鞋）")
    assert detail["body"].count("\n") == 2  # three paragraphs, merchant reply not included
    assert "赔付" not in detail["body"]
    assert (detail["target"], detail["demand"], detail["amount"], detail["status"]) == (
        "某某快递",
        "退款、赔偿损失",
        199.0,
        "已完成",
    )
    assert [label for _, label in detail["steps"]] == [
        "发起投诉",
        "投诉已分配",
        "商家已回复",
        "投诉已完成",
    ]
    assert detail["steps"][-1][0] == datetime(2024, 3, 5, 9, 0, tzinfo=CHINA_TZ)


def test_detail_step_without_a_time_is_named_but_counted() -> None:
    detail, problems = parse_detail_page(_html(DETAILS[F]), VIEW.format(F), NOW)
    assert problems == ["step 2 (商家已回复): unrecognised date format: '待更新'"]
    assert (len(detail["steps"]), detail["step_count"]) == (2, 3)


def test_detail_page_without_its_timeline_keeps_the_fields_and_says_so() -> None:
    html = _html(DETAILS[A]).replace("ts-d-steplist", "ts-timeline-v2")
    detail, problems = parse_detail_page(html, VIEW.format(A), NOW)
    assert problems == ["no status timeline (.ts-d-steplist .ts-d-item)"]
    assert (detail["body"], detail["steps"], detail["status"]) == ("", [], "已完成")
    records, _, _ = parse_list_page(_json("complaints_list_p1.json"), NOW)
    merged = merge_detail(records[0], detail)
    assert merged["text"] == records[0]["text"]  # the summary stays
    assert merged["attributes"]["updated_at"] is None


def test_detail_login_page_and_changed_layout_are_refused() -> None:
    with pytest.raises(SourceError, match="login page"):
        parse_detail_page(_html(DETAILS[E]), VIEW.format(E), NOW)
    with pytest.raises(LayoutChanged, match=r"\.ts-d-steplist"):
        parse_detail_page(_html(DETAILS[C]), VIEW.format(C), NOW)


def test_merge_keeps_the_sn_and_takes_the_page_s_newer_status() -> None:
    records, _, _ = parse_list_page(_json("complaints_list_p1.json"), NOW)
    listed = records[1]
    before, _ = parse_detail_page(_html(DETAILS[B]), VIEW.format(B), NOW)
    after, _ = parse_detail_page(_html("complaints_detail_17359012346_done.html"), "", NOW)
    first, second = merge_detail(listed, before), merge_detail(listed, after)
    assert first["external_id"] == second["external_id"] == B
    assert (first["attributes"]["status"], second["attributes"]["status"]) == ("处理中", "已完成")
    assert second["attributes"]["updated_at"] == "2024-03-07T20:40:00+08:00"
    assert (first["attributes"]["status_steps"], second["attributes"]["status_steps"]) == (2, 4)
    assert first["text"].startswith("派送员态度恶劣还威胁客户\n快递员不送货上门")
    assert listed["attributes"]["status_steps"] is None  # the list record is not changed
    with pytest.raises(ValueError, match=f"complaint {B}, not {A}"):
        merge_detail(records[0], before)


# -- real crawls ---------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server = self.server
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        name: str | None = None
        if parts.path == "/api/index/s" and query.get("keywords") == ["某某快递"]:
            name = server.lists.get(int(query["page"][0]), "complaints_list_empty.json")  # type: ignore[attr-defined]
        elif parts.path == "/api/company/received_complaints" and query.get("couid") == ["5000123"]:
            name = "complaints_company_p1.json"
        elif parts.path.startswith("/complaint/view/"):
            name = server.details.get(parts.path.split("/")[3])  # type: ignore[attr-defined]
        if parts.path != "/robots.txt":
            server.requested.append(self.path)  # type: ignore[attr-defined]
        if name is None:
            return reply(self, 404)
        kind = "application/json" if name.endswith(".json") else "text/html"
        reply(self, 200, (SAMPLES / name).read_bytes(), f"{kind}; charset=utf-8")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Handler, requested=[], lists=dict(LISTS), details=dict(DETAILS)) as server:
        yield server


def _source(server: http.server.ThreadingHTTPServer, **options: object) -> SourceConfig:
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return SourceConfig("heimao", "complaints", url, {"keywords": "某某快递", **options})


def _crawl(source: SourceConfig, since: date, until: date, tmp_path: Path):
    result = run_crawl(source, since, until, tmp_path, "salt", timeout=120)
    docs, bad = read_documents_jsonl(result.jsonl_path, source.name)
    assert bad == []
    return result, {d.external_id: d for d in docs}


def _list_pages(server: http.server.ThreadingHTTPServer) -> list[int]:
    pages = [parse_qs(urlsplit(p).query).get("page") for p in server.requested]  # type: ignore[attr-defined]
    return sorted(int(p[0]) for p in pages if p)


def _detail_sns(server: http.server.ThreadingHTTPServer) -> list[str]:
    paths = server.requested  # type: ignore[attr-defined]
    return sorted(p.split("/")[3] for p in paths if p.startswith("/complaint/view/"))


def test_crawl_reads_every_page_and_never_loses_a_complaint(site, tmp_path: Path) -> None:
    result, docs = _crawl(_source(site), date(2024, 2, 1), date(2024, 3, 31), tmp_path)
    assert result.returncode == 0
    assert sorted(docs) == [A, B, C, D, E, F]
    assert _list_pages(site) == [1, 2, 3, 4]  # the pager says 6; page 4 is empty
    assert _detail_sns(site) == sorted([A, B, C, D, E, F])
    a = docs[A]
    assert a.channel == "social" and a.source == "heimao"
    assert a.text.startswith("快递丢件拒不赔偿\n2月28日在某某快递寄出一个包裹（内含一双运动鞋）")
    assert a.attributes["status"] == "已完成" and a.attributes["status_steps"] == 4
    assert a.attributes["updated_at"] == "2024-03-05T09:00:00+08:00"
    assert a.url == VIEW.format(A) and a.created_at == datetime(2024, 3, 3, 12, 30, tzinfo=CHINA_TZ)
    assert a.author_hash and "黑猫" not in a.author_hash
    # Pages that failed (new layout, 404, login) leave the list's summary and status.
    for sn, summary in ((C, "申请退运费险十天了"), (D, "物流显示快递柜签收"), (E, "同样的重量")):
        assert summary in docs[sn].text and docs[sn].attributes["status_steps"] is None
    assert docs[E].attributes["status"] == "已完成"  # status code 4, from the list
    assert result.stats.get("voc/layout_changed") == 1
    assert result.stats.get("voc/download_error") == 1
    # The sn without a time, F's step without a time, E's login page.
    assert result.stats.get("voc/parse_error") == 3
    port = site.server_address[1]
    for expected in (
        f"heimao: http://127.0.0.1:{port}/complaint/view/{C}/: no complaint fields",
        f"heimao: could not fetch http://127.0.0.1:{port}/complaint/view/{D}/: HTTP 404",
        f"heimao: http://127.0.0.1:{port}/complaint/view/{E}/: got a login page",
        "complaint #3: 17359012347: no time",
    ):
        assert any(expected in p for p in result.problems), expected


def test_crawl_stops_at_a_page_older_than_the_window(site, tmp_path: Path) -> None:
    result, docs = _crawl(_source(site), date(2024, 2, 20), date(2024, 3, 31), tmp_path)
    assert sorted(docs) == [A, B, C, D]
    assert _list_pages(site) == [1, 2, 3]  # page 3 (02-09, 02-10) is all before the window
    assert _detail_sns(site) == sorted([A, B, C, D])  # no page fetched for E, F
    assert result.stats.get("voc/out_of_range") == 2


def test_company_crawl_stops_at_the_last_page_and_a_status_change_updates_the_same_complaint(
    site, tmp_path: Path
) -> None:
    source = SourceConfig("heimao", "complaints", _source(site).url, {"company_id": "5000123"})
    _, first = _crawl(source, date(2024, 3, 1), date(2024, 3, 31), tmp_path / "1")
    assert _list_pages(site) == [1]  # pager: 1 of 1
    site.details[B] = "complaints_detail_17359012346_done.html"
    _, second = _crawl(source, date(2024, 3, 1), date(2024, 3, 31), tmp_path / "2")
    before, after = first[B], second[B]
    assert before.id == after.id  # the warehouse's upsert key
    assert (before.attributes["status"], after.attributes["status"]) == ("处理中", "已完成")
    assert before.attributes["updated_at"] < after.attributes["updated_at"]
    assert before.text == after.text


def test_crawl_without_details_keeps_list_summaries(site, tmp_path: Path) -> None:
    source = _source(site, details=False)
    _, docs = _crawl(source, date(2024, 2, 20), date(2024, 3, 31), tmp_path)
    assert sorted(docs) == [A, B, C, D]
    assert _detail_sns(site) == []
    assert docs[A].text.endswith("联系客服多次只说在核实…")
    assert docs[A].attributes["status"] == "已回复"


@pytest.mark.parametrize(
    ("sample", "key", "message"),
    [
        ("complaints_error.json", "voc/parse_error", "list API error -1: 参数错误"),
        ("complaints_changed.json", "voc/layout_changed", "no result.data.lists"),
    ],
)
def test_crawl_counts_an_unusable_list_page_and_stops(
    site, tmp_path: Path, sample: str, key: str, message: str
) -> None:
    site.lists[1] = sample
    result, docs = _crawl(_source(site), date(2024, 2, 1), date(2024, 3, 31), tmp_path)
    assert (result.returncode, docs) == (0, {})
    assert result.stats.get(key) == 1
    assert any(p.startswith("heimao: http://127.0.0.1") and message in p for p in result.problems)
    assert len(site.requested) == 1


def test_a_source_needs_keywords_or_a_company(site, tmp_path: Path) -> None:
    source = SourceConfig("heimao", "complaints", _source(site).url, {})
    result = run_crawl(source, date(2024, 3, 1), date(2024, 3, 31), tmp_path, "salt", timeout=120)
    assert result.returncode != 0 and result.item_count == 0
    assert any("keywords=... or -a company_id=" in p for p in result.problems)
    assert site.requested == []


def test_documents_round_trip_with_attributes() -> None:
    records, _, _ = parse_list_page(_json("complaints_list_p1.json"), NOW)
    doc = make_document(source="heimao", channel="social", **records[0])
    assert Document.from_dict(json.loads(json.dumps(doc.to_dict()))) == doc


def test_customer_key_from_the_complaint_text_or_its_author() -> None:
    record = {"author": "黑猫用户5821", "text": "快递丢件\n联系我 +86 139-1234-5678 谢谢"}
    assert with_customer_key(record, "phone_in_text")["customer"] == "13912345678"
    assert with_customer_key(record, "author")["customer"] == "黑猫用户5821"
    assert with_customer_key(record, "none")["customer"] is None
    assert with_customer_key(record, "email_in_text")["customer"] is None
    assert "customer" not in record  # a new dict; the list record is unchanged


def test_crawl_with_customer_key_author_links_each_complainant(site, tmp_path: Path) -> None:
    source = _source(site, customer_key="author", details=False)
    result, docs = _crawl(source, date(2024, 2, 1), date(2024, 3, 31), tmp_path)
    assert result.returncode == 0 and docs
    assert docs[A].customer_key == hash_customer_key("黑猫用户5821", "salt")
    assert len({d.customer_key for d in docs.values()}) > 1
    # By default public complaints are not linked to customers.
    _, unlinked = _crawl(
        _source(site, details=False), date(2024, 2, 1), date(2024, 3, 31), tmp_path
    )
    assert {d.customer_key for d in unlinked.values()} == {None}
