"""The sentiment recipe's n-gram teacher: char 1-4-gram + jieba word 1-2-gram TF-IDF with a
logistic regression, its out-of-fold probabilities (distillation targets) and one round of
self-training on a new domain (`nlp.training.sentiment_recipe.adapt_to_domain`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from nlp.training.sentiment_data import LABEL_VALUES

#: Columns of a teacher matrix: the label values of `nlp.training.sentiment_data`.
N_CLASSES = len(LABEL_VALUES)
#: Self-training keeps the teacher's most confident share of the new domain's texts.
SELF_TRAIN_KEEP = 0.7


def fit_teacher(texts: Sequence[str], labels: Sequence[int]) -> Any:
    """The n-gram teacher: char 1-4-gram + jieba word 1-2-gram TF-IDF, logistic regression.

    Returns:
        A fitted scikit-learn pipeline (see `teacher_matrix`).
    """
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    jieba.setLogLevel(logging.WARNING)
    features = make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, min_df=2),
        TfidfVectorizer(
            tokenizer=jieba.lcut,
            token_pattern=None,
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=2,
        ),
    )
    pipe = make_pipeline(features, LogisticRegression(C=4.0, max_iter=3000))
    return pipe.fit(list(texts), list(labels))


def teacher_matrix(pipe: Any, texts: Sequence[str]) -> np.ndarray:
    """Class probabilities of a fitted teacher, one column per class id (0 if unseen)."""
    out = np.zeros((len(texts), N_CLASSES))
    if len(texts):
        out[:, list(pipe.classes_)] = pipe.predict_proba(list(texts))
    return out


def teacher_probabilities(
    texts: Sequence[str], labels: Sequence[int], folds: int = 3, seed: int = 13
) -> np.ndarray:
    """Out-of-fold class probabilities of the teacher (`fit_teacher`), shape (n, 3).

    Each text is scored by a model that never saw it, so the soft labels carry the
    teacher's uncertainty instead of its memory of the training set.
    """
    from sklearn.model_selection import StratifiedKFold

    x = np.array(texts, dtype=object)
    y = np.array(labels)
    out = np.zeros((len(texts), N_CLASSES))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fit_idx, score_idx in splitter.split(x, y):
        pipe = fit_teacher(list(x[fit_idx]), y[fit_idx])
        out[score_idx] = teacher_matrix(pipe, list(x[score_idx]))
    return out


def self_trained_teacher(
    texts: Sequence[str], labels: Sequence[int], domain_texts: Sequence[str]
) -> np.ndarray:
    """Teacher probabilities on a new domain's unlabelled texts, after one self-training round.

    The teacher trained on the labelled texts labels the new domain; it is trained again
    with the `SELF_TRAIN_KEEP` most confident of those labels added, and scores the domain.

    Returns:
        Shape (len(domain_texts), 3).
    """
    probs = teacher_matrix(fit_teacher(texts, labels), domain_texts)
    margin = probs.max(axis=1)
    keep = margin >= np.quantile(margin, 1 - SELF_TRAIN_KEEP)
    pseudo = probs.argmax(axis=1)
    extra = [t for t, k in zip(domain_texts, keep, strict=True) if k]
    pipe = fit_teacher([*texts, *extra], [*labels, *pseudo[keep].tolist()])
    return teacher_matrix(pipe, domain_texts)
