"""Every source kind, twice, through the daily flow into one warehouse.

Each web source is served from its saved responses by its own local server; connectors
read local files or a local API. The second run of the same days must add no row and
update exactly the documents that changed at the source in between (an edited forum post,
a complaint whose status moved on).
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from tests.localserver import serve, url_of
from tests.scrapers import (
    test_complaints,
    test_helpdesk,
    test_html_reviews,
    test_jd,
    test_weibo,
)

pytestmark = pytest.mark.e2e
SAMPLES = Path(__file__).resolve().parents[1] / "scrapers" / "samples"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SINCE, UNTIL = date(2024, 1, 1), date(2025, 12, 31)

#: (status, sample file, content type, Date header or None) for a path and query.
Route = Callable[[str, dict[str, str]], tuple[int, str | None, str, str | None]]


def _appstore(path: str, query: dict[str, str]):
    m = re.fullmatch(
        r"/cn/rss/customerreviews/page=(\d+)/id=123456789/sortby=mostrecent/json", path
    )
    if m is None:
        return 404, None, "text/plain", None
    name = {1: "appstore_page1.json", 2: "appstore_page2.json"}.get(
        int(m[1]), "appstore_empty.json"
    )
    return 200, name, "application/json; charset=utf-8", None


def _weibo(path: str, query: dict[str, str]):
    status, name = test_weibo._route(path, query)
    file = f"weibo_{name}.json" if name else None
    return status, file, "application/json; charset=utf-8", test_weibo.HTTP_DATE


def _jd(path: str, query: dict[str, str]):
    route = test_jd.ROUTES.get((query.get("productId", ""), int(query.get("page", -1))))
    if path != "/comment/productPageComments.action" or route is None:
        return 404, None, "text/plain", None
    return 200, route[0], route[1] or "application/octet-stream", None


def _html(path: str, query: dict[str, str]):
    full = path + (f"?page={query['page']}" if "page" in query else "")
    status, name, content_type = test_html_reviews.ROUTES.get(full, (404, None, "text/plain"))
    return status, name, content_type, "Tue, 05 Mar 2024 04:00:00 GMT"


def _complaints(details: dict[str, str]) -> Route:
    def route(path: str, query: dict[str, str]):
        name = None
        if path == "/api/index/s" and query.get("keywords") == "某某快递":
            name = test_complaints.LISTS.get(int(query["page"]), "complaints_list_empty.json")
        elif path.startswith("/complaint/view/"):
            name = details.get(path.split("/")[3])
        kind = "application/json" if name and name.endswith(".json") else "text/html"
        return (200 if name else 404), name, f"{kind}; charset=utf-8", None

    return route


def _feed(feed: Path) -> Route:
    def route(path: str, query: dict[str, str]):
        if path != "/forum/rss":
            return 404, None, "text/plain", None
        return 200, str(feed), "application/rss+xml; charset=utf-8", None

    return route


class _Handler(http.server.BaseHTTPRequestHandler):
    fixed_date: str | None = None

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        status, name, content_type, self.fixed_date = self.server.route(parts.path, query)  # type: ignore[attr-defined]
        body = (SAMPLES / name).read_bytes() if name else b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return self.fixed_date or super().date_time_string(timestamp)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[Callable[[Route], str]]:
    with ExitStack() as stack:
        yield lambda route: url_of(stack.enter_context(serve(_Handler, route=route)))


def _toml_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _config(sources: dict[str, dict[str, object]]) -> str:
    lines = []
    for name, spec in sources.items():
        lines.append(f"[sources.{name}]")
        for key, value in spec.items():
            if isinstance(value, dict):
                continue
            lines.append(f"{key} = {_toml_value(value)}")
        for key, value in spec.items():
            if isinstance(value, dict):
                lines.append(f"[sources.{name}.{key}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in value.items()]
    return "\n".join(lines) + "\n"


def _counts(db: Path, run_id: str) -> dict[str, tuple[int, int, int, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT source, fetched, new, updated, unchanged FROM source_runs WHERE run_id = ?",
            [run_id],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture
def zendesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[test_helpdesk.Helpdesk]:
    monkeypatch.setenv("KESHENG_ZD_TOKEN", test_helpdesk.TOKEN)
    server = test_helpdesk.Helpdesk()
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_every_source_twice_adds_nothing_and_updates_only_what_changed(
    prefect_harness, servers, zendesk, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    feed = tmp_path / "forum.xml"
    shutil.copy(SAMPLES / "forum_rss.xml", feed)
    details = dict(test_complaints.DETAILS)
    exports = tmp_path / "exports"
    shutil.copytree(FIXTURES / "tickets", exports)
    mail = tmp_path / "mail"
    mail.mkdir()
    for name in ("mail_utf8_plain.eml", "mail_gbk_qp.eml", "mail_archive_2024-03.mbox"):
        shutil.copy(SAMPLES / name, mail / name)
    sources: dict[str, dict[str, object]] = {
        "ios": {"kind": "app_store", "url": servers(_appstore), "app_id": "123456789"},
        "weibo": {"kind": "weibo", "url": servers(_weibo), "query": test_weibo.QUERY},
        "jd": {
            "kind": "jd_comments",
            "url": servers(_jd) + "/comment/productPageComments.action",
            "product_id": test_jd.PRODUCT,
        },
        "dianping": {
            "kind": "html_reviews",
            "url": servers(_html) + "/shop/H8a9/reviews",
            **test_html_reviews.OPTIONS,
        },
        "heimao": {
            "kind": "complaints",
            "url": servers(_complaints(details)),
            "keywords": "某某快递",
        },
        "forum": {"kind": "rss", "url": servers(_feed(feed)) + "/forum/rss"},
        "helpdesk": {"kind": "ticket_export", "url": str(exports)},
        "mail": {"kind": "mailbox", "url": str(mail)},
        "zendesk": {
            "kind": "helpdesk_api",
            "url": zendesk.url,
            "email": test_helpdesk.EMAIL,
            "token_env": "KESHENG_ZD_TOKEN",
            "per_page": 2,
        },
    }
    config = tmp_path / "voc.toml"
    config.write_text(_config(sources), encoding="utf-8")
    db = tmp_path / "w.duckdb"

    first = daily_ingest(since=SINCE, until=UNTIL, config_path=str(config), db_path=str(db))
    runs1 = _counts(db, first["run_id"])
    assert set(runs1) == set(sources)
    for name, (fetched, new, updated, unchanged) in runs1.items():
        assert fetched > 0 and new == fetched and (updated, unchanged) == (0, 0), name

    # Between the runs: a forum post is edited, a complaint is resolved, a ticket gets a
    # follow-up.
    text = feed.read_text(encoding="utf-8")
    feed.write_text(text.replace("客服也不回复。", "客服也不回复。已经一周了！"), encoding="utf-8")
    details[test_complaints.B] = "complaints_detail_17359012346_done.html"
    ticket = zendesk.tickets[35437]
    zendesk.edit(35437, "2024-03-28T02:00:00Z", description=ticket["description"] + "\n还没退款")

    with duckdb.connect(str(db), read_only=True) as con:
        rows_before = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
    second = daily_ingest(since=SINCE, until=UNTIL, config_path=str(config), db_path=str(db))
    runs2 = _counts(db, second["run_id"])
    with duckdb.connect(str(db), read_only=True) as con:
        rows_after = con.execute("SELECT count(*) FROM raw_documents").fetchone()[0]
        status = con.execute(
            "SELECT attributes->>'status' FROM raw_documents WHERE source = 'heimao' "
            "AND external_id = ?",
            [test_complaints.B],
        ).fetchone()[0]
        edited = con.execute(
            "SELECT text FROM raw_documents WHERE source = 'forum' AND external_id = 'thread-1001'"
        ).fetchone()[0]
        cursor = con.execute("SELECT cursor FROM source_state WHERE source = 'zendesk'").fetchone()
    assert rows_after == rows_before
    for name, (fetched, new, updated, unchanged) in runs2.items():
        assert fetched == runs1[name][0] and new == 0, name
        assert updated == (1 if name in ("forum", "heimao", "zendesk") else 0), (name, runs2[name])
        assert unchanged == fetched - updated, name
    assert status == "已完成" and "客服也不回复。已经一周了！" in edited
    assert cursor[0].startswith("cursor:")  # where the next incremental run resumes
