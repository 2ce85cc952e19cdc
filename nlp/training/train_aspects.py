"""Train the aspect-sentiment model (`nlp.aspects`) on the shared aspect corpora.

    OMP_NUM_THREADS=1 python -m nlp.training.train_aspects --out nlp/models/aspects_default

One model, four inventories: ``car``, ``product``, ``cosmetics`` (each corpus's own
aspects, for evaluation) and ``taxonomy`` (`nlp.aspects.TAXONOMY`, what the pipeline
uses), trained from cosmetics and product texts mapped by
`nlp.training.aspect_data.taxonomy_labels` plus `SEED_KEYWORDS` for what the data lacks.
Steps (1 and 2 in `nlp.training.aspect_units`, the evaluation in `nlp.training.aspect_eval`):

1. Clause units: each gold opinion is placed in the clause holding its offset (cosmetics),
   its aspect term (product) or its opinion word / a mined keyword (car).
2. Keywords: an aspect's candidate terms (cosmetics aspect and opinion terms, product
   terms, car char 2-3-grams of its texts) are kept when they occur at least
   `MIN_KEYWORD_COUNT` times and at least `MIN_KEYWORD_PRECISION` of the training units
   containing them carry the aspect.
3. Detectors: per aspect with at least `MIN_POSITIVES` positive clauses, a logistic
   regression (C = `DETECTOR_C`) over char 1-3-grams; its threshold maximises the
   document-level F1 of (lexicon OR detector) on the dev split.
4. Polarity: one balanced 3-class logistic regression (C = `POLARITY_C`) over all
   corpora's (context, aspect) units.

Everything is seeded and single-threaded, so a rerun writes the same weights.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from nlp.aspects import (
    POLARITIES,
    TAXONOMY,
    AspectInventory,
    AspectModel,
    char_grams,
    featurize,
    model_version,
    normalise_clause,
    polarity_features,
    save_aspect_model,
)
from nlp.training.aspect_data import (
    COSMETICS_TO_TAXONOMY,
    PRODUCT_PRICE_TERMS,
    CorpusSplit,
    load_review_polarity,
    load_splits,
)
from nlp.training.aspect_eval import evaluate_model, summarise_metrics
from nlp.training.aspect_units import (
    MIN_KEYWORD_COUNT,
    MIN_KEYWORD_PRECISION,
    UNJUDGED,
    ClauseUnit,
    build_inventory_units,
    candidate_terms,
    inventory_sources,
    mine_car_keywords,
    product_quality_terms,
    prune_keywords,
)
from nlp.training.sentiment_data import SHARED_DATA, SharedDataMissing

logger = logging.getLogger(__name__)
MODEL_NAME = "aspects-default-v1"
MAX_GRAMS = 40_000
MAX_PAIR_FEATURES = 30_000
MIN_FEATURE_DF = 2
MIN_POSITIVES = 8
DETECTOR_C = 4.0
POLARITY_C = 2.0
#: Polarity features of taxonomy categories borrow these corpus categories.
TAXONOMY_ALIAS = {
    "物流": "物流",
    "客服态度": "服务",
    "包装": "包装",
    "价格": "价格",
    "商品质量": "使用体验",
    "虚假宣传": "真伪",
}
#: Hand-written keywords per taxonomy category; the only detection for 退换货, 售后维修,
#: 功能故障 and 账户与支付, which no corpus labels.
SEED_KEYWORDS = {
    "物流": "物流 快递 发货 送货 到货 配送 派送 顺丰 快递员 揽收",
    "商品质量": "质量 品质 做工 材质 用料 瑕疵 掉色 起球 质感",
    "客服态度": "客服 态度 售前 回复 不理人 敷衍 服务",
    "价格": "价格 价钱 性价比 便宜 太贵 好贵 很贵 有点贵 偏贵 贵了 不贵 划算 降价 差价",
    "退换货": "退货 换货 退款 退换 退钱 无理由 运费险 拒收 退回",
    "售后维修": "售后 维修 保修 修理 返修 报修 质保 上门",
    "包装": "包装 外盒 纸箱 盒子 箱子 封口",
    "功能故障": "故障 坏了 死机 卡顿 闪退 黑屏 失灵 不能用 用不了 打不开 开不了机 没反应 "
    "蓝屏 漏水 不制冷 充不进电 连不上 报错",
    "虚假宣传": "虚假 假货 宣传 描述不符 不符 忽悠 夸大 山寨 假的",
    "账户与支付": "账户 账号 登录 登陆 密码 支付 付款 扣款 扣费 充值 余额 提现 银行卡 验证码 "
    "自动续费 到账",
}
#: Hand-set polarity logit offsets (negative, neutral, positive) for taxonomy categories
#: without labelled data whose mentions are complaints unless the clause says otherwise.
ASPECT_PRIOR = {"功能故障": (2.0, 0.0, 0.0)}


def build_vocab(grams: Sequence[list[str]], pairs: Sequence[list[str]]) -> tuple[list[str], int]:
    """Plain char grams first (the detectors read only those), then conjoined features."""
    gram_df: Counter[str] = Counter()
    for feats in grams:
        gram_df.update(set(feats))
    pair_df: Counter[str] = Counter()
    for feats in pairs:
        pair_df.update(f for f in set(feats) if f not in gram_df)

    def top(df: Counter[str], n: int) -> list[str]:
        kept = [f for f, c in df.items() if c >= MIN_FEATURE_DF or f[:2] in ("A=", "D=")]
        return sorted(kept, key=lambda f: (-df[f], f))[:n]

    plain = top(gram_df, MAX_GRAMS)
    return plain + top(pair_df, MAX_PAIR_FEATURES), len(plain)


def _fit_detectors(
    aspects: Sequence[str], units: Sequence[ClauseUnit], x, min_positives: int
) -> tuple[np.ndarray, np.ndarray]:
    weights = np.zeros((len(aspects), x.shape[1]), dtype=np.float32)
    bias = np.zeros(len(aspects), dtype=np.float32)
    for j, aspect in enumerate(aspects):
        rows = [i for i, u in enumerate(units) if aspect not in u.ignore]
        y = np.array([aspect in units[i].positive for i in rows])
        if y.sum() < min_positives or y.all():
            continue
        clf = LogisticRegression(C=DETECTOR_C, solver="liblinear", max_iter=200)
        clf.fit(x[rows], y)
        weights[j] = clf.coef_[0]
        bias[j] = clf.intercept_[0]
    return weights, bias


def _tune_thresholds(
    model: AspectModel, name: str, per_doc: Sequence[list[ClauseUnit]], gold: Sequence[set[str]]
) -> np.ndarray:
    """Per aspect, the detector threshold maximising document-level F1 on dev."""
    inv = model.inventories[name]
    grid = [*np.arange(0.05, 0.96, 0.05), 1.01]
    found = []
    for units in per_doc:
        clauses = [u.clause for u in units]
        lex = {a for c in clauses for a in inv.aspects if any(k in c for k in inv.keywords[a])}
        if clauses and inv.detector is not None:
            x = featurize((char_grams(c) for c in clauses), model._index, model.n_grams)
            z = np.asarray(x @ inv.detector.T) + inv.detector_bias
            probs = (1 / (1 + np.exp(-z))).max(axis=0)
        else:
            probs = np.zeros(len(inv.aspects))
        found.append((lex, probs))
    thresholds = np.full(len(inv.aspects), 1.01, dtype=np.float32)
    for j, aspect in enumerate(inv.aspects):
        best = -1.0
        for t in grid:
            tp = fp = fn = 0
            for (lex, probs), g in zip(found, gold, strict=True):
                if UNJUDGED + aspect in g:
                    continue
                pred = aspect in lex or probs[j] >= t
                tp += pred and aspect in g
                fp += pred and aspect not in g
                fn += (not pred) and aspect in g
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            if f1 > best + 1e-9:
                best, thresholds[j] = f1, t
    return thresholds


def _fit_polarity(x, rows: Sequence[tuple[str, str, str, str]]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([POLARITIES.index(r[3]) for r in rows])
    weights = np.zeros((3, x.shape[1]), dtype=np.float32)
    # A class never seen keeps a very low bias, so it is never predicted.
    bias = np.full(3, -30.0, dtype=np.float32)
    clf = LogisticRegression(C=POLARITY_C, class_weight="balanced", max_iter=1000)
    clf.fit(x, y)
    if len(clf.classes_) == 2:  # sklearn keeps one row for two classes: split it
        coef = np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        coef, intercept = clf.coef_, clf.intercept_
    for row, cls in enumerate(clf.classes_):
        weights[cls] = coef[row]
        bias[cls] = intercept[row]
    return weights, bias


def _f16(a: np.ndarray) -> np.ndarray:
    # Saved weights are float16; rounding here makes a trained and a re-loaded model equal.
    return np.asarray(a, dtype=np.float16).astype(np.float32)


def train_aspect_model(
    splits: dict[str, CorpusSplit],
    out_dir: str | Path,
    name: str = MODEL_NAME,
    min_positives: int = MIN_POSITIVES,
    extra_polarity: Sequence[tuple[str, str]] = (),
) -> AspectModel:
    """Train on the splits' train parts, tune thresholds on dev, and save.

    Args:
        splits: Corpus name (``car``, ``product``, ``cosmetics``) → split; missing corpora
            are skipped (their inventory is then lexicon-only or absent).
        out_dir: Where the model is written (`nlp.aspects.save_aspect_model`).
        name: The version's name part.
        min_positives: Fewest positive clauses an aspect's detector is trained on.
        extra_polarity: (short text, polarity) pairs that teach the polarity model only,
            with no aspect (`nlp.training.aspect_data.load_review_polarity`).

    Returns:
        The model, equal in every output to the one `load_aspect_model(out_dir)` gives.
    """
    inventories: dict[str, tuple[tuple[str, ...], dict[str, list[str]]]] = {}
    if "car" in splits:
        car_aspects = sorted({lb.aspect for d in splits["car"].train for lb in d.labels})
        inventories["car"] = (tuple(car_aspects), mine_car_keywords(splits["car"].train))
    for inventory in ("product", "cosmetics", "taxonomy"):
        if not any(c in splits for c in inventory_sources(inventory)):
            continue
        cands: dict[str, set[str]] = defaultdict(set)
        for corpus in inventory_sources(inventory):
            if corpus in splits:
                for a, terms in candidate_terms(corpus, inventory, splits[corpus].train).items():
                    cands[a] |= terms
        if inventory == "product":
            # Open vocabulary: every term seen is its own aspect, found by its name.
            aspects = tuple(sorted(cands))
            inventories[inventory] = (aspects, {a: [a] for a in aspects})
            continue
        units, _, _ = build_inventory_units(inventory, splits, "train", {})
        keywords = prune_keywords(cands, units)
        if inventory == "taxonomy":
            aspects = TAXONOMY
            for a in aspects:
                keywords[a] = sorted({*keywords.get(a, []), *SEED_KEYWORDS.get(a, "").split()})
            if "product" in splits:
                others = {k for a in aspects if a != "商品质量" for k in keywords[a]}
                extra = product_quality_terms(splits["product"].train, others)
                keywords["商品质量"] = sorted({*keywords["商品质量"], *extra})
        else:
            aspects = tuple(sorted(cands))
        inventories[inventory] = (aspects, {a: keywords.get(a, []) for a in aspects})

    detection = {
        inv: build_inventory_units(inv, splits, "train", kw)[0]
        for inv, (_, kw) in inventories.items()
        if inv != "product"
    }
    polarity_rows: list[tuple[str, str, str, str]] = []
    for inv in ("car", "product", "cosmetics"):
        if inv not in inventories:
            continue
        units, _, _ = build_inventory_units(inv, splits, "train", inventories[inv][1])
        for u in units:
            for aspect, polarity in u.positive.items():
                polarity_rows.append((u.context, aspect, inv, polarity))
        if inv == "product":  # implicit aspects still teach polarity
            for doc in splits["product"].train:
                for label in doc.labels:
                    if not label.aspect:
                        polarity_rows.append((normalise_clause(doc.text), "_", inv, label.polarity))
    polarity_rows.extend((normalise_clause(t), "_", "review", p) for t, p in extra_polarity)
    pol_feats = [polarity_features(c, a, d) for c, a, d, _ in polarity_rows]
    gram_feats = [char_grams(u.clause) for units in detection.values() for u in units]
    gram_feats += [char_grams(context) for context, *_ in polarity_rows]
    vocab, n_grams = build_vocab(gram_feats, pol_feats)
    index = {f: i for i, f in enumerate(vocab)}
    pol_w, pol_b = _fit_polarity(featurize(pol_feats, index, len(vocab)), polarity_rows)

    built: dict[str, AspectInventory] = {}
    for inv, (aspects, keywords) in inventories.items():
        det, det_b = None, np.zeros(len(aspects), dtype=np.float32)
        if inv in detection:
            units = detection[inv]
            x = featurize((char_grams(u.clause) for u in units), index, n_grams)
            det, det_b = _fit_detectors(aspects, units, x, min_positives)
        alias = dict(TAXONOMY_ALIAS) if inv == "taxonomy" else {}
        built[inv] = AspectInventory(
            name=inv,
            aspects=aspects,
            keywords={a: tuple(keywords.get(a, ())) for a in aspects},
            detector=None if det is None else _f16(det),
            detector_bias=_f16(det_b),
            thresholds=np.full(len(aspects), 1.01, dtype=np.float32),
            polarity_alias=alias,
            # Our texts take the prior of the short shop reviews (`extra_polarity`), not of
            # cosmetics reviews (89% positive) or car forums (67% neutral).
            polarity_domain="review" if inv == "taxonomy" else inv,
            polarity_prior={
                a: np.array(ASPECT_PRIOR.get(a, (0.0, 0.0, 0.0)), dtype=np.float32)
                for a in aspects
                if inv == "taxonomy" and a in ASPECT_PRIOR
            },
            labels=("negative", "positive") if inv == "product" else POLARITIES,
        )
    model = AspectModel("training", tuple(vocab), n_grams, _f16(pol_w), _f16(pol_b), built)
    for inv, spec in list(built.items()):
        if spec.detector is None:
            continue
        _, per_doc, gold = build_inventory_units(inv, splits, "dev", inventories[inv][1])
        thresholds = _f16(_tune_thresholds(model, inv, per_doc, gold))
        built[inv] = replace(spec, thresholds=thresholds)
    model = AspectModel("training", tuple(vocab), n_grams, _f16(pol_w), _f16(pol_b), built)
    model = replace(model, version=model_version(model, name))
    save_aspect_model(model, out_dir, name)
    return model


def write_card(out_dir: Path, model: AspectModel, splits: dict[str, CorpusSplit], metrics) -> None:
    """metrics.json (summary + per-aspect) and the README.md model card."""
    summary = summarise_metrics(metrics)
    per_aspect = {
        inv: {kind: {a: asdict(s) for a, s in m[kind].items()} for kind in ("pairs", "detection")}
        for inv, m in metrics.items()
    }
    sizes = {
        c: {p: len(getattr(s, p)) for p in ("train", "dev", "test")} for c, s in splits.items()
    }
    (out_dir / "metrics.json").write_text(
        json.dumps(
            {"version": model.version, "splits": sizes, "test": summary, "per_aspect": per_aspect},
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )
    rows = "\n".join(
        f"| {inv} | {s['docs']} | {s['macro_f1_pairs']:.3f} | {s['macro_f1_detection']:.3f} "
        f"| {s['micro_f1_pairs']:.3f} | {s['micro_f1_detection']:.3f} |"
        for inv, s in summary.items()
    )
    mapping = ", ".join(f"{k}→{v}" for k, v in COSMETICS_TO_TAXONOMY.items())
    seeds = "\n".join(f"- {a}: {k}" for a, k in SEED_KEYWORDS.items())
    text = CARD.format(
        version=model.version,
        rows=rows,
        mapping=mapping,
        price=" ".join(sorted(PRODUCT_PRICE_TERMS)),
        seeds=seeds,
        sizes=json.dumps(sizes, ensure_ascii=False),
        n_vocab=len(model.vocab),
        n_grams=model.n_grams,
        det_c=DETECTOR_C,
        pol_c=POLARITY_C,
        min_kw=MIN_KEYWORD_COUNT,
        prec=MIN_KEYWORD_PRECISION,
    )
    (out_dir / "README.md").write_text(text, encoding="utf-8")


CARD = """# Aspect sentiment model `{version}`

