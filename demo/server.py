"""The demo sources over real HTTP on localhost: a shop, a microblog search API, a helpdesk.

Every response carries the demo clock (`demo.events.DEMO_NOW`) in its ``Date`` header, and
the shop renders recent dates relative to it (``3天前``), so crawlers resolve them the way
they would against a live site.

Run standalone with ``python -m demo.server --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import csv
import html
import io
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from demo.customers import DemoCustomers, build_customers, survey_months, survey_xlsx
from demo.data import BRAND, GBK_MONTH, PRODUCTS, DemoCorpus, Post, Review, build_corpus
from demo.events import DEMO_NOW, DEMO_TZ

logger = logging.getLogger(__name__)

REVIEWS_PER_PAGE = 20
POSTS_PER_PAGE = 20
TICKET_COLUMNS = ("工单号", "创建时间", "客户", "渠道", "问题描述", "处理结果", "会员号")
ROBOTS_TXT = "User-agent: *\nDisallow: /admin/\nAllow: /\n"


def render_relative_time(created: datetime, now: datetime) -> str:
    """A timestamp the way Chinese sites print it: 刚刚, N分钟前, 昨天 12:30, 3天前...

    Minutes and hours are rounded to the nearest unit (as moment-style "fromNow" helpers
    do); days count calendar days in the site's timezone.
    """
    created = created.astimezone(now.tzinfo)
    seconds = (now - created).total_seconds()
    if seconds < 60:
        return "刚刚"
    if seconds < 3600 - 30:
        return f"{max(1, round(seconds / 60))}分钟前"
    if seconds < 86400:
        return f"{max(1, round(seconds / 3600))}小时前"
    days = (now.date() - created.date()).days
    if days == 1:
        return f"昨天 {created:%H:%M}"
    if days < 7:
        return f"{days}天前"
    return f"{created:%Y-%m-%d %H:%M}"


def weibo_time(stamp: datetime) -> str:
    """Weibo's created_at format: ``Tue Aug 12 10:03:00 +0800 2025`` (always English)."""
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[stamp.weekday()]} {months[stamp.month - 1]} {stamp:%d %H:%M:%S %z %Y}"


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Offset inside a cursor; ValueError for a cursor this server did not hand out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, offset = raw.split(":")
        if version != "v1" or int(offset) < 0:
            raise ValueError
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes


