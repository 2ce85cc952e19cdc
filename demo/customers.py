"""The demo's customers and its satisfaction survey, built from the demo corpus.

- A CRM customer file (3,000 customers across tiers, acquisition sources, provinces and
  account managers), exported twice: the first export (legacy GBK CSV, as of the first demo
  day) and a later one (UTF-8) in which some customers changed tier, so the segment
  history has something to keep.
- A member id on most helpdesk tickets, and a uid → member id file for some microblog
  users, so voices link to customers.
- ~1,500 survey responses (问卷星-style export, one XLSX per month) over the last 90 demo
  days, with NPS (0–10), CSAT (1–5) and two open questions. The planted event
  (`SURVEY_EVENT`): from 2025-08-05 (the month of the logistics event) 高价值 customers'
  NPS drops, driven by logistics complaints, while the other tiers stay where they were.

Everything is deterministic (its own random generators, so the main corpus is unchanged).
"""

from __future__ import annotations

import csv
import functools
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from demo.data import BRAND, PRODUCTS, DemoCorpus, build_corpus
from demo.events import DEMO_END, DEMO_START, DEMO_TZ

#: Tiers and their share of customers.
TIERS: tuple[tuple[str, float], ...] = (
    ("高价值", 0.12),
    ("高贡献", 0.20),
    ("一般", 0.53),
    ("休眠", 0.15),
)
ACQUISITION = (("CALL IN", 0.2), ("自主开发", 0.25), ("广告", 0.3), ("老客户推荐", 0.25))
REGIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("广东", ("广州", "深圳", "东莞", "佛山")),
    ("浙江", ("杭州", "宁波", "温州")),
    ("江苏", ("南京", "苏州", "无锡")),
    ("上海", ("上海",)),
    ("北京", ("北京",)),
    ("山东", ("济南", "青岛")),
    ("四川", ("成都", "绵阳")),
    ("湖北", ("武汉", "宜昌")),
    ("福建", ("福州", "厦门")),
    ("河南", ("郑州", "洛阳")),
)
OWNERS = ("王芳", "李强", "张敏", "刘洋", "陈静", "杨帆")
N_CUSTOMERS = 3000
#: The later customer export: as of this day some customers changed tier.
SECOND_EXPORT = date(2025, 7, 25)
#: Share of tickets whose requester gave a member id; share of microblog users mapped.
TICKET_LINK_SHARE = 0.85
UID_MAP_SHARE = 0.2

#: Survey questions as a 问卷星 export prints them.
Q_NPS = f"1、您向朋友或同事推荐{BRAND}的可能性有多大？"
Q_CSAT = "2、您对本次购物体验的总体满意度是？"
Q_REASON = "3、您给出这个评分的主要原因是什么？"
Q_SUGGEST = "4、您对我们还有什么建议？"
SURVEY_COLUMNS = (
    "序号",
    "提交答卷时间",
    "所用时间",
    "来源",
    "会员号",
    Q_NPS,
    Q_CSAT,
    Q_REASON,
    Q_SUGGEST,
)
SURVEY_START = DEMO_END - timedelta(days=89)
N_RESPONSES = 1500


@dataclass(frozen=True)
class SurveyEvent:
    """The planted satisfaction drop: a tier whose NPS falls from a day on, and why."""

    segment: str
    start: date
    theme: str
    keywords: tuple[str, ...]


SURVEY_EVENT = SurveyEvent(
    "高价值", date(2025, 8, 5), "物流/快递延误", ("快递", "物流", "配送", "发货", "送到")
)


@dataclass(frozen=True)
class DemoCustomer:
    member_id: str
    mobile: str
    email: str | None
    name: str
    tier: str
    province: str
    city: str
    acquisition: str
    owner: str
    first_order: date
    last_order: date
    orders: int
    spend: float
    later_tier: str  # the tier in the second export


@dataclass(frozen=True)
class DemoResponse:
    seq: int
    submitted_at: datetime
    member_id: str | None
    nps: int
    csat: int
    reason: str
    suggestion: str
    tier: str  # the respondent's tier on the day (for tests)


@dataclass(frozen=True)
class DemoCustomers:
    customers: tuple[DemoCustomer, ...]
    ticket_members: dict[str, str]  # ticket id -> member id
    uid_members: dict[int, str]  # microblog uid -> member id
    responses: tuple[DemoResponse, ...]

    def tier_on(self, customer: DemoCustomer, day: date) -> str:
        return customer.later_tier if day >= SECOND_EXPORT else customer.tier


