"""Customers and survey responses: the records, the customer-file mapping and the one way a
customer key is normalised and hashed.

A customer key (member id, mobile number, e-mail, a platform uid) is never stored raw. Every
place that sees one — the customer file import, a ticket's requester, a survey's
respondent, the phone number in a ticket's text before it is masked — stores
`hash_customer_key(value, salt)`: the sources' salted author hash (`voc.records.hash_author`)
of the key normalised by `normalize_customer_key`, so the same person written
``Zhang@Example.com`` in the CRM and ``zhang@example.com`` in a mail links up, and
``+86 138-0013-8000`` matches ``13800138000``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from voc.kinds.base import Options
from voc.records import hash_customer_key, normalize_customer_key

__all__ = [
    "Customer",
    "CustomerColumns",
    "CustomerConfig",
    "SurveyResponse",
    "find_customer_key",
    "hash_customer_key",
    "normalize_customer_key",
]

_SEPARATORS = re.compile(r"[\s\-()（）.]")
#: A mobile number inside free text (a ticket that says 我的手机 138 0013 8000).
MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d(?:[\s-]?\d{4}){2})(?!\d)")
#: An e-mail address inside free text.
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")

#: The segment dimensions a voice is attributed to (at the time it was written).
SEGMENT_FIELDS = ("segment", "province", "city", "acquisition", "owner")


def find_customer_key(text: str, kind: Literal["phone", "email"]) -> str | None:
    """The first mobile number (``phone``) or e-mail address (``email``) in a text, or None.

    Used on a ticket's raw text before personal data is masked (the key is hashed, the text
    is then masked as usual).
    """
    if kind == "phone":
        found = MOBILE_IN_TEXT.search(text)
        return _SEPARATORS.sub("", found[1]) if found else None
    found = EMAIL_IN_TEXT.search(text)
    return found[0] if found else None


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Headers = Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list)]


class CustomerColumns(Options):
    """Our customer field → the CRM export's header(s) (Simplified or Traditional).

    Key columns are tried in the order given; the first non-empty one is the customer's
    primary key, every non-empty one links voices to the customer.
    """

    member_id: Headers | None = Field(
        default_factory=lambda: ["会员号", "会员ID", "客户编号"],
        description="会员号（键，哈希后保存）/ member id (a key, hashed)",
    )
    mobile: Headers | None = Field(
        default_factory=lambda: ["手机", "手机号", "联系电话"],
        description="手机号（键，哈希后保存）/ mobile (a key, hashed)",
    )
    email: Headers | None = Field(
        default_factory=lambda: ["邮箱", "电子邮件", "Email"],
        description="邮箱（键，哈希后保存）/ e-mail (a key, hashed)",
    )
    segment: Headers | None = Field(
        default_factory=lambda: ["客户等级", "客户分层", "等级"],
        description="客户分层（高价值/高贡献/一般/休眠…）/ tier or segment",
    )
    province: Headers | None = Field(
        default_factory=lambda: ["省份", "省"], description="省份 / province"
    )
    city: Headers | None = Field(default_factory=lambda: ["城市", "市"], description="城市 / city")
    acquisition: Headers | None = Field(
        default_factory=lambda: ["客户来源", "来源"],
        description="客户来源（CALL IN/自主开发/广告/老客户推荐…）/ acquisition source",
    )
    owner: Headers | None = Field(
        default_factory=lambda: ["客户经理", "负责人", "归属"],
        description="客户经理 / account owner",
    )
    first_order: Headers | None = Field(
        default_factory=lambda: ["首次下单", "首单日期"], description="首单日期 / first order"
    )
    last_order: Headers | None = Field(
        default_factory=lambda: ["最近下单", "末次下单", "最近下单日期"],
        description="最近下单日期 / last order",
    )
    order_count: Headers | None = Field(
        default_factory=lambda: ["订单数", "下单次数"], description="订单数 / order count"
    )
    spend: Headers | None = Field(
        default_factory=lambda: ["消费金额", "累计消费"], description="累计消费 / spend"
    )
    segment_since: Headers | None = Field(
        None,
        description="分层生效日期（缺省为导入日期）/ when the segment took effect (default: "
        "the import's --as-of day)",
    )


class CustomerConfig(Options):
    """The ``[customers]`` table: how a CRM customer export is read.

    Attributes:
        columns: Field → header(s); for each field the first header the file has is used.
        sheet: XLSX worksheet (default: the first).
        on_conflict: Several rows for one customer with different segments: ``last`` (the
            last row wins, each conflict reported) or ``refuse`` (the customer is skipped,
            reported).
        uid_columns: Platform-uid → customer files: the uid header and the key header.
    """

    columns: CustomerColumns = Field(default_factory=CustomerColumns)
    sheet: str | None = None
    on_conflict: Literal["last", "refuse"] = "last"
    uid_column: str = Field("uid", description="平台用户 ID 的表头 / the platform uid header")
    uid_key_column: str = Field(
        "会员号", description="该用户对应的客户键（会员号/手机/邮箱）/ the customer key header"
    )


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer as a CRM file row gives it, keys already hashed.

    Attributes:
        customer_id: The hashed primary key (first non-empty key column).
        key_hashes: (key type, hash) of every key the row has.
        segment, province, city, acquisition, owner: Segment dimensions (None: not given).
        first_order, last_order: Order dates.
        order_count, spend: Order volume.
        segment_since: When this segment took effect, if the file says.
        where: File and row, for messages.
    """

    customer_id: str
    key_hashes: tuple[tuple[str, str], ...]
    segment: str | None = None
    province: str | None = None
    city: str | None = None
    acquisition: str | None = None
    owner: str | None = None
    first_order: date | None = None
    last_order: date | None = None
    order_count: int | None = None
    spend: float | None = None
    segment_since: date | None = None
    where: str = ""


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    """One survey response's scores (its open answers travel as `Document`s).

    Attributes:
        source: The survey source's name.
        external_id: The response id the export gives (or one derived from respondent and
            time); with `source` the upsert key.
        customer_key: Hashed respondent key (`hash_customer_key`), or None.
        submitted_at: When it was submitted (timezone-aware).
        nps: The 0–10 likelihood-to-recommend answer, or None.
        csat: The 1–5 satisfaction answer, or None.
        answer_ids: Ids of the documents made from its open answers.
    """

    source: str
    external_id: str
    customer_key: str | None
    submitted_at: datetime
    nps: int | None = None
    csat: int | None = None
    answer_ids: tuple[str, ...] = ()
