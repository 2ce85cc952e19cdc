"""The worker side of the Dask runner, in this process: the pipeline is built once per
process and reused, a stage of another version than the flow's is refused with both
versions named, and workers are sent only the settings the pipeline reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.dask_stages import model_settings, worker_stage
from voc.settings import Settings, SourceConfig


def test_the_pipeline_is_built_once_per_process_and_reused() -> None:
    settings = Settings()
    first = worker_stage(settings, "sentiment", _version(settings, "sentiment"))
    again = worker_stage(Settings(db_path=Path("other.duckdb")), "sentiment", first.version)
    assert again is first


def test_a_stage_of_another_version_than_the_flows_is_refused(tmp_path: Path) -> None:
    settings = Settings()
    flow_version = "sentiment-default-v0+00000000"
    with pytest.raises(
        RuntimeError, match=r"stage 'sentiment' on worker pid \d+ is version"
    ) as err:
        worker_stage(settings, "sentiment", flow_version)
    assert flow_version in str(err.value)
    assert _version(settings, "sentiment") in str(err.value)


def test_workers_get_only_what_building_the_pipeline_reads() -> None:
    settings = Settings(
        db_path=Path("/srv/voc.duckdb"),
        author_salt="pepper",
        sources=(SourceConfig("mine", "feed", "https://example.cn/rss"),),
        segmenter="jieba",
        sentiment_int8=False,
    )
    sent = model_settings(settings)
    assert sent.segmenter == "jieba" and sent.sentiment_int8 is False
    assert sent.author_salt == Settings().author_salt
    assert "mine" not in {s.name for s in sent.sources}
    assert sent.db_path == Settings().db_path


def _version(settings: Settings, name: str) -> str:
    from nlp.pipeline import build_pipeline

    return next(s.version for s in build_pipeline(settings) if s.name == name)
