"""The enrichment pipeline: the declared, ordered list of per-document stages.

Each entry implements `voc.stages.Stage`; the daily flow runs them in this order through
`warehouse.enrichment`. A stage that reads another's results comes after it (checked by
`voc.stages.fingerprints`). To add a stage, write its module in `nlp/stages/`, add it here,
and add the migration of its table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from nlp.aspects import AspectModel, load_aspect_model
from nlp.emotion import EmotionModel, load_emotion_model
from nlp.segment import Segmenter
from nlp.sentiment import SentimentModel, load_sentiment_model
from nlp.stages.aspects import AspectStage
from nlp.stages.emotion import EmotionStage
from nlp.stages.escalation import EscalationStage
from nlp.stages.neardup import NearDupStage
from nlp.stages.normalise import NormaliseStage
from nlp.stages.segment import SegmentStage
from nlp.stages.sentiment import SentimentStage
from nlp.stages.taxonomy import TaxonomyStage
from nlp.taxonomy import load_taxonomy
from voc.settings import Settings
from voc.stages import Stage


# Models are loaded once per process (a scheduled server runs many flows).
@lru_cache(maxsize=4)
def _segmenter(
    user_dicts: tuple[Path, ...], stopwords: tuple[Path, ...], backend: str = "jieba"
) -> Segmenter:
    return Segmenter(user_dicts, stopwords, backend=backend)


@lru_cache(maxsize=2)
def _sentiment_model(model_dir: Path | None, int8: bool, runtime: str = "torch") -> SentimentModel:
    return load_sentiment_model(model_dir, int8=int8, runtime=runtime)


@lru_cache(maxsize=2)
def _aspect_model(model_dir: Path | None) -> AspectModel:
    return load_aspect_model(model_dir)


@lru_cache(maxsize=2)
def _emotion_model(model_dir: Path | None) -> EmotionModel:
    return load_emotion_model(model_dir)


def build_pipeline(settings: Settings) -> tuple[Stage, ...]:
    """The stages, in order, with their models loaded.

    Raises:
        nlp.taxonomy.TaxonomyError: the taxonomy file is invalid (before anything runs).
        FileNotFoundError: a model directory or dictionary is missing.
    """
    return (
        NormaliseStage(),
        NearDupStage(),
        SegmentStage(
            _segmenter(settings.user_dict_paths, settings.stopword_paths, settings.segmenter)
        ),
        TaxonomyStage(load_taxonomy(settings.taxonomy_path)),
        AspectStage(_aspect_model(settings.aspect_model_dir)),
        SentimentStage(
            _sentiment_model(
                settings.sentiment_model_dir, settings.sentiment_int8, settings.sentiment_runtime
            )
        ),
        EmotionStage(_emotion_model(settings.emotion_model_dir)),
        EscalationStage(),
    )