Aspect-level sentiment for Chinese customer texts (`nlp.aspects`): which aspects a text
talks about, and the polarity of each ('物流很快但是质量太差' → 物流 positive, 商品质量
negative). Linear models over char n-grams; float16 weights in `weights.npz`, vocabulary,
keyword lexicons and inventories in `model.json` (no pickle). Runs on one CPU thread.

## Method
- Clauses: cut at punctuation and before contrast words (但是 不过 可是 然而 却 就是 只是);
  `、` is not a cut. A clause of at most 4 characters is read with the next one.
- Detection per (clause, aspect): keyword lexicon, or a one-vs-rest logistic regression
  over char 1-3-grams (C={det_c}) at or above a per-aspect threshold tuned for
  document-level F1 on the dev split. Keywords: aspect/opinion terms of the training data
  seen at least {min_kw} times, at least {prec:.0%} of whose clauses carry the aspect (car:
  char 2-3-grams of its texts, same rule on documents).
- Polarity per (clause, aspect): one 3-class logistic regression (class-balanced,
  C={pol_c}) over char 1-3-grams of the clause, char bigrams conjoined with the aspect,
  and aspect/corpus biases. {n_vocab} features ({n_grams} plain char grams).
- A document mentioning an aspect in several clauses: `strongest_by_aspect` keeps a
  negative mention if any, else positive, else neutral; the most confident of those.
