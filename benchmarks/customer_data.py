"""Customers and survey responses for the dashboard benchmark's warehouse
(`benchmarks.dashboard`): N customers across tiers, provinces, acquisition sources and 200
account managers, a tenth of them with a segment change; about 40 % of the documents
linked to a customer (skewed: a few customers speak a lot), each with the segment of its
day; and one survey response per 25 documents, those documents being its open answers,
with NPS and CSAT that follow the answer's sentiment. Built in SQL, in place.
"""

from __future__ import annotations

import time

import duckdb

SEGMENTS = ("高价值", "高贡献", "一般", "休眠")
PROVINCES = (
    "广东", "江苏", "浙江", "山东", "河南", "四川", "湖北", "湖南", "河北", "福建", "上海",
    "北京", "安徽", "辽宁", "陕西", "江西", "重庆", "广西", "天津", "云南", "山西", "内蒙古",
    "贵州", "新疆", "黑龙江", "吉林", "甘肃", "海南", "宁夏", "青海", "西藏",
)  # fmt: skip
ACQUISITION = ("CALL IN", "自主开发", "广告", "老客户推荐")
RESPONSE_CUSTOMERS = """
CREATE TABLE IF NOT EXISTS response_customers (
    response_id VARCHAR PRIMARY KEY, customer_id VARCHAR NOT NULL, segment VARCHAR,
    province VARCHAR, city VARCHAR, acquisition VARCHAR, owner VARCHAR
)
"""


def has_customers(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse already holds customers."""
    return bool(con.execute("SELECT count(*) FROM customers").fetchone()[0])


def add_customers(con: duckdb.DuckDBPyConnection, n_customers: int) -> dict:
    """Fill customers, segment history, voice links and survey responses; returns sizes
    and seconds."""
    started = time.perf_counter()
    params = {"n": n_customers, "segments": list(SEGMENTS), "provinces": list(PROVINCES),
              "acq": list(ACQUISITION)}  # fmt: skip
    con.execute(
        "CREATE TEMP TABLE gen_customers AS SELECT i, substr(md5('c' || i), 1, 20) AS customer_id, "
        " $segments[1 + (CASE WHEN u < 0.05 THEN 0 WHEN u < 0.2 THEN 1 WHEN u < 0.75 THEN 2 "
        "  ELSE 3 END)] AS segment, "
        " $segments[1 + (hash(i, 'old') % 4)::INTEGER] AS old_segment, "
        " $provinces[1 + (hash(i, 'p') % 31)::INTEGER] AS province, "
        " $acq[1 + (hash(i, 'a') % 4)::INTEGER] AS acquisition, "
        " '经理' || lpad((hash(i, 'o') % 200)::VARCHAR, 3, '0') AS owner, "
        " hash(i, 'm') % 10 = 0 AS moved "
        "FROM (SELECT i, (hash(i, 's') % 100000) / 100000.0 AS u FROM range($n) t(i))",
        params,
    )
    con.execute(
        "INSERT INTO customers SELECT customer_id, segment, province, province || '市', "
        " acquisition, owner, DATE '2023-01-01' + (i % 700)::INTEGER, DATE '2025-12-31' - "
        " (i % 300)::INTEGER, 1 + i % 40, (i % 5000) * 10.0, 'bench', 'bench', now() "
        "FROM gen_customers"
    )
    con.execute(
        "INSERT INTO customer_segments SELECT customer_id, "
        " CASE WHEN moved THEN DATE '2025-06-01' END, NULL, segment, province, province || '市', "
        " acquisition, owner, 'bench' FROM gen_customers"
    )
    con.execute(
        "INSERT INTO customer_segments SELECT customer_id, NULL, DATE '2025-06-01', old_segment, "
        " province, province || '市', acquisition, owner, 'bench' FROM gen_customers WHERE moved"
    )
    # About 40 % of documents are linked; customer index skewed towards the first ones.
    con.execute(
        "CREATE TEMP TABLE gen_links AS SELECT r.id AS doc_id, r.local_day, "
        " least($n - 1, floor(pow((hash(r.id, 'c') % 1000003) / 1000003.0, 2.5) * $n))::BIGINT "
        "  AS i FROM raw_documents r WHERE hash(r.id, 'l') % 100 < 40",
        {"n": n_customers},
    )
    con.execute(
        "INSERT INTO doc_customers SELECT l.doc_id, g.customer_id, 'key', s.segment, s.province, "
        " s.city, s.acquisition, s.owner FROM gen_links l JOIN gen_customers g USING (i) "
        "JOIN customer_segments s ON s.customer_id = g.customer_id "
        " AND (s.valid_from IS NULL OR s.valid_from <= l.local_day) "
        " AND (s.valid_to IS NULL OR l.local_day < s.valid_to)"
    )
    # One response per 25 documents; the document is its open answer.
    con.execute(
        "CREATE TEMP TABLE gen_answers AS SELECT r.id AS doc_id, 'resp-' || r.id AS response_id, "
        " r.created_at, r.local_day, s.label, hash(r.id, 'n') % 100 AS u "
        "FROM raw_documents r JOIN doc_sentiment s ON s.doc_id = r.id "
        "WHERE hash(r.id, 'sv') % 25 = 0"
    )
    con.execute(
        "INSERT INTO survey_responses SELECT response_id, 'bench_survey', response_id, NULL, "
        " created_at, local_day, "
        " CASE label WHEN 'negative' THEN (CASE WHEN u < 80 THEN u % 7 ELSE 7 + u % 4 END) "
        "  WHEN 'neutral' THEN (CASE WHEN u < 60 THEN 7 + u % 2 ELSE u % 11 END) "
        "  ELSE (CASE WHEN u < 75 THEN 9 + u % 2 ELSE 5 + u % 4 END) END, "
        " CASE label WHEN 'negative' THEN 1 + u % 3 WHEN 'neutral' THEN 3 + u % 2 "
        "  ELSE 4 + u % 2 END, 'bench', 'bench' FROM gen_answers"
    )
    con.execute(
        "INSERT INTO survey_answers SELECT doc_id, response_id, '您不满意的原因是？' "
        "FROM gen_answers"
    )
    con.execute(RESPONSE_CUSTOMERS)
    con.execute(
        "INSERT INTO response_customers SELECT a.response_id, d.customer_id, d.segment, "
        " d.province, d.city, d.acquisition, d.owner "
        "FROM gen_answers a JOIN doc_customers d USING (doc_id)"
    )
    sizes = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in (
            "customers", "customer_segments", "doc_customers", "survey_responses",
            "survey_answers", "response_customers",
        )
    }  # fmt: skip
    for temp in ("gen_customers", "gen_links", "gen_answers"):
        con.execute(f"DROP TABLE {temp}")
    con.execute("CHECKPOINT")
    return {**sizes, "seconds": round(time.perf_counter() - started, 1)}
