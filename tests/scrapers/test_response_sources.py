"""Response times as the sources give them: Zendesk's metric_sets side-load, mail replies
from our own domain, a complaint's 商家回复 / 已完成 steps — parsers on saved pages and
real fetches from a local HTTP server (tests.localserver)."""

from __future__ import annotations

import http.server
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scrapers.complaints import merge_detail, parse_detail_page, parse_list_page, response_steps
from scrapers.helpdesk import load_helpdesk, parse_ticket
from scrapers.helpdesk_metrics import metric_attributes, metric_sets_by_ticket
from scrapers.mailbox import load_mailbox
from scrapers.parsers import CHINA_TZ
from scrapers.run import run_crawl
from tests.localserver import reply, serve, url_of
from voc.records import read_documents_jsonl
from voc.settings import SourceConfig

FIXTURES = Path(__file__).parents[1] / "fixtures" / "response_times"
SAMPLES = Path(__file__).parent / "samples"
ZENDESK_PAGE = FIXTURES / "zendesk_cursor_metric_sets.json"
THREAD = FIXTURES / "support_thread_2024-03.mbox"
MARCH = (date(2024, 3, 1), date(2024, 3, 31))
NOW = datetime(2024, 3, 8, 12, 0, tzinfo=CHINA_TZ)
# The thread's Message-IDs: the customer's mail, our reply, the customer's follow-up, our
# second reply, another customer's unanswered mail.
A = "20240304090000.1001@example.cn"
B = "kesheng-20240304153000.77@kesheng.cn"
C = "20240305100000.1002@example.cn"
D = "kesheng-20240306180000.91@kesheng.cn"
E = "20240306110000.2001@example.cn"


# -- Zendesk ticket metrics ----------------------------------------------------------------