- `score` = P(positive) + 0.5 P(neutral), as in `nlp.sentiment`.

## Inventories
- `taxonomy` (default): 物流 商品质量 客服态度 价格 退换货 售后维修 包装 功能故障 虚假宣传
  账户与支付. Trained from cosmetics categories mapped as {mapping} (整体 and 其他 are
  dropped: the document's overall sentiment is `doc_sentiment`'s job) and from
  product_senticnet aspect terms (price terms {price} → 价格, every other term → 商品质量).
  退换货, 售后维修, 功能故障 and 账户与支付 have no labelled data: they are detected by
  these seed keywords only (which also extend the other categories):
{seeds}
- `car`, `product`, `cosmetics`: each corpus's own aspects, for evaluation. `product` is
  open-vocabulary (an aspect is a term seen in training, found by its name) and has no
  neutral.

## Data and splits
/work/shared/data/aspects (car_bdci2018, product_senticnet, cosmetics_zhijiang2019; not
redistributed). Texts de-duplicated per corpus (labels of copies merged), shuffled with a
fixed seed: 20% test, 10% of the rest dev, the rest train. Sizes: {sizes}

## Held-out test scores
F1 of (aspect, polarity) pairs per document ("pairs") and of aspects alone
("detection"); macro = mean over aspects present in the test gold; micro pools them.
Taxonomy = cosmetics + product test texts with mapped labels (seed-only categories are not
measured: no data).

