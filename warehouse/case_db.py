"""The case store's database: where it is, its tables, engines and write transactions.

One SQLAlchemy Core `METADATA` holds every ``case_*`` / ``followup_*`` table (the follow-up
store adds its tables here too). The embedded default is the SQLite side store the
dashboard already writes (``<warehouse stem>.actions.sqlite``); a team sets
``[cases] database_url = "postgresql+psycopg://..."`` (or ``VOC_CASES_DATABASE_URL``) to
share one PostgreSQL database instead. The store is separate from the DuckDB warehouse so
case actions never wait on an ingestion.

Append-only tables (`append_only`) get a trigger on both databases that refuses UPDATE
and DELETE, so history cannot be edited even by hand-written SQL.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine

from voc.cases import CaseError

#: Milliseconds a SQLite connection waits for another writer before giving up.
BUSY_TIMEOUT_MS = 10_000
#: Seconds a PostgreSQL connection attempt waits for the server.
CONNECT_TIMEOUT_S = 5
URL_ENV = "VOC_CASES_DATABASE_URL"
#: PostgreSQL advisory lock key held while the schema is created ("voccase" in ASCII).
SCHEMA_LOCK = 0x766F6363617365

METADATA = sa.MetaData()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise CaseError(
            f"时间必须带时区 / datetimes must be timezone-aware, got {value.isoformat()}"
        )
    return value.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on both databases.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text (sortable), which is
    marked UTC again when read.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = _aware(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _text(name: str, nullable: bool = True, **kw: Any) -> sa.Column:
    return sa.Column(name, sa.Text, nullable=nullable, **kw)


case_cases = sa.Table(
    "case_cases",
    METADATA,
    sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    _text("merge_key", False),
    _text("rule", False),
    _text("title", False),
    _text("status", False),
    _text("priority", False),
    _text("team"),
    _text("owner"),
    _text("customer_id"),
    _text("segment"),
    _text("province"),
    _text("source"),
    _text("channel"),
    _text("theme_id"),
    _text("theme_label"),
    _text("aspect"),
    _text("category"),
    sa.Column("severity", sa.JSON, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("n_voices", sa.Integer, nullable=False),
    sa.Column("first_response_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("closed_at", UTCDateTime),
    # When the newest voice was posted: the merge window is measured from it.
    sa.Column("last_voice_at", UTCDateTime, nullable=False),
    sa.Index("case_cases_merge", "merge_key", "status"),
    sa.Index("case_cases_queue", "status", "priority", "opened_at"),
    # The queue's order (`CaseStore.list_cases`), read from an index instead of a sort.
    sa.Index("case_cases_order", "priority", "opened_at", "case_id"),
    sa.Index("case_cases_opened", "opened_at"),
    sa.Index("case_cases_team", "team", "status"),
    sa.Index("case_cases_owner", "owner", "status"),
    sa.Index("case_cases_customer", "customer_id"),
)

case_voices = sa.Table(
    "case_voices",
    METADATA,
    # Unique: a voice is in one case at most, which makes opening idempotent even when two
    # openers race (the second insert fails and is retried as "known").
    _text("doc_id", False, primary_key=True),
    sa.Column("case_id", sa.ForeignKey("case_cases.case_id"), nullable=False),
    sa.Column("added_at", UTCDateTime, nullable=False),
    _text("source", False),
    _text("channel", False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    _text("excerpt", False),
    _text("url"),
    _text("sentiment"),
    sa.Column("negative_score", sa.Float),
    sa.Column("anger", sa.Float),
    sa.Column("reach", sa.BigInteger, nullable=False),
    _text("theme_id"),
    _text("theme_label"),
    _text("aspect"),
    _text("category"),
    _text("customer_id"),
    _text("segment"),
    _text("province"),
    _text("dup_group"),
    sa.Index("case_voices_case", "case_id", "created_at"),
)

case_events = sa.Table(
    "case_events",
    METADATA,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("case_id", sa.ForeignKey("case_cases.case_id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    _text("who", False),
    _text("action", False),
    _text("from_status"),
    _text("to_status"),
    _text("note", False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("case_events_case", "case_id", "seq"),
)

#: Tables whose rows are never updated or deleted (see `append_only`).
APPEND_ONLY: set[str] = set()


def append_only(table: sa.Table) -> sa.Table:
    """Mark `table` append-only: `create_schema` adds triggers refusing UPDATE and DELETE."""
    APPEND_ONLY.add(table.name)
    name = table.name
    for op in ("UPDATE", "DELETE"):
        event.listen(
            table,
            "after_create",
            sa.DDL(
                f"CREATE TRIGGER {name}_no_{op.lower()} BEFORE {op} ON {name} "
                f"BEGIN SELECT RAISE(ABORT, '{name} is append-only'); END"
            ).execute_if(dialect="sqlite"),
        )
    event.listen(
        table,
        "after_create",
        sa.DDL(
            f"CREATE OR REPLACE FUNCTION {name}_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{name} is append-only'; END $$; "
            f"CREATE TRIGGER {name}_no_change BEFORE UPDATE OR DELETE ON {name} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}_refuse()"
        ).execute_if(dialect="postgresql"),
    )
    return table


append_only(case_events)


class StoreUnavailable(CaseError):
    """The case database cannot be reached (PostgreSQL down, a bad URL or file)."""


def store_url(
    settings_or_db_path: Any,
    configured_url: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The case store's URL: the configured one, else the environment variable that
    ``[cases] database_url_env`` names, else ``VOC_CASES_DATABASE_URL``, else the SQLite
    side store beside the warehouse (``<stem>.actions.sqlite``).

    Args:
        settings_or_db_path: `voc.settings.Settings` (its ``cases`` table counts once
            wired) or the warehouse file path.
        configured_url: ``[cases] database_url`` when the caller has it at hand.
        env: Environment to read (default: ``os.environ``).
    """
    from warehouse.action_store import actions_path

    env = os.environ if env is None else env
    db_path = getattr(settings_or_db_path, "db_path", settings_or_db_path)
    cases = getattr(settings_or_db_path, "cases", None)
    url_env = getattr(cases, "database_url_env", None)
    url = (
        configured_url
        or getattr(cases, "database_url", None)
        or (env.get(url_env) if url_env else None)
        or env.get(URL_ENV)
    )
    if url:
        return url
    return f"sqlite:///{actions_path(Path(db_path))}"