def _pick(rng: random.Random, weighted: Sequence[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


_SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高郑梁谢宋唐"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def _customers(rng: random.Random) -> list[DemoCustomer]:
    out = []
    for i in range(N_CUSTOMERS):
        tier = _pick(rng, TIERS)
        province, cities = rng.choice(REGIONS)
        first = DEMO_START - timedelta(days=rng.randrange(30, 1500))
        orders = {"高价值": 40, "高贡献": 18, "一般": 5, "休眠": 2}[tier]
        orders = max(1, round(rng.gauss(orders, orders / 3)))
        later = tier
        roll = rng.random()
        if tier in ("一般", "高贡献") and roll < 0.06:
            later = "高价值"
        elif tier == "高价值" and roll < 0.08:
            later = "休眠"
        out.append(
            DemoCustomer(
                member_id=f"KS{10_000_000 + i * 7919 % 9_000_000:08d}",
                mobile=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
                email=f"user{i:04d}@example.com" if rng.random() < 0.4 else None,
                name=rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(("", *_GIVEN)),
                tier=tier,
                province=province,
                city=rng.choice(cities),
                acquisition=_pick(rng, ACQUISITION),
                owner=rng.choice(OWNERS),
                first_order=first,
                last_order=DEMO_START - timedelta(days=rng.randrange(1, 200)),
                orders=orders,
                spend=round(orders * rng.uniform(80, 600), 2),
                later_tier=later,
            )
        )
    return out


# Open answers by theme: an opening and an ending, with a product sometimes named.
_THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "物流": (
        (
            "快递太慢了，下单五天才到",
            "物流信息好几天不更新",
            "配送延误了三天也没人通知",
            "说好次日达结果第四天才送到",
            "快递员没打电话直接放驿站",
            "发货太慢，催了两次才发",
            "物流太慢，等得着急",
            "快递送错了地址，折腾了好几天",
        ),
        ("，很失望。", "，以后不敢急用的时候买了。", "，希望改进配送。", "。", "，体验很差。"),
    ),
    "质量": (
        (
            "用了一周就坏了",
            "做工粗糙，有划痕",
            "和描述的不一样",
            "质量不太行，开线了",
            "有异味，放了好几天还有",
        ),
        ("，申请换货了。", "。", "，希望把好质量关。", "，不太满意。"),
    ),
    "客服": (
        (
            "客服回复太慢",
            "问题反映了三次都没人处理",
            "客服态度很敷衍",
            "退款申请拖了两个星期",
        ),
        ("，很不满意。", "。", "，希望提高效率。"),
    ),
    "价格": (
        ("价格比别家贵", "刚买就降价了，也不给保价", "优惠券用不了", "运费太贵"),
        ("。", "，有点不值。", "，希望多搞活动。"),
    ),
}
_PRAISE = (
    (
        "质量很好，用着放心",
        "发货很快，第二天就到了",
        "客服很耐心，问题很快解决了",
        "性价比很高",
        "包装很用心，没有磕碰",
        "用了一个月没有任何问题",
        "物流很快，快递员态度也好",
    ),
    ("，会推荐给朋友。", "，满意！", "，还会回购。", "。"),
)
_SUGGESTIONS = (
    "希望多出点优惠活动",
    "希望增加更多颜色可选",
    "希望物流再快一点",
    "希望客服响应更及时",
    "希望包装更环保一些",
    "会员积分可以多一些用途",
)


def _text(
    rng: random.Random, parts: tuple[tuple[str, ...], tuple[str, ...]], product: bool = False
) -> str:
    head, tail = rng.choice(parts[0]), rng.choice(parts[1])
    # Only a quality complaint names the product ("买的耳机用了一周就坏了").
    if product and rng.random() < 0.5:
        head = f"买的{rng.choice(PRODUCTS)[1].removeprefix(BRAND).strip()}{head}"
    return head + tail


def _score(rng: random.Random, tier: str, day: date) -> tuple[int, str | None]:
    """(NPS 0–10, the complaint theme of a detractor or passive, None for praise)."""
    planted = tier == SURVEY_EVENT.segment and day >= SURVEY_EVENT.start
    if planted:
        weights = (0.30, 0.22, 0.48)  # promoter, passive, detractor: NPS about -18
    elif tier == "高价值":
        weights = (0.58, 0.28, 0.14)  # about +44
    else:
        weights = (0.50, 0.30, 0.20)  # about +30
    kind = rng.choices(("promoter", "passive", "detractor"), weights=weights)[0]
    if kind == "promoter":
        return rng.choice((9, 10, 10)), None
    theme_weights = (0.8, 0.08, 0.07, 0.05) if planted else (0.22, 0.33, 0.25, 0.20)
    theme = rng.choices(tuple(_THEMES), weights=theme_weights)[0]
    if kind == "passive":
        return rng.choice((7, 8)), theme
    return rng.choice((0, 2, 3, 4, 5, 5, 6, 6)), theme


def _csat(rng: random.Random, nps: int) -> int:
    if nps >= 9:
        return rng.choice((5, 5, 4))
    if nps >= 7:
        return rng.choice((4, 4, 3))
    return rng.choice((1, 2, 2, 3))


def _responses(rng: random.Random, customers: list[DemoCustomer]) -> list[DemoResponse]:
    # 高价值 customers answer surveys more often, so the tier has enough answers a month.
    weights = [3.0 if c.tier == "高价值" or c.later_tier == "高价值" else 1.0 for c in customers]
    days = [SURVEY_START + timedelta(days=i) for i in range((DEMO_END - SURVEY_START).days + 1)]
    out = []
    for seq in range(1, N_RESPONSES + 1):
        day = rng.choice(days)
        stamp = datetime.combine(
            day, time(rng.randrange(8, 23), rng.randrange(60), rng.randrange(60)), DEMO_TZ
        )
        customer = rng.choices(customers, weights=weights)[0]
        tier = customer.later_tier if day >= SECOND_EXPORT else customer.tier
        nps, theme = _score(rng, tier, day)
        if theme is None:
            reason = _text(rng, _PRAISE)
        elif nps >= 7:
            reason = "整体还可以，就是" + _text(rng, _THEMES[theme])
        else:
            reason = _text(rng, _THEMES[theme], product=theme == "质量")
        out.append(
            DemoResponse(
                seq=seq,
                submitted_at=stamp,
                # A few respondents answer through a public link without a member id.
                member_id=customer.member_id if rng.random() > 0.05 else None,
                nps=nps,
                csat=_csat(rng, nps),
                reason=reason if rng.random() > 0.1 else "",
                suggestion=rng.choice(_SUGGESTIONS) if rng.random() < 0.3 else "",
                tier=tier,
            )
        )
    out.sort(key=lambda r: r.submitted_at)
    return [
        DemoResponse(i, r.submitted_at, r.member_id, r.nps, r.csat, r.reason, r.suggestion, r.tier)
        for i, r in enumerate(out, start=1)
    ]


@functools.lru_cache(maxsize=2)
def build_customers(seed: int = 20250601) -> DemoCustomers:
    """The demo's customers, ticket and uid links and survey; the same seed, the same data."""
    corpus: DemoCorpus = build_corpus(seed)
    rng = random.Random(seed + 15)
    customers = _customers(rng)
    ticket_members = {
        t.ticket_id: rng.choice(customers).member_id
        for t in corpus.tickets
        if rng.random() < TICKET_LINK_SHARE
    }
    uids = sorted({p.user_id for p in corpus.posts})
    uid_members = {u: rng.choice(customers).member_id for u in uids if rng.random() < UID_MAP_SHARE}
    responses = _responses(random.Random(seed + 16), customers)
    return DemoCustomers(tuple(customers), ticket_members, uid_members, tuple(responses))


CUSTOMER_COLUMNS = (
    "会员号",
    "姓名",
    "手机",
    "邮箱",
    "客户等级",
    "省份",
    "城市",
    "客户来源",
    "客户经理",
    "首次下单",
    "最近下单",
    "订单数",
    "累计消费",
)


def customer_csv(data: DemoCustomers, later: bool = False) -> bytes:
    """The CRM export: the first one in GBK (a legacy Windows export), the later in UTF-8."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CUSTOMER_COLUMNS)
    for c in data.customers:
        writer.writerow(
            (
                c.member_id,
                c.name,
                c.mobile,
                c.email or "",
                c.later_tier if later else c.tier,
                c.province,
                c.city,
                c.acquisition,
                c.owner,
                c.first_order.isoformat(),
                c.last_order.isoformat(),
                c.orders,
                f"{c.spend:.2f}",
            )
        )
    text = buf.getvalue()
    return text.encode("utf-8-sig") if later else text.encode("gbk")


def uid_csv(data: DemoCustomers) -> bytes:
    """Microblog uid → member id (a social-listening vendor's match file)."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(("uid", "会员号"))
    for uid, member in sorted(data.uid_members.items()):
        writer.writerow((uid, member))
    return buf.getvalue().encode("utf-8")


def survey_months(data: DemoCustomers) -> dict[str, list[DemoResponse]]:
    """Responses by export month (``YYYY-MM``), oldest first."""
    months: dict[str, list[DemoResponse]] = {}
    for r in data.responses:
        months.setdefault(r.submitted_at.strftime("%Y-%m"), []).append(r)
    return months


def survey_xlsx(rows: Sequence[DemoResponse]) -> bytes:
    """One month of responses as 问卷星 exports them (按文本导出, .xlsx)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(SURVEY_COLUMNS)
    for r in rows:
        s = r.submitted_at
        sheet.append(
            (
                r.seq,
                f"{s:%Y}/{s.month}/{s.day} {s:%H:%M:%S}",
                f"{30 + r.seq * 37 % 300}秒",
                ("手机提交", "微信", "链接")[r.seq % 3],
                r.member_id or "",
                r.nps,
                r.csat,
                r.reason or "(空)",
                r.suggestion or "(空)",
            )
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
