"""The stage contract end to end on a real warehouse with the bundled models: a rewritten
post is recomputed by every stage, and only that post (issue 14: emotion was never
re-scored after an edit)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlp.pipeline import build_pipeline
from signals.theme_run import THEME_SPEC
from voc.records import Document, content_hash, document_id
from voc.settings import Settings
from voc.stages import Stage, fingerprints
from warehouse import enrichment, loaders
from warehouse.db import open_warehouse

POSTS = {
    "p1": "今天收到快递，包装很好，东西也不错，开心！",
    "p2": "客服回复很快，问题解决了，点赞",
    "p3": "物流太慢了，等了一个星期还没到",
}
REWRITTEN = "气死我了！！！快递丢件，客服推来推去，再也不买了，垃圾商家"


def _post(external_id: str, text: str, channel: str = "social") -> Document:
    return Document(
        id=document_id("weibo_test", external_id),
        source="weibo_test",
        channel=channel,
        external_id=external_id,
        author_hash=None,
        text=text,
        rating=None,
        created_at=datetime(2025, 8, 1, 10, int(external_id[1:]), tzinfo=UTC),
        url=None,
        product=None,
        brand=None,
        content_hash=content_hash(text),
    )


@pytest.fixture(scope="module")
def pipeline():
    stages = build_pipeline(Settings())
    return stages, fingerprints([*stages, THEME_SPEC])


def _run_all(con, stages, prints) -> dict[str, int]:
    return {s.name: enrichment.run_stage(con, s, prints).n_docs for s in stages}


def _state(con) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "SELECT stage, doc_id, content_hash, fingerprint, done_at FROM doc_stage_state"
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def _results(con, doc_id: str) -> dict[str, object]:
    one = lambda sql: con.execute(sql, [doc_id]).fetchall()  # noqa: E731
    return {
        "normalise": one("SELECT text_norm, norm_hash FROM doc_texts WHERE doc_id = ?"),
        "group": one("SELECT signature FROM doc_groups WHERE doc_id = ?"),
        "segment": one("SELECT tokens FROM doc_tokens WHERE doc_id = ?"),
        "taxonomy": one(
            "SELECT list(category ORDER BY category) FROM doc_categories WHERE doc_id = ?"
        ),
        "aspects": one(
            "SELECT list((aspect, polarity, clause) ORDER BY aspect) FROM doc_aspects "
            "WHERE doc_id = ?"
        ),
        "sentiment": one("SELECT label, score FROM doc_sentiment WHERE doc_id = ?"),
        "emotion": one("SELECT label, score, anger FROM doc_emotion WHERE doc_id = ?"),
    }


def test_a_rewritten_post_is_recomputed_by_every_stage_and_nothing_else_is(
    tmp_path: Path, pipeline
) -> None:
    stages, prints = pipeline
    con = open_warehouse(tmp_path / "w.duckdb")
    docs = [_post(k, v) for k, v in POSTS.items()] + [_post("p4", "质量很差", "review")]
    loaders.upsert_documents(con, docs, "run-1")
    first = _run_all(con, stages, prints)
    assert first["normalise"] == 4
    assert first["emotion"] == 3  # social posts only
    assert _run_all(con, stages, prints) == dict.fromkeys(first, 0)  # nothing pending
    before_state = _state(con)
    target = document_id("weibo_test", "p1")
    before = _results(con, target)
    others = {d.id: _results(con, d.id) for d in docs if d.id != target}

    edited = _post("p1", REWRITTEN)
    counts = loaders.upsert_documents(con, [edited], "run-2")
    assert counts.updated == 1
    # Run in order, every stage (emotion included) has exactly the rewritten post pending
    # once the stages it reads from have caught up.
    for stage in stages:
        pending = enrichment.select_pending(con, stage, prints)
        assert [d.doc_id for d in pending] == [target], stage.name
        assert enrichment.run_stage(con, stage, prints).n_docs == 1, stage.name
    assert _run_all(con, stages, prints) == dict.fromkeys(first, 0)

    after = _results(con, target)
    after_state = _state(con)
    for stage in stages:
        state = after_state[(stage.name, target)]
        assert state[0] == edited.content_hash, stage.name
        assert state[2] > before_state[(stage.name, target)][2], stage.name
    # The new text's results, not the old ones: every stage's output changed.
    for name in ("normalise", "group", "segment", "sentiment", "emotion"):
        assert after[name] != before[name], name
    assert after["emotion"][0][0] == "anger"
    assert after["sentiment"][0][0] == "negative"
    assert before["sentiment"][0][0] == "positive"
    # One row per document and version: the old text's scores are gone, not kept beside.
    assert len(after["sentiment"]) == 1 and len(after["emotion"]) == 1
    # Nothing else was touched.
    assert {d: _results(con, d) for d in others} == others
    for (name, doc_id), state in after_state.items():
        if doc_id != target:
            assert state == before_state[(name, doc_id)], (name, doc_id)
    con.close()


def test_a_new_stage_version_makes_only_that_stage_and_its_readers_stale(pipeline) -> None:
    stages, prints = pipeline
    normalise = stages[0]
    changed = fingerprints([type(normalise)(version="normalise-v2"), *stages[1:], THEME_SPEC])
    # Everything reads normalised text, so everything is stale...
    assert all(changed[s.name] != prints[s.name] for s in stages)
    sentiment = next(s for s in stages if s.name == "sentiment")
    retrained = fingerprints(
        [*(s if s is not sentiment else _Renamed(s, "v-next") for s in stages), THEME_SPEC]
    )
    # ...while a new sentiment model leaves every other stage current, but not themes,
    # which read sentiment.
    assert {n for n in prints if retrained[n] != prints[n]} == {"sentiment", "themes"}


class _Renamed:
    """A stage with another version, everything else the same."""

    def __init__(self, stage, version: str) -> None:
        self._stage = stage
        self.version = version

    def __getattr__(self, name: str):
        return getattr(self._stage, name)


def test_every_pipeline_stage_keeps_the_contract_and_its_tables_fit_its_records(
    tmp_path: Path, pipeline
) -> None:
    stages, prints = pipeline
    assert [s.name for s in stages] == [
        "normalise",
        "group",
        "segment",
        "taxonomy",
        "aspects",
        "sentiment",
        "emotion",
        "escalation",
    ]
    con = open_warehouse(tmp_path / "w.duckdb")
    for stage in stages:
        assert isinstance(stage, Stage), stage.name
        assert stage.version and prints[stage.name], stage.name
        for output in stage.outputs:
            columns = {r[0] for r in con.execute(f"DESCRIBE {output.table}").fetchall()}
            wanted = {*output.columns, output.version_column, output.time_column} - {None}
            assert wanted <= columns, (stage.name, output.table, wanted - columns)
            assert output.columns[0] == "doc_id", (stage.name, output.table)
    con.close()
