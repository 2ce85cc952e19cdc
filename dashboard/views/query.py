"""查询 Query: read-only SQL for product teams over the documented views, with a row limit
and a time limit (`warehouse.sql_console`: one SELECT, on a locked-down read-only
connection to the snapshot)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.common import Page, table
from dashboard.i18n import t
from warehouse.db import WarehouseError
from warehouse.sql_console import QueryError, run_query, schema_reference_markdown

ROW_LIMIT = 1000
TIME_LIMIT_S = 10.0
EXAMPLE = (
    "SELECT source, count(*) AS n, avg(negative_share) AS negative_share\n"
    "FROM v_daily\n"
    "WHERE local_day >= current_date - 30\n"
    "GROUP BY source ORDER BY n DESC"
)


def render(page: Page) -> None:
    st.header(t("只读 SQL 查询"))
    with st.expander(t("可查询的视图")):
        # Our own fixed text (view and column descriptions), not user content.
        st.markdown(schema_reference_markdown())
    sql = st.text_area(
        t("SQL（只读，最多 {rows} 行，{seconds} 秒）", rows=ROW_LIMIT, seconds=int(TIME_LIMIT_S)),
        EXAMPLE,
        height=160,
        key="query_sql",
    )
    if not st.button(t("运行查询"), key="query_run"):
        return
    try:
        result = run_query(page.db_path, sql, row_limit=ROW_LIMIT, timeout_s=TIME_LIMIT_S)
    except (QueryError, WarehouseError) as exc:
        st.error(str(exc))
        return
    table(pd.DataFrame(result.rows, columns=result.columns))
    note = t("{n} 行，{seconds:.2f} 秒", n=len(result.rows), seconds=result.seconds)
    st.caption(note + (t("；只显示前 {rows} 行", rows=ROW_LIMIT) if result.truncated else ""))
