"""helpdesk_api: the Zendesk incremental export, against a real local server."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from scrapers.connectors import load_source
from scrapers.helpdesk import USER_AGENT, agent_url, load_helpdesk, parse_ticket
from scrapers.parsers import CHINA_TZ
from tests.scrapers.helpdesk_server import (
    CURSOR_PATH,
    EMAIL,
    GOOD_AUTH,
    TOKEN,
    Helpdesk,
    Reply,
    cursor_for,
    epoch,
    sample,
    sample_tickets,
)
from voc.records import document_id, hash_author, hash_customer_key
from voc.settings import SourceConfig

MARCH = (date(2024, 3, 1), date(2024, 3, 31))


@pytest.fixture
def helpdesk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Helpdesk]:
    monkeypatch.setenv("KESHENG_ZD_TOKEN", TOKEN)
    server = Helpdesk()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def zendesk(server: Helpdesk, **options: Any) -> SourceConfig:
    defaults = {
        "email": EMAIL,
        "token_env": "KESHENG_ZD_TOKEN",
        "per_page": 2,
        "retry_backoff": 0.01,
        "max_wait": 0.05,
        "download_timeout": 2,
        "brand": "客声优选",
    }
    return SourceConfig("kesheng_zendesk", "helpdesk_api", server.url, defaults | options)


def pages(server: Helpdesk) -> list[dict[str, str]]:
    return [query for _, query, _ in server.requests]


LOADED = ["35436", "35437", "35438", "35439"]  # 35440 is deleted, 35441 empty


@pytest.mark.parametrize("export", ["cursor", "time"])
def test_first_run_backfills_every_page_with_basic_auth(helpdesk: Helpdesk, export: str) -> None:
    load = load_helpdesk(zendesk(helpdesk, export=export), *MARCH, "salt")
    docs = {d.external_id: d for d in load.documents}
    assert sorted(docs) == LOADED
    # Deleted and empty tickets are counted; only the empty one is a problem.
    assert load.n_skipped == 2
    assert load.problems == [
        f"kesheng_zendesk: ticket 35441 ({helpdesk.url}{helpdesk.requests[-1][0]}"
        f"?{urlencode(helpdesk.requests[-1][1])}): subject and description are empty"
    ]
    first = pages(helpdesk)[0]
    assert first["start_time"] == str(int(datetime(2024, 3, 1, tzinfo=CHINA_TZ).timestamp()))
    assert first["per_page"] == "2" and len(helpdesk.requests) >= 3
    assert {h["Authorization"] for _, _, h in helpdesk.requests} == {GOOD_AUTH}
    assert {h["User-Agent"] for _, _, h in helpdesk.requests} == {USER_AGENT}
    last = helpdesk.ordered()[-1]
    if export == "cursor":
        assert load.cursor == f"cursor:{cursor_for(epoch(last['updated_at']), last['id'])}"
        assert load.n_rows == 6
    else:
        assert load.cursor == f"time:{epoch(last['updated_at'])}"
        assert load.n_rows > 6  # the time export repeats each page's last ticket
    refund = docs["35437"]
    assert refund.text == (
        "退款三周还没到账\n3月1日申请的退货退款，快递显示仓库已签收，客服说3-5个工作日退款，"
        "到现在三周了还没到账，电话一直打不通。"
    )
    assert refund.created_at == datetime(2024, 3, 5, 14, 40, tzinfo=CHINA_TZ)
    assert refund.author_hash == hash_author("381002877", "salt")
    assert refund.attributes == {
        "status": "pending",
        "priority": "urgent",
        "updated_at": "2024-03-06T03:00:12Z",
        "via": "email",
        "tags": "退款,投诉升级",
    }
    assert (refund.channel, refund.brand, refund.url) == (
        "ticket",
        "客声优选",
        "https://kesheng.zendesk.com/agent/tickets/35437",  # not the API url of the export
    )
    assert docs["35436"].url == "https://kesheng.zendesk.com/agent/tickets/35436"
    assert docs["35438"].text == "APP 更新后一直闪退，华为 Mate 60，鸿蒙系统，卸载重装也没用。"


@pytest.mark.parametrize("export", ["cursor", "time"])
def test_edited_ticket_comes_again_under_its_id_on_the_next_run(
    helpdesk: Helpdesk, export: str
) -> None:
    source = zendesk(helpdesk, export=export)
    first = load_helpdesk(source, *MARCH, "salt")
    added = "\n【追加】今天收到退款了，但少退了运费 12 元。"
    old = helpdesk.tickets[35437]
    helpdesk.edit(
        35437, "2024-03-28T02:00:00Z", status="open", description=old["description"] + added
    )
    helpdesk.requests.clear()
    # A later window: resuming from the cursor, `since` no longer matters.
    second = load_helpdesk(source, date(2024, 3, 27), date(2024, 3, 31), "salt", first.cursor)
    [doc] = second.documents
    before = next(d for d in first.documents if d.external_id == "35437")
    assert doc.external_id == "35437" and doc.id == before.id == document_id(source.name, "35437")
    assert doc.text == before.text + added
    assert doc.attributes["status"] == "open"
    assert second.cursor != first.cursor
    if export == "cursor":
        assert pages(helpdesk)[0] == {
            "cursor": first.cursor[7:],
            "per_page": "2",
            "include": "users,metric_sets",
        }
        assert second.problems == [] and second.n_rows == 1
    else:
        # start_time is inclusive: the last ticket of the first run is read again.
        assert pages(helpdesk)[0] == {
            "start_time": first.cursor[5:],
            "per_page": "2",
            "include": "users,metric_sets",
        }


def test_ticket_edited_during_a_run_is_loaded_once_in_its_latest_state(
    helpdesk: Helpdesk,
) -> None:
    def edit_after_first_page(served: int) -> None:
        if served == 1:
            helpdesk.edit(35436, "2024-03-20T00:00:00Z", status="solved")

    helpdesk.on_page = edit_after_first_page
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    robots = [d for d in load.documents if d.external_id == "35436"]
    assert len(robots) == 1 and robots[0].attributes["status"] == "solved"
    assert robots[0].attributes["updated_at"] == "2024-03-20T00:00:00Z"
    assert load.n_rows == 7  # read twice, loaded once


def test_ticket_created_after_until_is_left_for_the_next_run(helpdesk: Helpdesk) -> None:
    april = copy.deepcopy(helpdesk.tickets[35439])
    april.update(id=35450, subject="四月的工单", created_at="2024-04-01T00:30:00Z")
    april["updated_at"] = "2024-04-01T00:30:00Z"
    helpdesk.tickets[35450] = april
    source = zendesk(helpdesk)
    load = load_helpdesk(source, *MARCH, "salt")
    assert "35450" not in {d.external_id for d in load.documents}
    # 08:30 on 1 April China time is after `until`: the cursor must not pass it.
    assert load.cursor == f"time:{epoch('2024-04-01T00:30:00Z')}"
    later = load_helpdesk(source, date(2024, 4, 1), date(2024, 4, 30), "salt", load.cursor)
    assert [d.external_id for d in later.documents] == ["35450"]


def test_rate_limit_waits_the_capped_retry_after_then_succeeds(helpdesk: Helpdesk) -> None:
    helpdesk.replies = [None, Reply(429, b'{"error":"TooManyRequests"}', {"Retry-After": "30"})]
    started = time.monotonic()
    load = load_helpdesk(zendesk(helpdesk, max_wait=0.2), *MARCH, "salt")
    assert time.monotonic() - started < 5  # max_wait, not the 30 s asked for
    assert sorted(d.external_id for d in load.documents) == LOADED
    assert not any("rate limited" in p for p in load.problems)
    assert pages(helpdesk)[1] == pages(helpdesk)[2]  # the refused page asked again


def test_server_errors_twice_then_success(helpdesk: Helpdesk) -> None:
    helpdesk.replies = [None, Reply(500), Reply(503, b"<html>Service Unavailable</html>")]
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    assert sorted(d.external_id for d in load.documents) == LOADED
    assert len(load.problems) == 1  # the empty ticket only
    assert pages(helpdesk)[1] == pages(helpdesk)[2] == pages(helpdesk)[3]


def test_timeout_is_retried(helpdesk: Helpdesk) -> None:
    helpdesk.replies = [Reply(200, b"{}", delay=1.0)]
    load = load_helpdesk(zendesk(helpdesk, download_timeout=0.3), *MARCH, "salt")
    assert sorted(d.external_id for d in load.documents) == LOADED
    assert pages(helpdesk)[0] == pages(helpdesk)[1]


def test_permanent_server_error_midway_keeps_earlier_pages_and_their_cursor(
    helpdesk: Helpdesk,
) -> None:
    helpdesk.fail_after_pages = 1
    source = zendesk(helpdesk)
    broken = load_helpdesk(source, *MARCH, "salt")
    assert sorted(d.external_id for d in broken.documents) == ["35436", "35437"]
    [problem] = broken.problems
    failed = f"{helpdesk.url}{CURSOR_PATH}?{urlencode(pages(helpdesk)[-1])}"
    assert problem.startswith("kesheng_zendesk: HTTP 500: InternalError at ")
    assert f" at {failed} after 3 attempt(s)" in problem
    assert broken.cursor == f"cursor:{pages(helpdesk)[-1]['cursor']}"
    helpdesk.fail_after_pages = None
    resumed = load_helpdesk(source, *MARCH, "salt", broken.cursor)
    # Nothing lost, nothing read twice.
    assert sorted(d.external_id for d in resumed.documents) == ["35438", "35439"]
    assert resumed.n_rows == 4 and pages(helpdesk)[-2]["cursor"] == broken.cursor[7:]


def test_wrong_token_is_an_authentication_problem_without_the_token(
    helpdesk: Helpdesk,
) -> None:
    helpdesk.auth = "Basic somebody-else"
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt", "cursor:MTcwOTk0NTQ4NC4zNTQzOQ==")
    [problem] = load.problems
    assert problem.startswith(
        "kesheng_zendesk: authentication failed (HTTP 401: Couldn't authenticate you) at "
        f"{helpdesk.url}{CURSOR_PATH}?cursor="
    )
    assert TOKEN not in problem and GOOD_AUTH.split()[1] not in problem
    assert load.documents == [] and len(helpdesk.requests) == 1  # no retry on a 401
    assert load.cursor == "cursor:MTcwOTk0NTQ4NC4zNTQzOQ=="  # the next run starts there again


def test_failed_first_run_returns_no_cursor(helpdesk: Helpdesk) -> None:
    helpdesk.replies = [Reply(503)] * 3
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    # No cursor stored: the next run's window (watermark minus look-back) decides.
    assert load.cursor is None and load.documents == [] and len(load.problems) == 1


def test_secrets_echoed_in_an_error_are_scrubbed(helpdesk: Helpdesk) -> None:
    echo = {"error": "BadRequest", "description": f"rejected {GOOD_AUTH} ({TOKEN})"}
    helpdesk.replies = [Reply(400, json.dumps(echo).encode())]
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    [problem] = load.problems
    assert problem.startswith("kesheng_zendesk: HTTP 400: BadRequest: rejected Basic *** (***) at ")
    assert TOKEN not in problem


def test_an_older_copy_later_in_the_stream_does_not_replace_the_newer(
    helpdesk: Helpdesk,
) -> None:
    [robot] = [t for t in sample_tickets() if t["id"] == 35436]
    newer = {**robot, "status": "solved", "updated_at": "2024-03-20T00:00:00Z"}
    first = {"tickets": [newer], "after_cursor": "b2xk", "end_of_stream": False}
    # A lagging replica serves the ticket's earlier state on the next page.
    second = {"tickets": [robot], "after_cursor": "bmV3", "end_of_stream": True}
    helpdesk.replies = [Reply(200, json.dumps(p).encode()) for p in (first, second)]
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    [doc] = load.documents
    assert doc.attributes["status"] == "solved" and load.n_rows == 2
    assert load.cursor == "cursor:bmV3"


def test_token_is_not_sent_along_a_redirect_to_another_host(helpdesk: Helpdesk) -> None:
    other = Helpdesk()
    threading.Thread(target=other.serve_forever, args=(0.05,), daemon=True).start()
    try:
        helpdesk.replies = [Reply(302, headers={"Location": f"{other.url}{CURSOR_PATH}"})]
        load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    finally:
        other.shutdown()
        other.server_close()
    [(_, _, headers)] = other.requests
    assert "Authorization" not in headers
    assert load.problems[0].startswith("kesheng_zendesk: authentication failed (HTTP 401")


def test_bearer_token_for_oauth(helpdesk: Helpdesk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KESHENG_OAUTH", "oauth-Qm9vbGVhbg")
    helpdesk.auth = "Bearer oauth-Qm9vbGVhbg"
    source = zendesk(helpdesk, token_env=None, bearer_env="KESHENG_OAUTH")
    load = load_helpdesk(source, *MARCH, "salt")
    assert len(load.documents) == 4


def test_missing_token_variable_is_a_problem_before_any_request(
    helpdesk: Helpdesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KESHENG_ZD_TOKEN")
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt", "time:1709251200")
    assert load.problems == [
        "kesheng_zendesk: environment variable KESHENG_ZD_TOKEN (token_env) is not set"
    ]
    assert helpdesk.requests == [] and load.cursor == "time:1709251200"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("helpdesk_maintenance.html", "not JSON: '<!DOCTYPE html>"),
        ("helpdesk_changed_layout.json", "no tickets list (got data, links, meta)"),
    ],
)
def test_garbage_or_changed_layout_is_an_unexpected_response(
    helpdesk: Helpdesk, name: str, says: str
) -> None:
    helpdesk.replies = [None, Reply(200, sample(name))]
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    [problem] = load.problems
    url = f"{helpdesk.url}{CURSOR_PATH}?{urlencode(pages(helpdesk)[1])}"
    assert problem.startswith(f"kesheng_zendesk: unexpected response from {url}: {says}")
    assert len(helpdesk.requests) == 2  # garbage is not retried
    assert sorted(d.external_id for d in load.documents) == ["35436", "35437"]
    assert load.cursor == f"cursor:{pages(helpdesk)[1]['cursor']}"


def test_invalid_cursor_error_payload_is_a_problem_and_keeps_the_cursor(
    helpdesk: Helpdesk,
) -> None:
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt", "cursor:not-a-cursor")
    assert load.problems == [
        "kesheng_zendesk: HTTP 400: InvalidPaginationParameter: cursor is not valid: it may "
        f"have expired or been altered at {helpdesk.url}{CURSOR_PATH}"
        "?cursor=not-a-cursor&per_page=2&include=users%2Cmetric_sets"
    ]
    assert load.cursor == "cursor:not-a-cursor"


def test_empty_stream_returns_nothing_and_the_servers_cursor(helpdesk: Helpdesk) -> None:
    helpdesk.replies = [Reply(200, sample("helpdesk_cursor_end.json"))]
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    saved = json.loads(sample("helpdesk_cursor_end.json"))
    assert (load.documents, load.problems, load.n_rows) == ([], [], 0)
    assert load.cursor == f"cursor:{saved['after_cursor']}" and len(helpdesk.requests) == 1


def test_saved_time_page_is_read_and_resumes_at_its_end_time(helpdesk: Helpdesk) -> None:
    end = json.loads(sample("helpdesk_time_page1.json"))["end_time"]
    later = {**json.loads(sample("helpdesk_time_page1.json")), "tickets": [], "count": 0}
    later["end_of_stream"] = True
    helpdesk.replies = [
        Reply(200, sample("helpdesk_time_page1.json")),
        Reply(200, json.dumps(later).encode()),
    ]
    load = load_helpdesk(zendesk(helpdesk, export="time"), *MARCH, "salt")
    assert [d.external_id for d in load.documents] == ["35439"]
    assert load.cursor == f"time:{end}" and pages(helpdesk)[1]["start_time"] == str(end)


def test_max_pages_stops_the_run_with_a_problem_and_a_resumable_cursor(
    helpdesk: Helpdesk,
) -> None:
    source = zendesk(helpdesk, max_pages=1)
    load = load_helpdesk(source, *MARCH, "salt")
    assert [d.external_id for d in load.documents] == ["35436", "35437"]
    assert load.problems == [
        f"kesheng_zendesk: stopped after 1 pages (max_pages) at {helpdesk.url}; "
        "the next run continues from there"
    ]
    nxt = load_helpdesk(source, *MARCH, "salt", load.cursor)
    assert [d.external_id for d in nxt.documents] == ["35438", "35439"]


def test_cursor_of_the_other_export_style_starts_from_since(helpdesk: Helpdesk) -> None:
    load = load_helpdesk(zendesk(helpdesk, export="time"), *MARCH, "salt", "cursor:abc")
    assert load.problems[0] == (
        f"kesheng_zendesk: cursor 'cursor:abc' cannot resume a time export at {helpdesk.url}; "
        "starting from 2024-03-01"
    )
    assert sorted(d.external_id for d in load.documents) == LOADED


def test_bad_option_is_a_problem_naming_it() -> None:
    source = SourceConfig(
        "kesheng_zendesk", "helpdesk_api", "https://x.zendesk.com", {"export": "full"}
    )
    load = load_helpdesk(source, *MARCH, "salt")
    assert load.problems == [
        "kesheng_zendesk: 选项 export 的值 'full' 无效：Input should be 'cursor' or 'time'"
    ]


def test_load_source_dispatches_helpdesk_api(helpdesk: Helpdesk) -> None:
    load = load_source(zendesk(helpdesk), *MARCH, "salt")
    assert sorted(d.external_id for d in load.documents) == LOADED


def test_parse_ticket_from_a_saved_page() -> None:
    ticket = json.loads(sample("helpdesk_cursor_page1.json"))["tickets"][2]
    doc = parse_ticket(ticket, "kesheng_zendesk", "salt")
    assert doc.text == ticket["description"]  # no subject: no leading newline
    assert doc.attributes == {
        "status": "new",
        "updated_at": "2024-03-07T12:31:55Z",
        "via": "mobile_sdk",
    }
    assert doc.created_at == datetime(2024, 3, 7, 20, 31, 55, tzinfo=CHINA_TZ)
    # The export's url is the API resource; the document links the agent's ticket page.
    assert ticket["url"] == f"https://kesheng.zendesk.com/api/v2/tickets/{ticket['id']}.json"
    assert doc.url == f"https://kesheng.zendesk.com/agent/tickets/{ticket['id']}"


def test_agent_url_from_the_api_url_else_the_configured_base() -> None:
    api = {"id": 7, "url": "https://acme.zendesk.com/api/v2/tickets/7.json"}
    assert agent_url(api) == "https://acme.zendesk.com/agent/tickets/7"
    assert agent_url({"id": 7}, "https://acme.zendesk.com/") == (
        "https://acme.zendesk.com/agent/tickets/7"
    )
    assert agent_url({"id": 7}) is None


def test_loaded_tickets_link_their_agent_page(helpdesk: Helpdesk) -> None:
    load = load_source(zendesk(helpdesk), *MARCH, "salt")
    assert load.documents and all(
        d.url is not None and d.url.endswith(f"/agent/tickets/{d.external_id}")
        for d in load.documents
    )


def test_customer_key_is_the_side_loaded_requester_email_else_the_requester_id(
    helpdesk: Helpdesk,
) -> None:
    requester = helpdesk.tickets[35436]["requester_id"]
    helpdesk.users = {requester: {"id": requester, "name": "李娜", "email": "Li.Na@Example.com"}}
    load = load_helpdesk(zendesk(helpdesk), *MARCH, "salt")
    assert all(query.get("include") == "users,metric_sets" for query in pages(helpdesk))
    docs = {d.external_id: d for d in load.documents}
    # The e-mail is normalised before hashing, so the CRM's li.na@example.com links up.
    assert docs["35436"].customer_key == hash_customer_key("li.na@example.com", "salt")
    other = docs["35437"]
    assert other.customer_key == hash_customer_key(
        str(helpdesk.tickets[35437]["requester_id"]), "salt"
    )
    assert other.customer_key != docs["35436"].customer_key
    # The author stays the requester id's hash, whatever the customer key.
    assert docs["35436"].author_hash == hash_author(str(requester), "salt")


def test_customer_key_requester_id_does_not_side_load_users(helpdesk: Helpdesk) -> None:
    load = load_helpdesk(zendesk(helpdesk, customer_key="requester_id"), *MARCH, "salt")
    # Only the metric sets are side-loaded (response times), not the users.
    assert all(query.get("include") == "metric_sets" for query in pages(helpdesk))
    for doc in load.documents:
        requester = str(helpdesk.tickets[int(doc.external_id)]["requester_id"])
        assert doc.customer_key == hash_customer_key(requester, "salt")


def test_customer_key_phone_in_text_reads_the_unmasked_description(helpdesk: Helpdesk) -> None:
    old = helpdesk.tickets[35437]
    helpdesk.edit(
        35437, old["updated_at"], description=old["description"] + " 我的手机 138 0013 8000"
    )
    load = load_helpdesk(zendesk(helpdesk, customer_key="phone_in_text"), *MARCH, "salt")
    docs = {d.external_id: d for d in load.documents}
    assert docs["35437"].customer_key == hash_customer_key("13800138000", "salt")
    assert "138 0013 8000" in docs["35437"].text  # masking happens later, in the flow
    assert docs["35436"].customer_key is None  # no number in its text: unlinked, kept
