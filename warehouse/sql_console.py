"""The 查询 Query page's backend: read-only SQL over the documented views.

Defence in depth, each layer enough on its own for what it covers:

1. DuckDB parses the text itself (`extract_statements`): exactly one statement, of type
   SELECT. Everything else (PRAGMA, SET, ATTACH, INSTALL/LOAD, COPY, EXPORT, writes,
   CALL, transactions, several statements) is refused before anything runs.
2. The query runs on a fresh connection to the published snapshot, opened read-only, with
   external access and extension (auto)loading off and the configuration locked, so even
   a SELECT cannot read files (``read_csv('/etc/passwd')``), attach, write or re-enable any
   of that with SET.
3. A time limit: the query runs in a worker thread and is interrupted at the deadline.
4. A row limit: at most ``row_limit + 1`` rows are fetched, the extra one only to say the
   result was truncated.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from warehouse.db import WarehouseError
from warehouse.snapshot import readable_path

# Each option exists in DuckDB 2.0 (tests check that they hold); lock_configuration last in
# spirit: once set, SET/RESET of any option is refused.
CONSOLE_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}

# How long to wait for an interrupted query to unwind before giving up on its thread.
_INTERRUPT_GRACE_S = 5.0


class QueryError(RuntimeError):
    """A console query that did not produce a result; the message is for the user."""


class QueryRejected(QueryError):
    """The SQL is not a single read-only statement, or DuckDB refused or failed it."""


class QueryTimeout(QueryError):
    """The query ran past its time limit and was interrupted."""


@dataclass(frozen=True)
class QueryResult:
    """What a console query returned.

    Attributes:
        columns: Column names, in order.
        rows: At most `row_limit` rows.
        truncated: True when the query had more rows than `row_limit`.
        seconds: Wall time of parsing, running and fetching.
    """

    columns: list[str]
    rows: list[tuple]
    truncated: bool
    seconds: float


@dataclass(frozen=True)
class ViewColumn:
    name: str
    zh: str
    en: str


@dataclass(frozen=True)
class ViewReference:
    name: str
    zh: str
    en: str
    columns: tuple[ViewColumn, ...]


def _cols(*triples: tuple[str, str, str]) -> tuple[ViewColumn, ...]:
    return tuple(ViewColumn(*t) for t in triples)


# The voice's customer, as linked by warehouse.customers (doc_customers); NULL = not linked.
_CUSTOMER_COLUMNS = (
    (
        "customer_id",
        "客户 ID（哈希，不含原始号码）",
        "customer id (a salted hash, never the raw key)",
    ),
    ("segment", "客户分层（发声当天）", "customer segment / tier on the document's day"),
    ("province", "客户所在省份", "the customer's province"),
    ("city", "客户所在城市", "the customer's city"),
    ("acquisition", "获客来源", "how the customer was acquired (CALL IN, 广告 ...)"),
    ("owner", "客户经理", "the customer's account manager"),
)

# Checked against the views of the migrations (0012 … 0024) by the tests: same views,
# same columns.
SCHEMA_REFERENCE: tuple[ViewReference, ...] = (
    ViewReference(
        "v_documents",
        "每条客户反馈及其最新的情感、主题和分类",
        "One row per document with its newest sentiment, theme and categories",
        _cols(
            ("id", "文档 ID", "document id"),
            ("source", "来源", "source"),
            ("channel", "渠道", "channel: review | social | ticket"),
            ("local_day", "本地日期", "local day (Asia/Shanghai by default)"),
            ("created_at", "发布时间", "when it was written"),
            ("text", "原文（已脱敏）", "text (personal data masked)"),
            ("rating", "评分", "rating, when the source has one"),
            ("product", "产品", "product"),
            ("brand", "品牌", "brand"),
            ("duplicate_of", "重复于（最早的相同文档）", "earliest document with the same text"),
            ("sentiment", "情感标签（最新模型）", "sentiment label, newest model"),
            ("sentiment_score", "情感分数（0 负面 – 1 正面）", "sentiment score, 0 neg – 1 pos"),
            ("theme_id", "主题 ID", "complaint theme id"),
            ("theme", "主题名称", "complaint theme label"),
            ("categories", "投诉分类列表", "list of complaint categories"),
            *_CUSTOMER_COLUMNS,
        ),
    ),
    ViewReference(
        "v_daily",
        "每天每个来源的文档数与负面占比",
        "Documents and negative share per day and source",
        _cols(
            ("local_day", "本地日期", "local day"),
            ("source", "来源", "source"),
            ("channel", "渠道", "channel"),
            ("n_docs", "文档数", "documents"),
            ("n_negative", "负面文档数", "negative documents"),
            ("n_positive", "正面文档数", "positive documents"),
            ("negative_share", "负面占比", "share of documents that are negative"),
        ),
    ),
    ViewReference(
        "v_themes",
        "当前的投诉主题（ID 跨运行稳定）",
        "Live complaint themes (ids stable across runs)",
        _cols(
            ("theme_id", "主题 ID", "theme id"),
            ("label", "主题名称", "label"),
            ("keywords", "关键词", "keywords"),
            ("key_phrases", "关键短语", "key phrases"),
            ("n_docs", "文档数", "documents in the theme"),
            ("n_negative", "负面文档数", "negative documents"),
            ("negativity", "负面占比", "share of its documents scored negative"),
            ("first_seen", "首次出现", "first day seen"),
            ("last_seen", "最近出现", "last day seen"),
            ("state", "状态", "new | growing | recurring | fading | resolved"),
        ),
    ),
    ViewReference(
        "v_aspects",
        "属性级情感（每条文档每个属性一行）",
        "Aspect-level sentiment, one row per document and aspect",
        _cols(
            ("doc_id", "文档 ID", "document id"),
            ("local_day", "本地日期", "local day"),
            ("source", "来源", "source"),
            ("aspect", "属性", "aspect (物流, 客服, 质量...)"),
            ("polarity", "极性", "negative | neutral | positive"),
            ("score", "分数（0 负面 – 1 正面）", "score, 0 neg – 1 pos"),
            ("clause", "出处子句", "the clause it was read from"),
            *_CUSTOMER_COLUMNS[1:4],  # segment, province, city
            *_CUSTOMER_COLUMNS[5:],  # owner
        ),
    ),
    ViewReference(
        "v_alert_status",
        "每个突增预警及其处理状态（无人处理时为 new）",
        "Every spike episode with its handling status ('new' until someone acts)",
        _cols(
            ("episode_id", "预警 ID", "spike episode id"),
            ("key_kind", "维度", "source | product | category | theme | aspect"),
            ("key_value", "维度取值", "which source, product, category, theme or aspect"),
            ("metric", "指标", "negative_volume | negative_share"),
            ("severity", "严重程度", "severity"),
            ("start_period", "开始时间", "start of the episode (local time)"),
            ("end_period", "结束时间", "end of the episode (local time)"),
            ("is_open", "仍在持续", "still ongoing at the last run"),
            ("status", "处理状态", "new | acknowledged | resolved"),
            ("status_by", "最近操作人", "who set the current status"),
            ("status_note", "最近备注", "note of the latest action"),
            ("status_at", "最近操作时间", "when the latest action was taken"),
            ("first_action_at", "首次处理时间", "when someone first acted on it"),
            ("n_actions", "操作次数", "status changes and comments so far"),
        ),
    ),
    ViewReference(
        "v_sentiment_corrections",
        "用户对情感判断的更正（每条文档取最新一次；已撤回的不列出）",
        "Users' corrections of the model's sentiment, the latest per document "
        "(withdrawn ones left out)",
        _cols(
            ("doc_id", "文档 ID", "document id"),
            ("local_day", "本地日期", "the document's local day"),
            ("source", "来源", "the document's source"),
            ("text", "原文（已脱敏）", "the text the user saw (personal data masked)"),
            ("model_version", "模型版本", "the model whose label was wrong"),
            ("predicted_label", "模型标签", "the model's label"),
            ("corrected_label", "更正后的标签", "the right label"),
            ("who", "更正人", "who corrected it"),
            ("note", "备注", "note"),
            ("corrected_at", "更正时间", "when"),
        ),
    ),
)


def schema_reference_markdown() -> str:
    """SCHEMA_REFERENCE as Markdown, for the page's sidebar."""
    parts = []
    for view in SCHEMA_REFERENCE:
        parts.append(f"**`{view.name}`** — {view.zh} / {view.en}\n")
        parts.extend(f"- `{c.name}`: {c.zh} / {c.en}" for c in view.columns)
        parts.append("")
    return "\n".join(parts)


