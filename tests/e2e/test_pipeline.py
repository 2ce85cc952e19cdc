"""The whole pipeline on the demo sources: counts, the planted spike and its theme,
bad input reported but not fatal, idempotent re-runs, `voc stats --json`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from demo.customers import build_customers
from demo.data import build_corpus
from demo.events import PLANTED_EVENTS
from tests.e2e.conftest import E2E_SINCE, E2E_UNTIL

pytestmark = pytest.mark.e2e
EVENT = PLANTED_EVENTS[0]


def _in_window(created_at) -> bool:
    return E2E_SINCE <= created_at.date() <= E2E_UNTIL


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_every_demo_document_in_the_window_lands_once(e2e_db: Path) -> None:
    corpus = build_corpus()
    expected = {
        "demo_shop": sum(
            1 for r in corpus.reviews if _in_window(r.created_at) and not r.broken_date
        ),
        "demo_weibo": sum(1 for p in corpus.posts if _in_window(p.created_at)),
        "demo_helpdesk": sum(
            1 for t in corpus.tickets if _in_window(t.created_at) and t.description.strip()
        ),
        # One document per non-empty open answer (问卷星 prints a skipped one as "(空)").
        "demo_survey": sum(
            bool(r.reason) + bool(r.suggestion)
            for r in build_customers().responses
            if _in_window(r.submitted_at)
        ),
    }
    landed = dict(_query(e2e_db, "SELECT source, count(*) FROM raw_documents GROUP BY 1"))
    assert landed == expected
    channels = dict(
        _query(e2e_db, "SELECT channel, count(DISTINCT source) FROM raw_documents GROUP BY 1")
    )
    assert channels == {"review": 1, "social": 1, "ticket": 1, "survey": 1}
    responses = _query(e2e_db, "SELECT count(*) FROM survey_responses")[0][0]
    assert responses == sum(_in_window(r.submitted_at) for r in build_customers().responses)


def test_every_distinct_document_has_tokens_and_sentiment(e2e_db: Path) -> None:
    (distinct, tokenised, scored, versions) = _query(
        e2e_db,
        "SELECT count(*), count(k.tokens), (SELECT count(*) FROM doc_sentiment), "
        "(SELECT count(DISTINCT model_version) FROM doc_sentiment) FROM doc_texts t "
        "LEFT JOIN doc_tokens k ON k.doc_id = t.doc_id WHERE t.duplicate_of IS NULL",
    )[0]
    assert distinct > 3000
    assert tokenised == distinct == scored
    assert versions == 1
    # Traditional posts were converted, HTML stripped.
    assert (
        _query(
            e2e_db,
            "SELECT count(*) FROM doc_texts WHERE text_norm LIKE '%<a %' "
            "OR text_norm LIKE '%態度%' OR text_norm LIKE '%發貨%'",
        )[0][0]
        == 0
    )


def test_planted_event_is_alerted_on_its_days_with_its_theme(e2e_db: Path) -> None:
    alerts = _query(
        e2e_db,
        "SELECT local_day, metric, observed, expected, theme_keywords "
        "FROM spike_alerts WHERE source = ? ORDER BY local_day",
        [EVENT.source],
    )
    volume = [a for a in alerts if a[1] == "negative_volume"]
    assert EVENT.start in [a[0] for a in volume]
    assert {a[0] for a in alerts} <= set(EVENT.dates)  # no false alerts in this source
    first = next(a for a in volume if a[0] == EVENT.start)
    assert first[2] >= 3 * first[3]  # observed vs expected
    assert set(first[4][:10]) & set(EVENT.keywords), first[4]


def test_other_sources_have_no_alerts(e2e_db: Path) -> None:
    assert (
        _query(e2e_db, "SELECT count(*) FROM spike_alerts WHERE source <> ?", [EVENT.source])[0][0]
        == 0
    )


def test_themes_have_keywords_sizes_and_examples(e2e_db: Path) -> None:
    themes = _query(e2e_db, "SELECT label, keywords, size, example_ids FROM complaint_themes")
    assert len(themes) >= 3
    for label, keywords, size, examples in themes:
        assert label and len(keywords) >= 5 and size > 0 and 1 <= len(examples) <= 5
    assert any(set(k[:5]) & set(EVENT.keywords) for _, k, _, _ in themes)


def test_bad_input_is_reported_by_source_and_row_and_the_run_completes(e2e_db: Path) -> None:
    (status,) = _query(e2e_db, "SELECT status FROM run_log ORDER BY started_at LIMIT 1")[0]
    assert status == "partial"  # problems were found, everything else landed
    errors = [r[0] for r in _query(e2e_db, "SELECT source || ' | ' || message FROM run_errors")]
    assert any(e.startswith("demo_helpdesk") and "row" in e and "问题描述" in e for e in errors)
    assert any(e.startswith("demo_shop") and "/shop/product/" in e for e in errors)
    skipped = dict(_query(e2e_db, "SELECT source, n_skipped FROM run_stages WHERE stage = 'fetch'"))
    assert skipped["demo_helpdesk"] >= 1 and skipped["demo_shop"] >= 1


def test_stats_json_lists_counts_themes_and_the_alert(e2e_db: Path, capsys) -> None:
    assert main(["stats", "--db", str(e2e_db), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats["documents"]["by_channel"]) == {"review", "social", "ticket", "survey"}
    assert stats["sentiment"]["scored"] > 0 and stats["sentiment"]["by_label"]["negative"] > 0
    assert stats["themes"] and all(t["keywords"] for t in stats["themes"])
    planted = [
        a for a in stats["alerts"] if a["date"] == str(EVENT.start) and a["source"] == EVENT.source
    ]
    assert planted and planted[0]["theme_label"]
    # Copies and reposts are grouped: fewer voices than documents, the biggest listed.
    docs = stats["documents"]
    # Near-duplicates are one voice; identical short answers (survey "运费太贵。") stay
    # independent voices, so voices may exceed the distinct texts but never the documents.
    assert 0 < docs["voices"] < docs["total"]
    sizes = [v["size"] for v in docs["top_voices"]]
    assert sizes and sizes == sorted(sizes, reverse=True) and sizes[0] >= 2
    assert {s["source"] for s in stats["sources"]} == {
        "demo_shop",
        "demo_weibo",
        "demo_helpdesk",
        "demo_survey",
    }
    assert stats["source_health"] == []
    # Themes carry lifecycle states; spikes carry their explanation; social posts an emotion.
    assert {t["state"] for t in stats["themes"]} <= {
        "new",
        "growing",
        "recurring",
        "fading",
        "resolved",
    }
    planted_spikes = [
        s
        for s in stats["spikes"]
        if s["key_value"] == EVENT.source
        and s["granularity"] == "day"
        and s["metric"] == "negative_volume"
    ]
    assert len(planted_spikes) == 1 and planted_spikes[0]["start"].startswith(str(EVENT.start))
    explanation = planted_spikes[0]["explanation"]
    assert explanation["verbatims"] and explanation["themes"]
    assert set(stats["emotion"]["by_label"]) <= {
        "anger",
        "sadness",
        "fear",
        "joy",
        "surprise",
        "neutral",
    }
    assert stats["emotion"]["anger_share_by_source"].keys() == {"demo_weibo"}
    categories = {c["category"]: c for c in stats["categories"]["categories"]}
    assert categories["物流"]["n_negative"] > 0


def test_rerunning_the_same_days_adds_nothing(e2e_db: Path, e2e_rerun: Path) -> None:
    before, after = e2e_rerun
    assert after == before
    loads = _query(
        e2e_db,
        "SELECT sum(n_out), sum(n_skipped) FROM run_stages s JOIN ("
        " SELECT run_id FROM run_log ORDER BY started_at DESC LIMIT 1) l "
        "USING (run_id) WHERE stage = 'load'",
    )[0]
    assert loads[0] == 0 and loads[1] > 3000  # nothing new or changed, all unchanged


def test_unreachable_source_is_named_and_the_others_still_land(
    prefect_harness, e2e_server, tmp_path: Path
) -> None:
    from flows.daily import daily_ingest

    base = e2e_server.base_url
    config = tmp_path / "voc.toml"
    config.write_text(
        f'[sources.shop]\nkind = "shop_reviews"\nurl = "{base}/shop/"\n'
        f'[sources.dead]\nkind = "microblog"\nurl = "http://127.0.0.1:9/api/search"\n'
        'query = "x"\n',
        encoding="utf-8",
    )
    db = tmp_path / "w.duckdb"
    result = daily_ingest(
        since=E2E_UNTIL, until=E2E_UNTIL, config_path=str(config), db_path=str(db)
    )
    assert result["status"] == "partial"
    landed = dict(_query(db, "SELECT source, count(*) FROM raw_documents GROUP BY 1"))
    expected = sum(
        1 for r in build_corpus().reviews if r.created_at.date() == E2E_UNTIL and not r.broken_date
    )
    assert landed == {"shop": expected}
    errors = [r[0] for r in _query(db, "SELECT message FROM run_errors WHERE source = 'dead'")]
    assert errors and any("127.0.0.1:9" in e for e in errors)
