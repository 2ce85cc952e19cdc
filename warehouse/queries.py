"""Named read queries: the only way the dashboard and `voc stats` read the warehouse.

Each function takes a connection (open it read-only and briefly, see `warehouse.db.read_only`)
and returns plain data; names say what they return.
"""

from __future__ import annotations

from typing import Any

import duckdb

from warehouse import neardup
from warehouse.aspects import aspect_summary
from warehouse.emotion import daily_anger_share, latest_emotion_model_version
from warehouse.satisfaction import satisfaction_summary
from warehouse.spikes import spike_episodes
from warehouse.taxonomy import category_summary
from warehouse.themes import theme_overview


# Sentiment rows of the model version that scored most recently: the dashboard shows one
# model's view, not a mix.
def current_model_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The sentiment model version the dashboard reports."""
    # The dashboard shows one model's view, not a mix: the one that scored most recently.
    rows = con.execute(
        "SELECT model_version FROM doc_sentiment ORDER BY scored_at DESC, model_version LIMIT 1"
    ).fetchall()
    return rows[0][0] if rows else None


def source_status(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per source: its latest run's counts, its state (watermark, cursor set, last success,
    last error) and how many health alerts are open; newest-problem sources first."""
    rows = con.execute(
        "WITH latest AS (SELECT * FROM source_runs "
        " QUALIFY row_number() OVER (PARTITION BY source ORDER BY finished_at DESC) = 1) "
        "SELECT l.source, l.kind, l.run_id, l.mode, l.since, l.until, l.fetched, l.new,"
        " l.updated, l.unchanged, l.skipped, l.errors, l.status, l.finished_at,"
        " s.watermark, s.cursor IS NOT NULL, s.last_success_at, s.last_error, s.last_error_at,"
        " s.consecutive_failures,"
        " (SELECT count(*) FROM source_health_alerts a"
        "  WHERE a.source = l.source AND a.resolved_at IS NULL) "
        "FROM latest l LEFT JOIN source_state s USING (source) "
        "ORDER BY l.status = 'ok', l.source"
    ).fetchall()
    keys = [
        "source",
        "kind",
        "run_id",
        "mode",
        "since",
        "until",
        "fetched",
        "new",
        "updated",
        "unchanged",
        "skipped",
        "errors",
        "status",
        "finished_at",
        "watermark",
        "has_cursor",
        "last_success_at",
        "last_error",
        "last_error_at",
        "consecutive_failures",
        "open_health_alerts",
    ]
    return [{k: _jsonable(v) for k, v in zip(keys, row, strict=True)} for row in rows]