| inventory | docs | macro-F1 pairs | macro-F1 detection | micro-F1 pairs | micro-F1 detection |
|---|---|---|---|---|---|
{rows}

Compare with the baseline and see per-aspect numbers: `OMP_NUM_THREADS=1 python -m
benchmarks.aspects`. Per-aspect numbers are in `metrics.json`.

## Limits
- Trained on car-forum, product-review and cosmetics texts: aspects of other domains
  (apps, banks, food delivery) rely on the seed keywords, and polarity on char n-grams
  seen in these reviews.
- Gold labels of car_bdci2018 are incomplete (many mentioned aspects are unlabelled), which
  caps measured precision there.
- Sarcasm, and opinions spread over several clauses without an aspect word, are missed.

## Reproduce
    OMP_NUM_THREADS=1 python -m nlp.training.train_aspects --out nlp/models/aspects_default
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: train, evaluate on the test split, write the model and its card."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="shared data folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from threadpoolctl import threadpool_limits

    try:
        splits = load_splits(args.data)
    except SharedDataMissing as exc:
        print(exc, file=sys.stderr)
        return 2
    held_out = {d.text for s in splits.values() for d in (*s.dev, *s.test)}
    extra = load_review_polarity(args.data, exclude=held_out)
    started = time.perf_counter()
    with threadpool_limits(1):
        model = train_aspect_model(splits, args.out, extra_polarity=extra)
        metrics = evaluate_model(model, splits)
    write_card(args.out, model, splits, metrics)
    for inv, s in summarise_metrics(metrics).items():
        logger.info("%s: %s", inv, s)
    logger.info(
        "%s written to %s in %.0f s", model.version, args.out, time.perf_counter() - started
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