class DemoSite:
    """Renders every demo page from the corpus; no HTTP in here."""

    def __init__(
        self,
        corpus: DemoCorpus,
        now: datetime = DEMO_NOW,
        customers: DemoCustomers | None = None,
    ) -> None:
        self.now = now
        customers = customers or build_customers(corpus.seed)
        self.products = dict(PRODUCTS)
        self.reviews = {pid: corpus.reviews_for(pid) for pid in self.products}
        self.posts: list[Post] = sorted(
            corpus.posts, key=lambda p: (p.created_at, p.post_id), reverse=True
        )
        self.exports = {
            f"tickets_{month}.csv": (month, _ticket_csv(month, rows, customers.ticket_members))
            for month, rows in corpus.ticket_months().items()
        }
        self.surveys = {
            f"survey_{month}.xlsx": (month, len(rows), survey_xlsx(rows))
            for month, rows in survey_months(customers).items()
        }
        self.export_rows = {
            name: len(rows)
            for name, rows in zip(self.exports, corpus.ticket_months().values(), strict=True)
        }

    def handle(self, path: str, query: dict[str, list[str]]) -> Reply:
        parts = [p for p in path.split("/") if p]
        routes: dict[tuple[str, ...], Callable[[], Reply]] = {
            ("robots.txt",): lambda: Reply(200, "text/plain; charset=utf-8", ROBOTS_TXT.encode()),
            ("shop",): self.shop_index,
            ("api", "search"): lambda: self.search(query),
            ("helpdesk", "exports", "index.json"): self.export_index,
            ("survey", "exports", "index.json"): self.survey_index,
        }
        if tuple(parts) in routes:
            return routes[tuple(parts)]()
        if len(parts) == 4 and parts[:2] == ["shop", "product"] and parts[3] == "reviews":
            return self.review_page(parts[2], query)
        if len(parts) == 3 and parts[:2] == ["helpdesk", "exports"] and parts[2] in self.exports:
            return Reply(200, "text/csv", self.exports[parts[2]][1])
        if len(parts) == 3 and parts[:2] == ["survey", "exports"] and parts[2] in self.surveys:
            return Reply(200, _XLSX, self.surveys[parts[2]][2])
        return _not_found()

    def shop_index(self) -> Reply:
        items = "\n".join(
            f'<li class="product" data-product-id="{pid}">'
            f'<a class="product-link" href="/shop/product/{pid}/reviews">{html.escape(name)}</a>'
            f' <span class="count">{len(self.reviews[pid])}条评价</span></li>'
            for pid, name in self.products.items()
        )
        return _html(f"{BRAND} 官方旗舰店", f'<ul class="products">\n{items}\n</ul>')

    def review_page(self, pid: str, query: dict[str, list[str]]) -> Reply:
        if pid not in self.reviews:
            return _not_found()
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            return _not_found()
        if page < 1:
            return _not_found()
        reviews = self.reviews[pid]
        chunk = reviews[(page - 1) * REVIEWS_PER_PAGE : page * REVIEWS_PER_PAGE]
        blocks = "\n".join(self._review_block(r) for r in chunk) or (
            '<p class="empty">暂无更多评价</p>'
        )
        pager = f'<span class="current">第{page}页</span>'
        if page * REVIEWS_PER_PAGE < len(reviews):
            nxt = f"/shop/product/{pid}/reviews?page={page + 1}"
            pager += f' <a class="next" href="{nxt}">下一页</a>'
        body = (
            f'<div class="product-detail" data-product-id="{pid}">'
            f"<h1>{html.escape(self.products[pid])}</h1></div>\n"
            f'<ul class="review-list">\n{blocks}\n</ul>\n<div class="pager">{pager}</div>'
        )
        return _html(f"{self.products[pid]} - 商品评价", body)

    def _review_block(self, r: Review) -> str:
        # The shop's template once shipped MySQL's zero date for a review; it is still there.
        shown = (
            "0000-00-00 00:00" if r.broken_date else render_relative_time(r.created_at, self.now)
        )
        return (
            f'<li class="review" data-review-id="{r.review_id}">\n'
            f'  <div class="review-meta"><span class="nickname">{html.escape(r.nickname)}'
            f'</span> <span class="star star-{r.rating}" data-score="{r.rating}" '
            f'title="{r.rating}星"></span> <span class="date">{shown}</span></div>\n'
            f'  <p class="review-text">{html.escape(r.text)}</p>\n</li>'
        )

    def search(self, query: dict[str, list[str]]) -> Reply:
        q = query.get("q", [""])[0].strip()
        if not q:
            return _json({"ok": 0, "msg": "q is required"}, 400)
        try:
            offset = decode_cursor(query["cursor"][0]) if query.get("cursor") else 0
        except ValueError as exc:
            return _json({"ok": 0, "msg": str(exc)}, 400)
        # The demo index only holds posts about the demo brand, so every query sees them all.
        chunk = self.posts[offset : offset + POSTS_PER_PAGE]
        more = offset + POSTS_PER_PAGE < len(self.posts)
        statuses = [
            {
                "id": p.post_id,
                "user": {"id": p.user_id, "screen_name": p.screen_name},
                "text": p.text,
                "created_at": weibo_time(p.created_at),
                "reposts_count": p.reposts_count,
                "comments_count": p.comments_count,
            }
            for p in chunk
        ]
        return _json(
            {
                "ok": 1,
                "data": {
                    "statuses": statuses,
                    "next_cursor": encode_cursor(offset + POSTS_PER_PAGE) if more else None,
                },
            }
        )

    def export_index(self) -> Reply:
        exports = [
            {"file": name, "url": quote(name), "month": month, "rows": self.export_rows[name]}
            for name, (month, _) in self.exports.items()
        ]
        return _json({"generated_at": self.now.isoformat(), "exports": exports})

    def survey_index(self) -> Reply:
        exports = [
            {"file": name, "url": quote(name), "month": month, "rows": n}
            for name, (month, n, _) in self.surveys.items()
        ]
        return _json({"generated_at": self.now.isoformat(), "exports": exports})


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ticket_csv(month: str, rows: list[Any], members: dict[str, str]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(TICKET_COLUMNS)
    legacy = month == GBK_MONTH
    for t in rows:
        # The legacy export also prints dates without zero padding, Excel style.
        stamp = (
            f"{t.created_at:%Y}/{t.created_at.month}/{t.created_at.day} "
            f"{t.created_at.hour}:{t.created_at:%M}"
            if legacy
            else f"{t.created_at:%Y-%m-%d %H:%M:%S}"
        )
        writer.writerow(
            (
                t.ticket_id,
                stamp,
                t.customer,
                t.channel,
                t.description,
                t.resolution,
                members.get(t.ticket_id, ""),
            )
        )
    text = buf.getvalue()
    return text.encode("gbk") if legacy else text.encode("utf-8-sig")


def _html(title: str, body: str) -> Reply:
    page = (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    return Reply(200, "text/html; charset=utf-8", page.encode("utf-8"))


def _json(payload: dict[str, Any], status: int = 200) -> Reply:
    return Reply(
        status,
        "application/json; charset=utf-8",
        json.dumps(payload, ensure_ascii=False).encode("utf-8"),
    )


def _not_found() -> Reply:
    return Reply(404, "text/plain; charset=utf-8", b"not found\n")


class _Handler(BaseHTTPRequestHandler):
    server: _DemoHTTPServer
    server_version = "VoCDemo/1.0"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            reply = self.server.site.handle(url.path, parse_qs(url.query))
        except Exception:
            logger.exception("demo server failed on %s", self.path)
            reply = Reply(500, "text/plain; charset=utf-8", b"internal error\n")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header tells clients the demo's "now"; relative dates depend on it.
        return formatdate(self.server.site.now.timestamp(), usegmt=True)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _DemoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], site: DemoSite) -> None:
        self.site = site
        super().__init__(address, _Handler)