def shown_url(url: str | sa.URL) -> str:
    """A URL fit for messages and logs: the password hidden."""
    return sa.make_url(url).render_as_string(hide_password=True)


def connect_store(url: str | sa.URL, **engine_kw: Any) -> Engine:
    """An engine on the case store at `url` (no connection is made yet).

    SQLite: WAL, a busy timeout, foreign keys on, and write transactions that take the
    write lock first (`write_transaction`). PostgreSQL: ``postgresql+psycopg://`` (a plain
    ``postgresql://`` URL is given the psycopg driver) with a connect timeout.
    """
    url = sa.make_url(url)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        engine_kw.setdefault("pool_pre_ping", True)
        connect_args = engine_kw.pop("connect_args", {})
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
        return sa.create_engine(url, connect_args=connect_args, **engine_kw)
    if url.get_backend_name() != "sqlite":
        raise CaseError(
            f"工单库只支持 SQLite 和 PostgreSQL：{shown_url(url)} / the case store supports "
            f"SQLite and PostgreSQL only, got {shown_url(url)}"
        )
    if url.database and url.database != ":memory:" and not Path(url.database).parent.is_dir():
        raise StoreUnavailable(
            f"工单库目录不存在：{Path(url.database).parent}（先运行 voc demo 或 voc ingest）/ "
            f"case store folder {Path(url.database).parent} does not exist: run `voc demo` "
            f"or `voc ingest` first"
        )
    connect_args = engine_kw.pop("connect_args", {})
    connect_args.setdefault("timeout", BUSY_TIMEOUT_MS / 1000)
    engine = sa.create_engine(url, connect_args=connect_args, **engine_kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_con: Any, _record: Any) -> None:
        dbapi_con.isolation_level = None  # pysqlite's own BEGIN handling off: ours below
        cur = dbapi_con.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # a constant
        cur.execute("PRAGMA foreign_keys = ON")
        if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            cur.execute("PRAGMA journal_mode = WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(con: Connection) -> None:
        # A deferred transaction that reads and then writes can fail at once with "database
        # is locked" (the busy timeout does not cover a lock upgrade): writers lock first.
        immediate = con.get_execution_options().get("voc_write", False)
        con.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


#: Modules that add their tables to `METADATA`: imported before the schema is created, so
#: the schema is whole whichever store module a caller imported first.
STORE_MODULES = ("warehouse.followup_store",)


def create_schema(engine: Engine) -> None:
    """Create the store's tables, indexes and append-only triggers (those missing)."""
    for name in STORE_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    with write_transaction(engine) as con:
        if con.dialect.name == "postgresql":
            # Two processes starting on a new database (the dashboard and a flow) would
            # both see a table missing and both create it: one at a time.
            con.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        METADATA.create_all(con)


def _sqlite_time(value: datetime | None) -> str | None:
    # The text SQLAlchemy's SQLite DateTime writes and parses, so both paths read alike.
    return None if value is None else _aware(value).strftime("%Y-%m-%d %H:%M:%S.%f")


def _pg_time(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _memo(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    if convert is _json:
        return convert
    seen: dict[Any, Any] = {}

    def memo(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = out = convert(value)
            return out

    return memo


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def bulk_insert(
    con: Connection, table: sa.Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows fast, past SQLAlchemy's per-row parameter processing: SQLite's
    executemany, PostgreSQL's COPY, in the connection's transaction.

    Values are converted as the column types would (aware datetimes, JSON), so rows read
    back through the tables are the same as rows inserted one by one.
    """
    if not rows:
        return
    dialect = con.dialect.name
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        if isinstance(kind, UTCDateTime):
            converters.append((i, _sqlite_time if dialect == "sqlite" else _pg_time))
        elif isinstance(kind, sa.JSON):
            converters.append((i, _json))
    if converters:
        # Many rows share a timestamp (the run's `now`): convert each distinct value once.
        converters = [(i, _memo(fn)) for i, fn in converters]
        converted = []
        for row in rows:
            row = list(row)
            for i, convert in converters:
                row[i] = convert(row[i])
            converted.append(tuple(row))
        rows = converted
    names = ", ".join(columns)  # table and column names are constants of this package
    if dialect == "postgresql":
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        dbapi = con.connection.dbapi_connection
        try:
            with dbapi.cursor() as cur, cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except con.dialect.dbapi.IntegrityError as exc:
            # As SQLAlchemy would have raised it, so callers catch one kind.
            raise sa.exc.IntegrityError(statement, None, exc) from exc
        return
    marks = ", ".join("?" for _ in columns)
    con.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) VALUES ({marks})", [tuple(r) for r in rows]
    )


def in_values(con: Connection, column: sa.ColumnElement, values: Sequence[Any]) -> Any:
    """``column IN values`` as one bound parameter however long the list: PostgreSQL
    ``= ANY(array)``, SQLite ``IN (SELECT value FROM json_each(json))``. A plain IN list
    is one parameter per value, and compiling 5,000 of them costs more than the query."""
    if con.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    listed = sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.bindparam(None, json.dumps(list(values)), type_=sa.Text))
    )
    return column.in_(listed.scalar_subquery())


def next_ids(con: Connection, table: sa.Table, n: int) -> list[int]:
    """`n` new primary keys for `table` (in a write transaction).

    PostgreSQL draws them from the column's sequence; SQLite continues after the largest
    key, which is safe because the write transaction holds the database's write lock.
    """
    if n == 0:
        return []
    key = next(iter(table.primary_key.columns))
    if con.dialect.name == "postgresql":
        query = sa.text(
            "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"
        )
        ids = con.execute(query, {"table": table.name, "column": key.name, "n": n}).scalars()
        return sorted(ids)
    start = con.execute(sa.select(sa.func.coalesce(sa.func.max(key), 0))).scalar_one()
    return list(range(start + 1, start + n + 1))


@contextmanager
def _connected(engine: Engine) -> Iterator[Connection]:
    try:
        con = engine.connect()
    except sa.exc.OperationalError as exc:
        raise _unavailable(engine, exc) from exc
    try:
        with con:
            yield con
    except sa.exc.DBAPIError as exc:
        # The server went away mid-transaction (it rolled back): the same "unreachable" as
        # at connect, so callers handle one error. Other database errors stay as they are.
        if exc.connection_invalidated:
            raise _unavailable(engine, exc) from exc
        raise


def _unavailable(engine: Engine, exc: sa.exc.DBAPIError) -> StoreUnavailable:
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    return StoreUnavailable(
        f"工单库无法连接：{shown_url(engine.url)} / the case store cannot be reached: "
        f"{shown_url(engine.url)} ({reason})"
    )


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction (the SQLite write lock taken first); `StoreUnavailable`
    when the database cannot be reached."""
    with _connected(engine) as con:
        con.execution_options(voc_write=True)
        with con.begin():
            yield con


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads (one consistent transaction); `StoreUnavailable` when the
    database cannot be reached."""
    with _connected(engine) as con, con.begin():
        yield con