def _single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRejected(f"SQL 无法解析 / SQL could not be parsed: {exc}") from exc
    if len(statements) != 1:
        raise QueryRejected(
            f"只能执行一条 SELECT 语句，这里有 {len(statements)} 条 / "
            f"exactly one SELECT statement is allowed, got {len(statements)}"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise QueryRejected(
            f"只允许只读的 SELECT 查询，不允许 {kind.name} / "
            f"only read-only SELECT queries are allowed, not {kind.name}"
        )


def _open_console(db_path: str | Path) -> duckdb.DuckDBPyConnection:
    path = readable_path(db_path)
    if not path.exists():
        raise WarehouseError(
            f"warehouse {path} does not exist yet: run `voc demo` or `voc ingest` first"
        )
    try:
        return duckdb.connect(str(path), read_only=True, config=CONSOLE_CONFIG)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path} for the query console: {exc}") from exc


def run_query(
    db_path: str | Path, sql: str, row_limit: int = 1000, timeout_s: float = 10.0
) -> QueryResult:
    """Run one read-only SELECT against the published snapshot of the warehouse.

    Args:
        db_path: The warehouse file; the query reads its snapshot (`readable_path`).
        sql: A single SELECT statement (a trailing ``;`` is fine).
        row_limit: Rows to return at most; `QueryResult.truncated` says if there were more.
        timeout_s: Seconds before the query is interrupted.

    Raises:
        QueryRejected: not a single SELECT, or DuckDB refused or failed it (a file read, a
            write, a SET, an unknown column...); the message says why in Chinese and English.
        QueryTimeout: it ran longer than `timeout_s`.
        WarehouseError: no warehouse or snapshot to read.
    """
    if row_limit < 1:
        raise ValueError("row_limit must be at least 1")
    started = time.monotonic()
    con = _open_console(db_path)
    worker: threading.Thread | None = None
    outcome: dict[str, Any] = {}
    try:
        _single_select(con, sql)

        def work() -> None:
            try:
                cursor = con.execute(sql)
                outcome["columns"] = [d[0] for d in cursor.description or []]
                outcome["rows"] = cursor.fetchmany(row_limit + 1)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="sql-console-query", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            con.interrupt()
            worker.join(_INTERRUPT_GRACE_S)
            raise QueryTimeout(
                f"查询超过 {timeout_s:g} 秒的时间限制，已中止 / "
                f"query exceeded the {timeout_s:g} s time limit and was stopped"
            )
        error = outcome.get("error")
        if isinstance(error, duckdb.Error):
            raise QueryRejected(f"查询失败 / query failed: {error}") from error
        if error is not None:
            raise error
    finally:
        # A thread still inside DuckDB after the grace period keeps its connection: closing
        # it underneath would be unsafe, and the daemon thread ends with its query.
        if worker is None or not worker.is_alive():
            con.close()
    rows = [tuple(r) for r in outcome["rows"]]
    return QueryResult(
        columns=outcome["columns"],
        rows=rows[:row_limit],
        truncated=len(rows) > row_limit,
        seconds=time.monotonic() - started,
    )