class DemoServer:
    """A running demo server; use as a context manager or call `stop()`."""

    def __init__(self, httpd: _DemoHTTPServer) -> None:
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="demo-server", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_demo_server(
    host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None, now: datetime = DEMO_NOW
) -> DemoServer:
    """Serve the demo corpus in a daemon thread; ``port=0`` picks a free port.

    Args:
        host: Interface to listen on.
        port: Port, or 0 for any free one (read it back from `DemoServer.port`).
        seed: Corpus seed; None = `build_corpus`'s default.
        now: The demo clock (Date header, relative dates).
    """
    corpus = build_corpus() if seed is None else build_corpus(seed)
    httpd = _DemoHTTPServer((host, port), DemoSite(corpus, now.astimezone(DEMO_TZ)))
    server = DemoServer(httpd)
    logger.info("demo sources listening on %s", server.base_url)
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.server",
        description="Serve the VoC Monitor demo sources (shop, microblog API, helpdesk "
        "exports) on localhost.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="corpus seed (default: built in)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    server = start_demo_server(args.host, args.port, seed=args.seed)
    site = server.base_url
    logger.info(
        "shop: %s/shop/  microblog: %s/api/search?q=%s  helpdesk: "
        "%s/helpdesk/exports/index.json  (Ctrl-C to stop)",
        site,
        site,
        BRAND,
        site,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
