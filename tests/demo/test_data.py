from __future__ import annotations

import re
from statistics import median

import opencc

from demo.data import (
    BROKEN_REVIEW_POSITION,
    BROKEN_REVIEW_PRODUCT,
    GBK_MONTH,
    HELPDESK_SOURCE,
    SHOP_SOURCE,
    WEIBO_SOURCE,
    build_corpus,
    demo_days,
)
from demo.events import DEMO_END, DEMO_START, PLANTED_EVENTS

EVENT = PLANTED_EVENTS[0]
KEYWORDS = re.compile("|".join(EVENT.keywords))
T2S = opencc.OpenCC("t2s").convert


def test_planted_event_stands_out_in_its_source() -> None:
    counts = build_corpus().daily_counts[EVENT.source]
    usual = median(c.negative for d, c in counts.items() if d not in EVENT.dates)
    for day in EVENT.dates:
        assert counts[day].negative >= 3 * usual, day
        assert counts[day].negative <= 1.5 * EVENT.multiplier * usual, day


def core_text(text: str) -> str:
    """A post without the weibo dressing the generator adds (links, tags, emoticons)."""
    text = re.sub(r"<[^>]+>|#客声优选#|@客声优选|\[[^\]]{1,6}\]", "", text)
    return T2S(text).strip()


def test_planted_posts_are_logistics_complaints_on_the_event_days() -> None:
    planted = [p for p in build_corpus().posts if p.planted]
    assert len(planted) >= 50
    assert {p.created_at.date() for p in planted} == set(EVENT.dates)
    # Some are in Traditional characters (快遞): the keyword shows after conversion back.
    assert all(p.label == "negative" and KEYWORDS.search(T2S(p.text)) for p in planted)


def test_event_texts_are_held_back_from_other_documents() -> None:
    corpus = build_corpus()
    planted = {core_text(p.text) for p in corpus.posts if p.planted}
    others = (
        [r.text for r in corpus.reviews]
        + [t.description for t in corpus.tickets]
        + [core_text(p.text) for p in corpus.posts if not p.planted]
    )
    others = [t for t in others if KEYWORDS.search(t)]
    assert len(others) >= 20  # logistics complaints still occur at their natural rate
    assert planted.isdisjoint(others)


def test_logistics_complaints_elsewhere_are_rare() -> None:
    corpus = build_corpus()
    normal = [p for p in corpus.posts if not p.planted and p.label == "negative"]
    share = sum(bool(KEYWORDS.search(p.text)) for p in normal) / len(normal)
    assert share < 0.05


def test_every_day_of_the_calendar_has_documents_in_every_source() -> None:
    corpus = build_corpus()
    days = demo_days()
    assert days[0] == DEMO_START and days[-1] == DEMO_END and len(days) >= 90
    for source in (SHOP_SOURCE, WEIBO_SOURCE, HELPDESK_SOURCE):
        counts = corpus.daily_counts[source]
        assert set(counts) == set(days)
        assert all(c.total > 0 for c in counts.values()), source


def test_volumes_and_negative_shares_are_plausible() -> None:
    corpus = build_corpus()
    days = len(demo_days())
    shares = {}
    for source, items in (
        (SHOP_SOURCE, corpus.reviews),
        (WEIBO_SOURCE, corpus.posts),
        (HELPDESK_SOURCE, corpus.tickets),
    ):
        shares[source] = sum(i.label == "negative" for i in items) / len(items)
        assert corpus.daily_counts[source] and len(items) == sum(
            c.total for c in corpus.daily_counts[source].values()
        )
    assert 30 <= len(corpus.reviews) / days <= 40
    assert 40 <= len(corpus.posts) / days <= 60
    assert 10 <= len(corpus.tickets) / days <= 15
    assert 0.25 <= shares[SHOP_SOURCE] <= 0.35
    assert shares[HELPDESK_SOURCE] >= 0.6


def test_star_ratings_agree_with_the_label() -> None:
    for review in build_corpus().reviews:
        allowed = {1, 2, 3} if review.label == "negative" else {3, 4, 5}
        assert review.rating in allowed


def test_texts_are_not_reused_except_for_a_few_reposts() -> None:
    corpus = build_corpus()
    texts = [r.text for r in corpus.reviews] + [
        t.description for t in corpus.tickets if t.label != "neutral"
    ]
    assert len(set(texts)) == len(texts)
    post_texts = [p.text for p in corpus.posts]
    assert 1 <= len(post_texts) - len(set(post_texts)) <= 20


def test_posts_carry_weibo_quirks() -> None:
    texts = [p.text for p in build_corpus().posts]
    assert sum("<br />" in t for t in texts) > 50
    assert sum("<a href='/n/客声优选'>@客声优选</a>" in t for t in texts) > 100
    # Traditional characters (opencc s2t) in a few percent of posts.
    traditional = sum(bool(re.search("[這個們說體書點麼還]", t)) for t in texts)
    assert 0.02 * len(texts) < traditional < 0.15 * len(texts)


def test_deliberate_bad_input_is_there_exactly_once() -> None:
    corpus = build_corpus()
    broken = [r for r in corpus.reviews if r.broken_date]
    assert len(broken) == 1
    assert corpus.reviews_for(BROKEN_REVIEW_PRODUCT)[BROKEN_REVIEW_POSITION] == broken[0]
    empty = [t for t in corpus.tickets if not t.description]
    assert len(empty) == 1 and empty[0].created_at.strftime("%Y-%m") == GBK_MONTH


def test_corpus_is_deterministic_per_seed() -> None:
    fresh = build_corpus.__wrapped__(20250601)
    assert fresh == build_corpus(20250601)
    assert build_corpus() is build_corpus()  # cached
    other = build_corpus(7)
    assert other.posts != fresh.posts
    for day in EVENT.dates:  # any seed still plants the event
        assert other.daily_counts[EVENT.source][day].negative >= 3 * median(
            c.negative for d, c in other.daily_counts[EVENT.source].items() if d not in EVENT.dates
        )
