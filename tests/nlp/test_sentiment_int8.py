"""The int8 path the pipeline uses by default agrees with the fp32 model."""

import pytest

from nlp.sentiment import load_sentiment_model
from nlp.training.train_sentiment import default_split


@pytest.mark.filterwarnings("ignore")
def test_int8_model_agrees_with_fp32_and_says_so_in_its_version() -> None:
    texts = [r.text for r in default_split().test[:300]]
    fp32 = load_sentiment_model()
    int8 = load_sentiment_model(int8=True)
    assert int8.version == fp32.version + "+int8"
    a = [r.score >= 0.5 for r in fp32.predict(texts)]
    b = [r.score >= 0.5 for r in int8.predict(texts)]
    assert sum(x == y for x, y in zip(a, b, strict=True)) / len(texts) >= 0.97
