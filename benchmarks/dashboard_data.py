"""The dashboard benchmark's warehouse (`benchmarks.dashboard`): N documents with realistic
distributions over two years, built by the real migrations.

50 sources across review/social/ticket with Zipf-like volumes, Zipf products and brands,
weekly and daily seasonality, growth, injected spikes, ~25 % negative, 200 tracked themes of
Zipf sizes, categories, aspects, emotion of social posts, exact and near duplicates, spike
episodes with explanations, source runs and health. Its aggregates are built by
`warehouse.aggregates` (the code the flow runs) and a snapshot is published as the flow does.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from warehouse import aggregates, loaders
from warehouse.db import memory_limit, open_warehouse
from warehouse.snapshot import publish_snapshot, snapshot_path

TIMEZONE = "Asia/Shanghai"
LAST_DAY = date(2025, 12, 31)
N_DAYS = 730
N_SOURCES = 50
N_PRODUCTS = 2000
N_BRANDS = 60
N_THEMES = 200
SENTIMENT_MODEL = "bench-sentiment-v1"
EMOTION_MODEL = "bench-emotion-v1"
ASPECT_MODEL = "bench-aspects-v1"
TAXONOMY = "bench-taxonomy-v1"
CATEGORIES = (
    "物流配送", "商品质量", "客服态度", "退款售后", "价格优惠", "包装破损", "发票问题",
    "账户安全", "支付问题", "安装维修", "虚假宣传", "配件缺失", "尺码不符", "会员权益",
    "隐私投诉",
)  # fmt: skip
ASPECTS = ("物流", "客服", "质量", "价格", "包装", "外观", "功能", "售后")
DOMAIN_WORDS = (
    "物流", "快递", "太慢", "客服", "退款", "质量", "包装", "破损", "发货", "售后", "态度",
    "价格", "优惠", "做工", "电池", "屏幕", "续航", "充电", "发热", "卡顿", "系统", "耳机",
    "降噪", "音质", "尺码", "颜色", "味道", "口感", "保质期", "安装", "师傅", "上门", "维修",
    "换货", "发票", "会员", "积分", "优惠券", "直播", "主播", "赠品", "客诉", "投诉", "差评",
    "好评", "满意", "失望", "垃圾", "喜欢", "推荐", "回购", "性价比", "正品", "假货", "漏发",
    "错发", "少件", "延迟", "取消", "订单", "支付", "扣款", "账号", "登录", "隐私", "短信",
)  # fmt: skip
NEGATIVE_CUES = ("太慢", "差评", "失望", "垃圾", "破损", "投诉", "退款", "假货", "漏发", "延迟")
POSITIVE_CUES = ("满意", "好评", "喜欢", "推荐", "回购", "正品", "性价比", "很快")
CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工"
    "也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物"
    "现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全"
    "表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无"
    "系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基"
    "资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取"
    "据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权"
    "收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离"
)


def _zipf(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def _documents(n: int, seed: int) -> pd.DataFrame:
    """One row per document, integers only; strings are made in SQL from them."""
    rng = np.random.default_rng(seed)
    days = np.arange(N_DAYS)
    weekly = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.35, 1.3])  # Monday first
    first = LAST_DAY - timedelta(days=N_DAYS - 1)
    dow = np.array([(first + timedelta(days=int(d))).weekday() for d in days])
    w = (1 + 0.8 * days / N_DAYS) * weekly[dow] * (1 + 0.15 * np.sin(2 * np.pi * days / 365))
    day = rng.choice(N_DAYS, n, p=w / w.sum()).astype(np.int32)
    hours = np.array(
        [2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 9, 9, 9, 9, 9, 10, 11, 12, 12, 10, 7, 4]
    )
    sec = (rng.choice(24, n, p=hours / hours.sum()) * 3600 + rng.integers(0, 3600, n)).astype(
        np.int32
    )
    source = rng.choice(N_SOURCES, n, p=_zipf(N_SOURCES, 0.9)).astype(np.int16)
    channel = np.array([0, 1, 0, 1, 2] * 10, dtype=np.int8)[source]  # 0 social 1 review 2 ticket
    product = rng.choice(N_PRODUCTS, n, p=_zipf(N_PRODUCTS, 1.05)).astype(np.int32)
    product[(channel == 0) & (rng.random(n) < 0.3)] = -1
    neg_rate = 0.15 + 0.2 * np.random.default_rng(seed + 1).random(N_SOURCES)
    u = rng.random(n)
    sentiment = np.where(u < neg_rate[source], 0, np.where(u < neg_rate[source] + 0.15, 1, 2))
    theme = np.full(n, -1, dtype=np.int32)
    themed = rng.random(n) < np.where(sentiment == 0, 0.7, 0.3)
    theme[themed] = rng.choice(N_THEMES, int(themed.sum()), p=_zipf(N_THEMES, 0.9))
    # Injected events: a source's negatives about one theme pile up for two days.
    spikes = np.random.default_rng(seed + 2)
    for k in range(6):
        s, d, t = int(spikes.integers(0, 10)), int(spikes.integers(60, N_DAYS)), k * 7
        size = max(20, n // 2500)
        idx = rng.choice(n, size, replace=False)
        source[idx], day[idx] = s, d + rng.integers(0, 2, size)
        channel[idx] = [0, 1, 0, 1, 2][s % 5]
        sentiment[idx], theme[idx] = 0, t
    day = np.minimum(day, N_DAYS - 1)
    sentiment = sentiment.astype(np.int8)
    score = np.where(
        sentiment == 0,
        0.02 + 0.45 * rng.beta(1, 3, n),
        np.where(sentiment == 1, 0.35 + 0.3 * rng.random(n), 0.98 - 0.45 * rng.beta(1, 3, n)),
    ).astype(np.float32)
    order = np.lexsort((sec, day))
    frame = pd.DataFrame(
        {
            "day": day,
            "sec": sec,
            "source": source,
            "channel": channel,
            "product": product,
            "sentiment": sentiment,
            "score": score,
            "theme": theme,
        }
    ).iloc[order]
    frame.insert(0, "i", np.arange(n, dtype=np.int64))
    frame = frame.reset_index(drop=True)
    # Exact duplicates copy an earlier document; near duplicates join an earlier voice.
    i = frame["i"].to_numpy()
    dup = np.full(n, -1, dtype=np.int64)
    is_dup = (rng.random(n) < 0.03) & (i > 10)
    roots = np.flatnonzero(~is_dup)  # originals are never duplicates themselves
    back = rng.integers(0, 5000, int(is_dup.sum()))
    dup[is_dup] = roots[np.maximum(0, np.searchsorted(roots, i[is_dup]) - 1 - back)]
    group = i.copy()
    joins = (~is_dup) & (rng.random(n) < 0.08) & (i > 10)
    pos = np.searchsorted(roots, i[joins])
    group[joins] = roots[np.maximum(0, pos - 1 - rng.integers(0, 2000, int(joins.sum())))]
    group[is_dup] = -1
    frame["dup_of"] = dup
    frame["grp"] = group
    k = rng.random(n)
    frame["cat1"] = np.where(
        frame["theme"] >= 0,
        np.where(k < 0.6, frame["theme"] % len(CATEGORIES), -1),
        np.where(k < 0.2, rng.integers(0, len(CATEGORIES), n), -1),
    ).astype(np.int16)
    frame["cat2"] = np.where(
        (frame["cat1"] >= 0) & (rng.random(n) < 0.15),
        (frame["cat1"] + 1 + rng.integers(0, len(CATEGORIES) - 1, n)) % len(CATEGORIES),
        -1,
    ).astype(np.int16)
    a = rng.random(n)
    frame["asp1"] = np.where(a < 0.45, rng.integers(0, len(ASPECTS), n), -1).astype(np.int8)
    frame["asp2"] = np.where(
        a < 0.12, (frame["asp1"] + 1 + rng.integers(0, len(ASPECTS) - 1, n)) % len(ASPECTS), -1
    ).astype(np.int8)
    flip = rng.random(n) < 0.25
    frame["asp_pol"] = np.where(flip, rng.integers(0, 3, n), frame["sentiment"]).astype(np.int8)
    e = rng.random(n)
    frame["emotion"] = np.where(
        frame["channel"] != 0,
        -1,
        np.where(
            frame["sentiment"] == 0,
            np.select([e < 0.45, e < 0.65, e < 0.7], [0, 1, 2], 5),
            np.select([e < 0.05, e < 0.45, e < 0.55], [0, 3, 4], 5),
        ),
    ).astype(np.int8)
    frame["author"] = rng.integers(0, n // 3 + 1, n).astype(np.int32)
    return frame


def _fill(con: duckdb.DuckDBPyConnection, n: int, seed: int) -> None:
    started = time.perf_counter()
    frame = _documents(n, seed)
    log(f"  sampled {n:,} documents in {time.perf_counter() - started:.1f}s")
    chars = list(CHARS)
    crng = np.random.default_rng(seed + 3)
    words = list(
        dict.fromkeys(
            list(DOMAIN_WORDS)
            + ["".join(crng.choice(chars, int(crng.integers(1, 4)))) for _ in range(4000)]
        )
    )
    theme_words = [
        [DOMAIN_WORDS[(t * 7 + j * 13) % len(DOMAIN_WORDS)] for j in range(3)]
        for t in range(N_THEMES)
    ]
    con.register("gen_docs", frame)
    params = {
        "words": words,
        "theme_words": theme_words,
        "neg_cues": list(NEGATIVE_CUES),
        "pos_cues": list(POSITIVE_CUES),
        "first": LAST_DAY - timedelta(days=N_DAYS - 1),
        "tz": TIMEZONE,
    }
    # Tokens: Zipf-drawn words, the theme's words, a sentiment cue (hash() is the RNG).
    con.execute(
        "CREATE TEMP TABLE gen AS SELECT g.*, "
        " substr(md5(g.i::VARCHAR), 1, 16) AS id, "
        " $first + g.day AS local_day, "
        " timezone($tz, ($first + g.day)::TIMESTAMP + to_seconds(g.sec)) AS created_at, "
        " list_concat("
        "  list_transform(range((3 + hash(g.i, 'n') % 8)::BIGINT), lambda j: "
        "   $words[1 + floor(len($words) * pow((hash(g.i, j) % 1000003) / 1000003.0, 2.2))"
        "   ::INTEGER]),"
        "  CASE WHEN g.theme >= 0 "
        "   THEN $theme_words[g.theme + 1][1:(2 + hash(g.i, 't') % 2)::BIGINT] "
        "   ELSE [] END,"
        "  [CASE g.sentiment WHEN 0 THEN $neg_cues[(1 + hash(g.i, 'c') % len($neg_cues))::BIGINT] "
        "   WHEN 2 THEN $pos_cues[(1 + hash(g.i, 'c') % len($pos_cues))::BIGINT] ELSE '还行' END],"
        "  list_transform(range((hash(g.i, 'm') % 8)::BIGINT), lambda j: "
        "   $words[1 + floor(len($words) * pow((hash(g.i, j + 100) % 1000003) / 1000003.0, 2.2))"
        "   ::INTEGER])) AS tokens "
        "FROM gen_docs g WHERE g.dup_of < 0 ORDER BY g.i",
        params,
    )
    con.execute(
        "INSERT INTO gen SELECT d.*, substr(md5(d.i::VARCHAR), 1, 16), $first + d.day, "
        " timezone($tz, ($first + d.day)::TIMESTAMP + to_seconds(d.sec)), o.tokens "
        "FROM gen_docs d JOIN gen o ON o.i = d.dup_of WHERE d.dup_of >= 0",
        {"first": params["first"], "tz": TIMEZONE},
    )
    con.unregister("gen_docs")
    del frame
    log(f"  texts made in {time.perf_counter() - started:.1f}s")
    src = [
        (k, f"{['weibo', 'shop', 'douyin', 'tmall', 'helpdesk'][k % 5]}_{k:02d}")
        for k in range(N_SOURCES)
    ]
    con.execute(
        "CREATE TEMP TABLE gen_sources AS SELECT * FROM (VALUES "
        + ", ".join(f"({k}, '{name}')" for k, name in src)  # generated names, no user input
        + ") v(k, name)"
    )
    con.execute(
        "INSERT INTO raw_documents SELECT g.id, s.name, "
        " ['social', 'review', 'ticket'][g.channel + 1], 'x' || g.i, "
        " substr(md5(g.author::VARCHAR), 1, 12), "
        " CASE WHEN hash(g.i, 'p') % 4 = 0 THEN array_to_string(g.tokens[1:3], '') || '，' || "
        "  array_to_string(g.tokens[4:], '') ELSE array_to_string(g.tokens, '') END || '。', "
        " CASE WHEN g.channel = 1 THEN [1, 3, 5][g.sentiment + 1] END, g.created_at, g.local_day, "
        " 'https://example.com/' || s.name || '/' || g.i, "
        " CASE WHEN g.product >= 0 THEN 'P' || lpad(g.product::VARCHAR, 4, '0') END, "
        " CASE WHEN g.product >= 0 THEN 'B' || lpad((g.product % $brands)::VARCHAR, 2, '0') END, "
        " md5(array_to_string(g.tokens, '')), NULL, NULL, 'run-' || g.local_day, "
        " 'run-' || g.local_day, NULL, NULL "
        "FROM gen g JOIN gen_sources s ON s.k = g.source ORDER BY g.i",
        {"brands": N_BRANDS},
    )
    con.execute(
        "INSERT INTO doc_texts SELECT g.id, replace(replace(r.text, '，', ','), '。', '.'), "
        " md5(array_to_string(g.tokens, '')), "
        " CASE WHEN g.dup_of >= 0 THEN substr(md5(g.dup_of::VARCHAR), 1, 16) END "
        "FROM gen g JOIN raw_documents r ON r.id = g.id ORDER BY g.i"
    )
    log(f"  documents stored in {time.perf_counter() - started:.1f}s")
    distinct = "FROM gen g WHERE g.dup_of < 0"
    con.execute(f"INSERT INTO doc_tokens SELECT g.id, g.tokens {distinct} ORDER BY g.i")
    distinct_docs = "FROM gen g JOIN raw_documents r ON r.id = g.id WHERE g.dup_of < 0"
    con.execute(
        "INSERT INTO doc_sentiment SELECT g.id, $model, "
        " ['negative', 'neutral', 'positive'][g.sentiment + 1], g.score, "
        f" g.created_at + INTERVAL 2 HOUR {distinct} ORDER BY g.i",
        {"model": SENTIMENT_MODEL},
    )
    con.execute(
        "INSERT INTO doc_emotion SELECT g.id, $model, "
        " ['anger', 'sadness', 'fear', 'joy', 'surprise', 'neutral'][g.emotion + 1], "
        " 0.4 + (hash(g.i, 'e') % 500) / 1000.0, "
        " CASE WHEN g.emotion = 0 THEN 0.5 + (hash(g.i, 'a') % 450) / 1000.0 "
        "  ELSE (hash(g.i, 'a') % 300) / 1000.0 END, g.created_at + INTERVAL 2 HOUR "
        f"{distinct} AND g.emotion >= 0 ORDER BY g.i",
        {"model": EMOTION_MODEL},
    )
    con.execute(
        "INSERT INTO doc_groups SELECT g.id, substr(md5(g.grp::VARCHAR), 1, 16), "
        " CASE WHEN g.grp = g.i THEN 1.0 ELSE 0.8 END, '\\x00'::BLOB, g.created_at "
        f"{distinct} ORDER BY g.i"
    )
    con.execute(
        "INSERT INTO doc_themes SELECT g.id, 't' || lpad(g.theme::VARCHAR, 3, '0'), 'bench', "
        f" 0.3 + (hash(g.i, 's') % 600) / 1000.0 {distinct} AND g.theme >= 0 ORDER BY g.i"
    )
    con.execute(
        "INSERT INTO doc_categories SELECT g.id, $cats[c + 1], 'keyword', 'bench', 1.0, $tax "
        f"FROM (SELECT g.id, g.i, unnest([g.cat1, g.cat2]) AS c {distinct}) g WHERE c >= 0 "
        "ORDER BY g.i",
        {"cats": list(CATEGORIES), "tax": TAXONOMY},
    )
    con.execute(
        "INSERT INTO doc_stage_state SELECT 'taxonomy', g.id, r.content_hash, $tax, 'bench', "
        " (g.cat1 >= 0)::INT + (g.cat2 >= 0)::INT, g.created_at "
        f"{distinct_docs} ORDER BY g.i",
        {"tax": TAXONOMY},
    )
    con.execute(
        "INSERT INTO doc_aspects SELECT g.id, $aspects[a + 1], "
        " ['negative', 'neutral', 'positive'][g.asp_pol + 1], [0.15, 0.5, 0.85][g.asp_pol + 1], "
        " 0.8, $aspects[a + 1] || '不错', $model, g.created_at "
        f"FROM (SELECT g.*, unnest([g.asp1, g.asp2]) AS a {distinct}) g WHERE a >= 0 "
        "ORDER BY g.i",
        {"aspects": list(ASPECTS), "model": ASPECT_MODEL},
    )
    con.execute(
        "INSERT INTO doc_stage_state SELECT 'aspects', g.id, r.content_hash, $model, 'bench', "
        " (g.asp1 >= 0)::INT + (g.asp2 >= 0)::INT, g.created_at "
        f"{distinct_docs} ORDER BY g.i",
        {"model": ASPECT_MODEL},
    )
    log(f"  enrichments stored in {time.perf_counter() - started:.1f}s")
    _themes(con, theme_words)
    loaders.refresh_daily_source_stats(con, SENTIMENT_MODEL)
    _episodes(con)
    _source_tables(con)
    con.execute("DROP TABLE gen")
    log(f"  themes, episodes, source runs in {time.perf_counter() - started:.1f}s")


def _themes(con: duckdb.DuckDBPyConnection, theme_words: list[list[str]]) -> None:
    con.execute(
        "INSERT INTO tracked_themes SELECT 't' || lpad(k::VARCHAR, 3, '0'), '{}', "
        " coalesce(s.n, 0), $tw[k + 1], $tw[k + 1][1:2], array_to_string($tw[k + 1][1:2], '、'), "
        " coalesce(s.n, 0), coalesce(s.neg, 0), coalesce(s.neg / s.n, 0), s.first, s.last, "
        " CASE WHEN s.last >= $last - 7 THEN 'growing' WHEN s.last >= $last - 60 THEN 'fading' "
        "  ELSE 'resolved' END, 'run-born', 'run-last', NULL "
        "FROM range($n) r(k) LEFT JOIN ("
        " SELECT d.theme_id, count(*) AS n, count(*) FILTER (WHERE s.label = 'negative') AS neg, "
        "  min(r.local_day) AS first, max(r.local_day) AS last FROM doc_themes d "
        "  JOIN raw_documents r ON r.id = d.doc_id "
        "  JOIN doc_sentiment s ON s.doc_id = d.doc_id GROUP BY d.theme_id"
        ") s ON s.theme_id = 't' || lpad(k::VARCHAR, 3, '0')",
        {"tw": theme_words, "last": LAST_DAY, "n": N_THEMES},
    )
    # A few themes were merged away: retired rows and their events.
    con.execute(
        "INSERT INTO tracked_themes SELECT 'm' || lpad(k::VARCHAR, 3, '0'), '{}', 0, ['合并'], "
        " [], '合并', 0, 0, 0, NULL, NULL, 'resolved', 'run-born', 'run-merge', "
        " 't' || lpad((k * 11 % $n)::VARCHAR, 3, '0') FROM range(10) r(k)",
        {"n": N_THEMES},
    )
    con.execute(
        "INSERT INTO theme_events SELECT 'run-born', 'born', theme_id, NULL, n_docs, "
        " first_seen::TIMESTAMPTZ FROM tracked_themes WHERE first_seen IS NOT NULL"
    )
    con.execute(
        "INSERT INTO theme_events SELECT 'run-merge', 'merged', theme_id, merged_into, 40, "
        " TIMESTAMPTZ '2025-06-01 03:00:00+08' FROM tracked_themes WHERE merged_into IS NOT NULL"
    )


def _episodes(con: duckdb.DuckDBPyConnection) -> None:
    """Spike episodes on the busiest (source, day) pairs and others, with explanations."""
    peaks = con.execute(
        "SELECT 'source', source, local_day, n_negative, n_docs FROM daily_source_stats "
        "QUALIFY row_number() OVER (ORDER BY n_negative DESC) <= 40 "
        "UNION ALL SELECT 'theme', d.theme_id, r.local_day, count(*), count(*) "
        "FROM doc_themes d JOIN raw_documents r ON r.id = d.doc_id "
        "WHERE d.theme_id IN ('t000', 't007', 't014', 't021', 't028', 't035') "
        "GROUP BY d.theme_id, r.local_day "
        "QUALIFY row_number() OVER (PARTITION BY d.theme_id ORDER BY count(*) DESC) <= 4"
    ).fetchall()
    rng = np.random.default_rng(7)
    verbatims = con.execute(
        "SELECT r.id, r.text FROM raw_documents r USING SAMPLE 30 ROWS"
    ).fetchall()
    rows = []
    for k, (kind, value, day, n_neg, _) in enumerate(peaks):
        drivers = {
            key: [
                {
                    "kind": key[:-1],
                    "value": f"{DOMAIN_WORDS[int(rng.integers(0, len(DOMAIN_WORDS)))]}{j}",
                    "spike_docs": int(n_neg) // (j + 2),
                    "baseline_docs": int(rng.integers(1, 30)),
                    "spike_share": round(float(rng.random()), 3),
                    "baseline_share": round(float(rng.random()) / 4, 3),
                    "z": round(float(8 - j - rng.random() * 2), 2),
                }
                for j in range(3)
            ]
            for key in ("themes", "categories", "aspects", "phrases")
        }
        explanation = {
            **drivers,
            "verbatims": [
                {"doc_id": d, "text": t, "group_id": d, "group_size": 1, "typicality": 0.5}
                for d, t in verbatims[k % 6 * 5 : k % 6 * 5 + 5]
            ],
            "n_spike": int(n_neg),
            "n_baseline": int(n_neg) // 3,
        }
        start = pd.Timestamp(day)
        rows.append(
            (
                f"ep{k:04d}", kind, value, "day", "negative_volume", start,
                start + pd.Timedelta(days=int(rng.integers(0, 2))), start, float(n_neg),
                float(n_neg) / 3, 3.0, 5.0, 1e-6, start - pd.Timedelta(days=28),
                start - pd.Timedelta(days=1), ["low", "medium", "high"][k % 3],
                day >= LAST_DAY - timedelta(days=2), 1, json.dumps(explanation, ensure_ascii=False),
                "run-bench",
            )
        )  # fmt: skip
    con.executemany(
        "INSERT INTO spike_episodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)",
        rows,
    )


def _source_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Sixty daily runs per source, its state, run log and a few open health alerts."""
    con.execute(
        "INSERT INTO run_log SELECT 'run-' || d, 'daily_ingest', d, d, "
        " timezone($tz, d::TIMESTAMP + INTERVAL 6 HOUR), "
        " timezone($tz, d::TIMESTAMP + INTERVAL 7 HOUR), 'ok' "
        "FROM (SELECT unnest(range($last - 59, $last + 1, INTERVAL 1 DAY))::DATE AS d)",
        {"tz": TIMEZONE, "last": LAST_DAY},
    )
    con.execute(
        "INSERT INTO source_runs SELECT 'run-' || d, s.source, s.kind, d - 3, d, 'incremental', "
        " s.n, s.n, 0, 0, 0, 0, 0, 0, CASE WHEN s.bad AND d = $last THEN 'failed' ELSE 'ok' END, "
        " NULL, 12.5, timezone($tz, d::TIMESTAMP + INTERVAL 7 HOUR), 0 FROM (SELECT source, "
        "  split_part(source, '_', 1) AS kind, count(*) // 730 AS n, "
        "  hash(source) % 10 = 0 AS bad FROM raw_documents GROUP BY source) s, "
        " (SELECT unnest(range($last - 59, $last + 1, INTERVAL 1 DAY))::DATE AS d)",
        {"tz": TIMEZONE, "last": LAST_DAY},
    )
    con.execute(
        "INSERT INTO source_state SELECT source, max(finished_at), NULL, max(run_id), "
        " max(finished_at), max(finished_at) FILTER (WHERE status = 'ok'), NULL, NULL, "
        " count(*) FILTER (WHERE status = 'failed') FROM source_runs GROUP BY source"
    )
    con.execute(
        "INSERT INTO source_health_alerts SELECT 'h-' || source, source, 'failed', "
        " source || ': fetch failed', 0, NULL, run_id, finished_at, NULL, NULL "
        "FROM source_runs WHERE status = 'failed'"
    )