class _Zendesk(http.server.BaseHTTPRequestHandler):
    """The incremental cursor export answering with a saved page (users and metric sets
    side-loaded only when asked for)."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.queries.append(query)  # type: ignore[attr-defined]
        if parts.path != "/api/v2/incremental/tickets/cursor.json":
            return reply(self, 404)
        page = json.loads(ZENDESK_PAGE.read_text(encoding="utf-8"))
        includes = query.get("include", "").split(",")
        for side_load in ("users", "metric_sets"):
            if side_load not in includes:
                del page[side_load]
        body = json.dumps(page, ensure_ascii=False).encode()
        reply(self, 200, body, "application/json; charset=utf-8")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def zendesk_site() -> Iterator[http.server.ThreadingHTTPServer]:
    with serve(_Zendesk, queries=[]) as server:
        yield server


def _zendesk(server: http.server.HTTPServer, **options: object) -> SourceConfig:
    return SourceConfig("kesheng_zendesk", "helpdesk_api", url_of(server), dict(options))


def test_metric_sets_side_load_becomes_each_ticket_s_response_attributes(zendesk_site) -> None:
    load = load_helpdesk(_zendesk(zendesk_site), *MARCH, "salt")
    assert load.problems == []
    assert [q.get("include") for q in zendesk_site.queries] == ["users,metric_sets"]
    docs = {d.external_id: d for d in load.documents}
    solved = docs["35501"].attributes
    assert {k: solved[k] for k in solved if k not in ("updated_at", "tags", "via")} == {
        "status": "solved",
        "priority": "high",
        "reply_minutes": 95,
        "reply_business_minutes": 60,
        "first_resolution_minutes": 1440,
        "first_resolution_business_minutes": 480,
        "full_resolution_minutes": 2880,
        "full_resolution_business_minutes": 960,
        "solved_at": "2024-03-06T01:12:09Z",
        "assignee_id": "90021734",
        "response_origin": "zendesk_metrics",
    }
    # Not replied yet: null durations are left out, not read as zero; no assignee.
    new = docs["35503"].attributes
    assert new["response_origin"] == "zendesk_metrics"
    assert not {"reply_minutes", "assignee_id", "solved_at"} & set(new)
    assert docs["35502"].attributes["reply_minutes"] == 1800
    assert "full_resolution_minutes" not in docs["35502"].attributes


def test_metric_sets_option_off_side_loads_nothing_and_adds_no_attributes(zendesk_site) -> None:
    load = load_helpdesk(
        _zendesk(zendesk_site, metric_sets=False, customer_key="requester_id"), *MARCH, "salt"
    )
    assert ["include" in q for q in zendesk_site.queries] == [False]
    assert all("response_origin" not in d.attributes for d in load.documents)


def test_metric_set_embedded_in_the_ticket_is_read_and_a_bad_duration_is_dropped() -> None:
    page = json.loads(ZENDESK_PAGE.read_text(encoding="utf-8"))
    by_ticket = metric_sets_by_ticket(page)
    assert sorted(by_ticket) == ["35501", "35502", "35503", "35504"]
    ticket = next(t for t in page["tickets"] if t["id"] == 35502)
    embedded = {**ticket, "metric_set": by_ticket["35502"]}
    assert metric_attributes(embedded, None) == metric_attributes(ticket, by_ticket)
    damaged = {**by_ticket["35502"], "reply_time_in_minutes": {"calendar": "soon", "business": -5}}
    attributes = metric_attributes(ticket, {"35502": damaged})
    assert "reply_minutes" not in attributes and "reply_business_minutes" not in attributes
    doc = parse_ticket(ticket, "kesheng_zendesk", "salt", metric_sets=by_ticket)
    assert doc.attributes["reply_minutes"] == 1800 and doc.attributes["assignee_id"] == "90021788"
    assert metric_attributes(ticket, {}) == {}  # no metric set: nothing claimed


# -- mail threads --------------------------------------------------------------------------


def _mail(**options: object) -> SourceConfig:
    return SourceConfig("support_mail", "mailbox", str(THREAD), dict(options))


def test_mails_from_our_domain_are_replies_naming_what_they_answer() -> None:
    load = load_mailbox(_mail(our_domains=["kesheng.cn"]), *MARCH, "salt")
    assert load.problems == []
    assert sorted(d.external_id for d in load.documents) == sorted([A, C, E])
    assert all(d.attributes["response_origin"] == "mail_thread" for d in load.documents)
    replies = {r.message_id: r for r in load.replies}
    # The auto-acknowledgement (Auto-Submitted) and the newsletter (answers nothing) are
    # neither voices nor replies.
    assert sorted(replies) == [B, D]
    assert replies[B].refs == (A,) and replies[B].replier == "li.wei@kesheng.cn"
    assert replies[D].refs == (C, A, B)  # In-Reply-To first, then References
    assert replies[D].replied_at == datetime(2024, 3, 6, 18, 0, tzinfo=CHINA_TZ)
    assert replies[D].source == "support_mail"


def test_our_domains_match_subdomains_and_an_at_sign_but_not_lookalikes() -> None:
    load = load_mailbox(_mail(our_domains=["@KESHENG.cn"]), *MARCH, "salt")
    assert sorted(r.message_id for r in load.replies) == [B, D]
    other = load_mailbox(_mail(our_domains=["sheng.cn"]), *MARCH, "salt")
    assert other.replies == []
    # Without our_domains nothing is tracked and the mails load as before.
    plain = load_mailbox(_mail(), *MARCH, "salt")
    assert plain.replies == [] and all(
        "response_origin" not in d.attributes for d in plain.documents
    )


def test_a_reply_outside_the_window_waits_for_its_run() -> None:
    first = load_mailbox(_mail(our_domains="kesheng.cn"), date(2024, 3, 1), date(2024, 3, 5), "s")
    assert sorted(d.external_id for d in first.documents) == sorted([A, C])
    assert [r.message_id for r in first.replies] == [B]
    second = load_mailbox(_mail(our_domains="kesheng.cn"), date(2024, 3, 6), date(2024, 3, 7), "s")
    assert [d.external_id for d in second.documents] == [E]
    assert [r.message_id for r in second.replies] == [D]


# -- complaint platforms -------------------------------------------------------------------


def test_response_steps_take_the_first_merchant_reply_and_the_last_completion() -> None:
    at = [datetime(2024, 3, d, 9, 0, tzinfo=CHINA_TZ) for d in range(1, 7)]
    steps = [
        (at[0], "发起投诉"),
        (at[1], "投诉已分配"),
        (at[2], "商家已回复"),
        (at[3], "用户补充"),
        (at[4], "商家回复"),
        (at[5], "投诉已完成"),
    ]
    assert response_steps(steps) == (at[2], at[5])
    assert response_steps(steps[:2]) == (None, None)
    assert response_steps([(at[0], "发起投诉"), (at[1], "已回复"), (at[2], "已结案")]) == (
        at[1],
        at[2],
    )


def test_detail_page_timeline_gives_replied_and_completed_times() -> None:
    records, _, _ = parse_list_page(
        json.loads((SAMPLES / "complaints_list_p1.json").read_text(encoding="utf-8")), NOW
    )
    html = (SAMPLES / "complaints_detail_17359012346.html").read_text(encoding="utf-8")
    pending = merge_detail(records[1], parse_detail_page(html, "", NOW)[0])["attributes"]
    assert (pending["replied_at"], pending["completed_at"]) == (None, None)
    assert pending["response_origin"] == "complaint_steps"
    html = (SAMPLES / "complaints_detail_17359012346_done.html").read_text(encoding="utf-8")
    done = merge_detail(records[1], parse_detail_page(html, "", NOW)[0])["attributes"]
    assert done["replied_at"] == "2024-03-06T11:15:00+08:00"
    assert done["completed_at"] == "2024-03-07T20:40:00+08:00"
    assert "response_origin" not in records[1]["attributes"]  # the list alone has no timeline


#: The complaint pages the local site has: A's (已完成) and B's after it was completed.
COMPLAINT_PAGES = {
    "/complaint/view/17359012345/": "complaints_detail_17359012345.html",
    "/complaint/view/17359012346/": "complaints_detail_17359012346_done.html",
}


class _Complaints(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        page = parse_qs(parts.query).get("page", ["1"])[0]
        if parts.path == "/api/index/s":
            name = "complaints_list_p1.json" if page == "1" else "complaints_list_empty.json"
        else:
            name = COMPLAINT_PAGES.get(parts.path)
        if name is None:
            return reply(self, 404)
        kind = "application/json" if name.endswith(".json") else "text/html"
        reply(self, 200, (SAMPLES / name).read_bytes(), f"{kind}; charset=utf-8")

    def log_message(self, *args: object) -> None:
        pass


def test_complaint_crawl_carries_the_reply_and_completion_steps(tmp_path: Path) -> None:
    with serve(_Complaints) as server:
        source = SourceConfig("heimao", "complaints", url_of(server), {"keywords": "某某快递"})
        result = run_crawl(source, date(2024, 2, 1), date(2024, 3, 31), tmp_path, "salt", 120)
    docs, bad = read_documents_jsonl(result.jsonl_path, source.name)
    assert bad == [] and result.returncode == 0
    by_sn = {d.external_id: d.attributes for d in docs}
    assert by_sn["17359012345"]["replied_at"] == "2024-03-04T10:20:00+08:00"
    assert by_sn["17359012345"]["completed_at"] == "2024-03-05T09:00:00+08:00"
    assert by_sn["17359012346"]["replied_at"] == "2024-03-06T11:15:00+08:00"
    assert {a["response_origin"] for a in by_sn.values()} == {"complaint_steps"}
