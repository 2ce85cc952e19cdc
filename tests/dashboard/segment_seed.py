"""Customer links on top of the dashboard's seed warehouse (tests/dashboard/seed.py), with
numbers a reader can check by hand, as `warehouse.customers.link_documents` would write them.

- helpdesk (4 tickets a day: negative, neutral, positive, positive), every ticket with a
  customer key. Days 03-01 … 03-21: all four linked, the negative and neutral one to a
  高价值 customer (浙江 杭州, 王经理), the positive ones to a 一般 customer (广东 深圳,
  李经理). Days 03-22 … 03-28 (the last 7): only the negative one linked (高价值), so the
  link rate drops from 100 % to 25 %.
- shop: every review has a customer key and none links (the customer file lacks them).
- weibo: no keys, no links.

So 高价值 = 21 × 2 + 7 = 49 documents, 28 negative; 一般 = 42 documents, none negative.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from warehouse import aggregates
from warehouse.db import warehouse
from warehouse.snapshot import publish_snapshot

VIP, REGULAR = "高价值", "一般"
N_VIP, N_VIP_NEGATIVE, N_REGULAR = 49, 28, 42
BROKEN_FROM = date(2025, 3, 22)


def link_customers(path: Path, model: str = "seed-model-v1") -> Path:
    """Add the keys and links above to the seed warehouse at `path`, refresh its page
    aggregates the way the flow does, and publish a new snapshot."""
    with warehouse(path) as con:
        con.execute(
            "UPDATE raw_documents SET customer_key = 'k-' || id "
            "WHERE source IN ('helpdesk', 'shop')"
        )
        con.execute(
            "INSERT INTO doc_customers "
            "SELECT id, CASE WHEN i < 2 THEN 'cust-vip' ELSE 'cust-regular' END, 'key', "
            " CASE WHEN i < 2 THEN $vip ELSE $regular END, "
            " CASE WHEN i < 2 THEN '浙江' ELSE '广东' END, "
            " CASE WHEN i < 2 THEN '杭州' ELSE '深圳' END, '广告', "
            " CASE WHEN i < 2 THEN '王经理' ELSE '李经理' END "
            "FROM (SELECT id, local_day, right(id, 1)::INTEGER AS i FROM raw_documents "
            " WHERE source = 'helpdesk') "
            "WHERE local_day < $broken OR i = 0",
            {"vip": VIP, "regular": REGULAR, "broken": BROKEN_FROM},
        )
        aggregates.refresh_aggregates(con, model, "Asia/Shanghai")
    publish_snapshot(path)
    return path