def source_health_alerts(
    con: duckdb.DuckDBPyConnection, include_resolved: bool = False
) -> list[dict[str, Any]]:
    """Source-health alerts, open ones first, newest first."""
    rows = con.execute(
        "SELECT alert_id, source, check_name, message, observed, expected, run_id, raised_at,"
        " resolved_run_id, resolved_at FROM source_health_alerts "
        "WHERE ? OR resolved_at IS NULL ORDER BY resolved_at IS NOT NULL, raised_at DESC",
        [include_resolved],
    ).fetchall()
    keys = [
        "alert_id",
        "source",
        "check",
        "message",
        "observed",
        "expected",
        "run_id",
        "raised_at",
        "resolved_run_id",
        "resolved_at",
    ]
    return [{k: _jsonable(v) for k, v in zip(keys, row, strict=True)} for row in rows]


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def warehouse_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts for operators and scripts (the shape `voc stats --json` prints)."""
    model = current_model_version(con)
    by_channel = dict(
        con.execute(
            "SELECT channel, count(*) FROM raw_documents GROUP BY channel ORDER BY channel"
        ).fetchall()
    )
    by_source = dict(
        con.execute(
            "SELECT source, count(*) FROM raw_documents GROUP BY source ORDER BY source"
        ).fetchall()
    )
    duplicates = con.execute(
        "SELECT count(*) FROM doc_texts WHERE duplicate_of IS NOT NULL"
    ).fetchone()[0]
    voices = neardup.count_voices(con)
    top_voices = [
        {
            "group_id": r.group_id,
            "size": int(r.size),
            "sources": int(r.n_sources),
            "authors": int(r.n_authors),
            "first_day": str(r.first_day),
            "last_day": str(r.last_day),
            "text": r.text,
        }
        for r in neardup.select_top_voices(con, limit=5).itertuples()
        if r.size > 1
    ]
    sentiment = dict(
        con.execute(
            "SELECT label, count(*) FROM doc_sentiment WHERE model_version = ? GROUP BY label "
            "ORDER BY label",
            [model],
        ).fetchall()
    )
    themes = theme_overview(con)
    alerts = [
        {
            "date": str(r[0]),
            "source": r[1],
            "metric": r[2],
            "observed": r[3],
            "expected": r[4],
            "theme_id": r[5],
            "theme_label": r[6],
            "theme_keywords": list(r[7]) if r[7] is not None else [],
        }
        for r in con.execute(
            "SELECT local_day, source, metric, observed, expected, theme_id, theme_label, "
            "theme_keywords FROM spike_alerts ORDER BY local_day, source, metric"
        ).fetchall()
    ]
    runs = [
        {
            "run_id": r[0],
            "status": r[1],
            "since": str(r[2]),
            "until": str(r[3]),
            "started_at": r[4].isoformat() if r[4] else None,
            "ended_at": r[5].isoformat() if r[5] else None,
        }
        for r in con.execute(
            "SELECT run_id, status, since, until, started_at, ended_at "
            "FROM run_log ORDER BY started_at DESC LIMIT 5"
        ).fetchall()
    ]
    last_run_id = runs[0]["run_id"] if runs else None
    stages = [
        {
            "stage": r[0],
            "source": r[1],
            "in": r[2],
            "out": r[3],
            "skipped": r[4],
            "errors": r[5],
            "seconds": round(r[6], 3),
        }
        for r in con.execute(
            "SELECT stage, source, n_in, n_out, n_skipped, n_errors, seconds FROM run_stages "
            "WHERE run_id = ? ORDER BY rowid",
            [last_run_id],
        ).fetchall()
    ]
    errors = [
        r[0]
        for r in con.execute(
            "SELECT message FROM run_errors WHERE run_id = ? ORDER BY logged_at LIMIT 50",
            [last_run_id],
        ).fetchall()
    ]
    return {
        "documents": {
            "total": sum(by_channel.values()),
            "by_channel": by_channel,
            "by_source": by_source,
            "exact_duplicates": duplicates,
            "voices": voices,
            "top_voices": top_voices,
        },
        "sentiment": {
            "model_version": model,
            "by_label": sentiment,
            "scored": sum(sentiment.values()),
        },
        "themes": themes,
        "alerts": alerts,
        "runs": runs,
        "last_run": {"run_id": last_run_id, "stages": stages, "errors": errors},
        "sources": source_status(con),
        "source_health": source_health_alerts(con),
        "spikes": spike_episodes(con),
        "categories": category_summary(con, model).as_dict(),
        "aspects": _aspects(con),
        "emotion": _emotion(con),
        "satisfaction": satisfaction_summary(con),
    }


def _emotion(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Emotion counts of social posts and the anger share per source (newest model)."""
    version = latest_emotion_model_version(con)
    if version is None:
        return {"model_version": None, "by_label": {}, "anger_share_by_source": {}}
    by_label = dict(
        con.execute(
            "SELECT label, count(*) FROM doc_emotion WHERE model_version = ? GROUP BY 1 ORDER BY 1",
            [version],
        ).fetchall()
    )
    daily = daily_anger_share(con, version)
    shares = (
        daily.groupby("source")[["n", "n_anger"]].sum().assign(share=lambda f: f.n_anger / f.n)
        if not daily.empty
        else None
    )
    return {
        "model_version": version,
        "by_label": by_label,
        "anger_share_by_source": (
            {k: round(float(v), 4) for k, v in shares["share"].items()}
            if shares is not None
            else {}
        ),
    }


def _aspects(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The newest aspect model's per-aspect counts, as JSON."""
    row = con.execute(
        "SELECT model_version FROM doc_aspects_scored GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return {"model_version": None, "by_aspect": []}
    frame = aspect_summary(con, row[0])
    records = [
        {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]
    return {"model_version": row[0], "by_aspect": records}
