"""A small fixture warehouse for the dashboard's page tests: built by the real migrations,
then seed rows with numbers a reader can check by hand, and hostile strings in every place
customer text reaches the page.

Shape: three sources (shop: review, weibo: social, helpdesk: ticket) over 28 days
(2025-03-01 … 2025-03-28). Every day each source has 4 documents: 1 negative, 1 neutral,
2 positive. On 2025-03-27 weibo adds 20 negative posts about slow delivery (a spike
episode), 10 of them angry. One theme ("物流慢") holds the delivery complaints, one
("客服" theme) has a hostile label. The helpdesk source has an open health alert whose
message quotes HTML.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from warehouse.db import warehouse
from warehouse.snapshot import publish_snapshot

FIRST_DAY = date(2025, 3, 1)
LAST_DAY = date(2025, 3, 28)
SPIKE_DAY = date(2025, 3, 27)
MODEL = "seed-model-v1"
SOURCES = {"shop": "review", "weibo": "social", "helpdesk": "ticket"}

#: Texts that would inject HTML or Markdown if a page rendered them as anything but text.
HOSTILE = (
    "<script>alert('xss')</script>物流太慢了",
    "[点我领券](http://evil.example/phish) 快递太慢",
    "![track](http://evil.example/pixel.png) 物流慢得离谱",
    "**加粗** :red[红字] $x^2$ 快递三天没动",
    '<img src=x onerror="alert(1)"> 物流一直不更新',
)
HOSTILE_THEME_LABEL = "**客服**<b>不理人</b>[link](javascript:alert(1))"
HOSTILE_HEALTH = "helpdesk: HTTP 500 <b>bold</b> <script>alert(2)</script>"

NORMAL = {
    "negative": "质量很差，用了两天就坏了",
    "neutral": "收到了，还没用",
    "positive": "很好用，推荐购买",
}
DELIVERY = "快递太慢了，物流一个星期都没到"


def _documents() -> list[dict]:
    docs = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for source, channel in SOURCES.items():
            for i, label in enumerate(("negative", "neutral", "positive", "positive")):
                docs.append(
                    {
                        "id": f"{source}-{day:%m%d}-{i}",
                        "source": source,
                        "channel": channel,
                        "text": f"{NORMAL[label]}（{source}{day:%m%d}{i}）",
                        "label": label,
                        "score": {"negative": 0.1, "neutral": 0.5, "positive": 0.9}[label],
                        "day": day,
                        "hour": 9 + i,
                        "product": "P1" if source == "shop" else None,
                        "brand": "B1" if source == "shop" else None,
                        "anger": False,
                        "theme": None,
                    }
                )
        day += timedelta(days=1)
    for i in range(20):
        text = HOSTILE[i] if i < len(HOSTILE) else f"{DELIVERY}（第{i}条）"
        docs.append(
            {
                "id": f"weibo-spike-{i:02d}",
                "source": "weibo",
                "channel": "social",
                "text": text,
                "label": "negative",
                "score": 0.05,
                "day": SPIKE_DAY,
                "hour": 12 + i % 6,
                "product": None,
                "brand": None,
                "anger": i < 10,
                "theme": "theme-delivery",
            }
        )
    # The daily negative helpdesk tickets are the hostile-labelled theme's documents.
    for d in docs:
        if d["source"] == "helpdesk" and d["label"] == "negative":
            d["theme"] = "theme-service"
    return docs


def build_seed_warehouse(path: Path) -> Path:
    """Create the fixture warehouse at `path` and publish its snapshot; returns `path`."""
    docs = _documents()
    scored_at = datetime(2025, 3, 28, 23, 0, tzinfo=UTC)
    with warehouse(path) as con:
        for d in docs:
            # 09:00 local (UTC+8) is 01:00 UTC; the local day is kept as given.
            created = datetime(d["day"].year, d["day"].month, d["day"].day, tzinfo=UTC)
            created += timedelta(hours=d["hour"] - 8)
            con.execute(
                "INSERT INTO raw_documents (id, source, channel, external_id, author_hash, text,"
                " rating, created_at, local_day, url, product, brand, content_hash,"
                " repost_count, comment_count, first_run_id, last_run_id)"
                " VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?, ?, ?, ?, 0, 0, 'seed', 'seed')",
                [
                    d["id"],
                    d["source"],
                    d["channel"],
                    d["id"],
                    d["text"],
                    created,
                    d["day"],
                    "javascript:alert(3)" if d["id"] == "weibo-spike-00" else None,
                    d["product"],
                    d["brand"],
                    d["id"],
                ],
            )
            con.execute(
                "INSERT INTO doc_texts VALUES (?, ?, ?, NULL)", [d["id"], d["text"], d["id"]]
            )
            con.execute("INSERT INTO doc_tokens VALUES (?, ?)", [d["id"], list(_tokens(d["text"]))])
            con.execute(
                "INSERT INTO doc_sentiment VALUES (?, ?, ?, ?, ?)",
                [d["id"], MODEL, d["label"], d["score"], scored_at],
            )
            if d["channel"] == "social":
                emotion = "anger" if d["anger"] else ("happiness" if d["score"] > 0.6 else "none")
                con.execute(
                    "INSERT INTO doc_emotion VALUES (?, 'seed-emotion', ?, 0.9, ?, ?)",
                    [d["id"], emotion, 0.9 if d["anger"] else 0.05, scored_at],
                )
            con.execute(
                "INSERT INTO doc_groups VALUES (?, ?, 1.0, ''::BLOB, ?)",
                [d["id"], "weibo-spike-05" if d["id"] >= "weibo-spike-05" else d["id"], scored_at],
            )
            if d["theme"]:
                con.execute(
                    "INSERT INTO doc_themes VALUES (?, ?, 'seed-themes', 0.5)",
                    [d["id"], d["theme"]],
                )
            if d["theme"] == "theme-delivery":
                con.execute(
                    "INSERT INTO doc_categories VALUES (?, '物流', 'keyword', '快递', 1.0, 'tx1')",
                    [d["id"]],
                )
                con.execute(
                    "INSERT INTO doc_aspects VALUES (?, '物流', 'negative', 0.1, 0.9, ?, 'a1', ?)",
                    [d["id"], d["text"], scored_at],
                )
            elif d["label"] == "negative":
                con.execute(
                    "INSERT INTO doc_categories"
                    " VALUES (?, '商品质量', 'keyword', '质量', 1.0, 'tx1')",
                    [d["id"]],
                )
        _themes(con, docs)
        _episode(con, docs)
        _sources(con)
        con.execute(
            "INSERT INTO run_log VALUES ('seed', 'daily_ingest', ?, ?, ?, ?, 'ok')",
            [FIRST_DAY, LAST_DAY, scored_at, scored_at],
        )
        _refresh_aggregates(con)
    publish_snapshot(path)
    return path


def _tokens(text: str) -> list[str]:
    words = ("快递", "物流", "太慢", "质量", "客服", "推荐", "购买", "收到")
    return [w for w in words if w in text]


def _themes(con, docs: list[dict]) -> None:
    for theme_id, label, phrases in (
        ("theme-delivery", "物流慢", ["快递太慢", "物流"]),
        ("theme-service", HOSTILE_THEME_LABEL, [HOSTILE_THEME_LABEL, "客服"]),
    ):
        members = [d for d in docs if d["theme"] == theme_id]
        n_negative = sum(d["label"] == "negative" for d in members)
        con.execute(
            "INSERT INTO tracked_themes VALUES (?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed',"
            " 'seed', NULL)",
            [
                theme_id,
                len(members),
                phrases,
                phrases,
                label,
                len(members),
                n_negative,
                n_negative / len(members),
                min(d["day"] for d in members),
                max(d["day"] for d in members),
                "new" if theme_id == "theme-delivery" else "recurring",
            ],
        )
        con.execute(
            "INSERT INTO theme_events VALUES ('seed', 'born', ?, NULL, ?, ?)",
            [theme_id, len(members), datetime(2025, 3, 28, tzinfo=UTC)],
        )


def _episode(con, docs: list[dict]) -> None:
    spike = [d for d in docs if d["id"].startswith("weibo-spike")]
    explanation = {
        "themes": [
            {
                "kind": "theme",
                "value": "物流慢",
                "spike_docs": 20,
                "baseline_docs": 0,
                "spike_share": 0.83,
                "baseline_share": 0.0,
                "z": 6.1,
            }
        ],
        "categories": [],
        "aspects": [],
        "phrases": [
            {
                "kind": "phrase",
                "value": "<b>快递太慢</b>",
                "spike_docs": 15,
                "baseline_docs": 1,
                "spike_share": 0.6,
                "baseline_share": 0.01,
                "z": 5.2,
            }
        ],
        "verbatims": [
            {
                "doc_id": d["id"],
                "text": d["text"],
                "group_id": d["id"],
                "group_size": 1,
                "typicality": 1.0,
            }
            for d in spike[:5]
        ],
        "n_spike": 21,
        "n_baseline": 26,
    }
    con.execute(
        "INSERT INTO spike_episodes VALUES ('ep-weibo-0327', 'source', 'weibo', 'day',"
        " 'negative_volume', ?, ?, ?, 21, 1.0, 21.0, 9.5, 1e-9, ?, ?, 'critical', true, 1, ?,"
        " 'seed')",
        [
            datetime(2025, 3, 27),
            datetime(2025, 3, 27),
            datetime(2025, 3, 27),
            datetime(2025, 2, 27),
            datetime(2025, 3, 26),
            json.dumps(explanation, ensure_ascii=False),
        ],
    )


def _sources(con) -> None:
    finished = datetime(2025, 3, 28, 23, 0, tzinfo=UTC)
    for source, kind, fetched, errors, status in (
        ("shop", "shop_reviews", 112, 0, "ok"),
        ("weibo", "microblog", 132, 0, "ok"),
        ("helpdesk", "ticket_export", 0, 3, "failed"),
    ):
        con.execute(
            "INSERT INTO source_runs VALUES ('seed', ?, ?, ?, ?, 'backfill', ?, ?, 0, 0, 0, ?,"
            " 0, 0, ?, ?, 1.5, ?, 0)",
            [
                source,
                kind,
                FIRST_DAY,
                LAST_DAY,
                fetched,
                fetched,
                errors,
                status,
                HOSTILE_HEALTH if errors else None,
                finished,
            ],
        )
        con.execute(
            "INSERT INTO source_state (source, last_run_id, last_attempt_at, last_success_at,"
            " last_error, last_error_at, consecutive_failures) VALUES (?, 'seed', ?, ?, ?, ?, ?)",
            [
                source,
                finished,
                None if errors else finished,
                HOSTILE_HEALTH if errors else None,
                finished if errors else None,
                1 if errors else 0,
            ],
        )
    con.execute(
        "INSERT INTO source_health_alerts VALUES ('h1', 'helpdesk', 'failed', ?, NULL, NULL,"
        " 'seed', ?, NULL, NULL)",
        [HOSTILE_HEALTH, finished],
    )


def _refresh_aggregates(con) -> None:
    """Build the pages' pre-aggregated tables the way the flow does."""
    from warehouse import aggregates, loaders

    loaders.refresh_daily_source_stats(con, MODEL)
    aggregates.refresh_aggregates(con, MODEL, "Asia/Shanghai", full=True)
