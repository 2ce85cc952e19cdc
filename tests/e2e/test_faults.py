"""Fault test: sources that answer 500s, time out, send garbage, want a login or changed
their page layout fail loudly, alone.

The healthy demo sources land fully in the same run; the run log, `voc stats --json` and
the source-health alerts name each broken source.
"""

from __future__ import annotations

import http.server
import json
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from demo.data import build_corpus
from tests.e2e.conftest import E2E_UNTIL
from tests.localserver import serve, url_of
from tests.scrapers.test_html_reviews import OPTIONS as HTML_OPTIONS

pytestmark = pytest.mark.e2e
DAY = E2E_UNTIL
SAMPLES = Path(__file__).resolve().parents[1] / "scrapers" / "samples"


class _Broken(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/boom"):
            self._send(500, b"Internal Server Error")
        elif self.path.startswith("/slow"):
            time.sleep(4)  # longer than the source's download_timeout
            self._send(200, b"{}")
        elif self.path.startswith("/garbage"):
            self._send(200, b"\x89PNG\r\n\x1a\n\x00\x00 not json at all {{{")
        elif self.path.startswith("/redesigned"):  # the review site renamed its classes
            self._send(200, (SAMPLES / "html_layout.html").read_bytes(), "text/html; charset=utf-8")
        elif self.path.startswith("/api/container/getIndex"):  # weibo wants a login
            self._send(200, (SAMPLES / "weibo_login.json").read_bytes(), "application/json")
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the crawler gave up on a slow answer
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_site() -> Iterator[str]:
    with serve(_Broken) as server:
        yield url_of(server)


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_broken_sources_fail_alone_and_raise_source_health_alerts(
    prefect_harness, e2e_server, broken_site: str, tmp_path: Path, capsys
) -> None:
    from flows.daily import daily_ingest

    base = e2e_server.base_url
    fast_fail = 'retry_times = 1\nretry_backoff = 0.1\ndownload_timeout = 1\nquery = "客声"\n'
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.demo_shop]\nkind = "shop_reviews"\nurl = "{base}/shop/"\n'
        f'[sources.demo_weibo]\nkind = "microblog"\nurl = "{base}/api/search"\n'
        'query = "客声优选"\n'
        f'[sources.demo_helpdesk]\nkind = "ticket_export"\n'
        f'url = "{base}/helpdesk/exports/index.json"\n'
        f'[sources.boom]\nkind = "microblog"\nurl = "{broken_site}/boom/api"\n{fast_fail}'
        f'[sources.slow]\nkind = "microblog"\nurl = "{broken_site}/slow/api"\n{fast_fail}'
        f'[sources.garbage]\nkind = "microblog"\nurl = "{broken_site}/garbage/api"\n{fast_fail}'
        f'[sources.gone]\nkind = "ticket_export"\nurl = "{broken_site}/boom/index.json"\n'
        f'[sources.login]\nkind = "weibo"\nurl = "{broken_site}"\nquery = "客声"\n'
        f'[sources.redesigned]\nkind = "html_reviews"\nurl = "{broken_site}/redesigned"\n'
        f"rating_regex = 'sml-str(\\d+)'\n"
        f"[sources.redesigned.selectors]\n"
        + "".join(f'{k} = "{v}"\n' for k, v in HTML_OPTIONS["selectors"].items()),
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    result = daily_ingest(since=DAY, until=DAY, config_path=str(config), db_path=str(db))
    assert result["status"] == "partial"

    corpus = build_corpus()
    expected = {
        "demo_shop": sum(
            1 for r in corpus.reviews if r.created_at.date() == DAY and not r.broken_date
        ),
        "demo_weibo": sum(1 for p in corpus.posts if p.created_at.date() == DAY),
        "demo_helpdesk": sum(
            1 for t in corpus.tickets if t.created_at.date() == DAY and t.description.strip()
        ),
    }
    landed = dict(_query(db, "SELECT source, count(*) FROM raw_documents GROUP BY 1"))
    assert landed == {k: v for k, v in expected.items() if v}

    runs = {
        r[0]: r[1:]
        for r in _query(db, "SELECT source, status, fetched, errors, last_error FROM source_runs")
    }
    broken = ("boom", "slow", "garbage", "gone")
    for name in broken:
        status, fetched, errors, last_error = runs[name]
        assert (status, fetched) == ("failed", 0) and errors >= 1, name
        assert last_error.startswith(f"{name}: "), last_error
    assert "HTTP 500" in runs["boom"][3]
    assert "TimeoutError" in runs["slow"][3] or "timed out" in runs["slow"][3].lower()
    for name in expected:
        assert runs[name][0] in ("ok", "partial") and runs[name][1] == expected[name], name

    assert main(["stats", "--db", str(db), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    health = {(a["source"], a["check"]) for a in stats["source_health"]}
    # A login wall is "blocked" and a redesign "layout changed", each with its own fix; only
    # the broken sources are "failed" (four states, never two alerts for one cause).
    assert health == {(name, "failed") for name in broken} | {
        ("login", "blocked"),
        ("redesigned", "layout_changed"),
    }
    by_source = {s["source"]: s for s in stats["sources"]}
    assert all(by_source[n]["status"] == "failed" for n in broken)
    assert all(by_source[n]["open_health_alerts"] == 0 for n in expected)
    assert any(e.startswith("boom: ") for e in stats["last_run"]["errors"])