#: DuckDB's memory limit while the generator fills the tables in bulk.
GENERATOR_MEMORY_LIMIT = "8GB"


def generate_warehouse(db: Path, n_docs: int, seed: int = 42) -> dict:
    """Build a warehouse of `n_docs` documents at `db` (replacing it), its aggregates and its
    snapshot; returns timings and sizes."""
    for path in (db, snapshot_path(db), db.with_name(db.name + ".wal")):
        path.unlink(missing_ok=True)
    started = time.perf_counter()
    con = open_warehouse(db)
    try:
        # Filling millions of rows in one statement is the generator's shortcut, not a flow
        # workload: it gets room; the flow's own code below runs under the flow's limit.
        con.execute(f"SET memory_limit = '{GENERATOR_MEMORY_LIMIT}'")
        _fill(con, n_docs, seed)
        con.execute(f"SET memory_limit = '{memory_limit()}'")
        generated = time.perf_counter() - started
        con.execute("CHECKPOINT")
        t = time.perf_counter()
        full = aggregates.refresh_aggregates(con, SENTIMENT_MODEL, TIMEZONE)
        rebuild = time.perf_counter() - t
        # The daily case: the newest day re-scored (a model's new scores), nothing else.
        con.execute(
            "UPDATE doc_sentiment SET scored_at = now(), label = 'negative', score = 0.1 "
            "WHERE doc_id IN (SELECT id FROM raw_documents WHERE local_day = $last "
            "ORDER BY hash(id) LIMIT 500)",
            {"last": LAST_DAY},
        )
        t = time.perf_counter()
        incremental = aggregates.refresh_aggregates(con, SENTIMENT_MODEL, TIMEZONE)
        incremental_s = time.perf_counter() - t
        loaders.refresh_daily_source_stats(con, SENTIMENT_MODEL)
    finally:
        con.close()
    t = time.perf_counter()
    publish_snapshot(db)
    meta = {
        "n_docs": n_docs,
        "generate_s": round(generated, 1),
        "aggregates_full_s": round(rebuild, 1),
        "aggregates_incremental_s": round(incremental_s, 1),
        "incremental_days": incremental.n_days,
        "aggregate_rows": full.rows,
        "snapshot_s": round(time.perf_counter() - t, 1),
        "total_s": round(time.perf_counter() - started, 1),
        "file_mb": round(db.stat().st_size / 2**20),
    }
    db.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta
