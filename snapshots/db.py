"""Engine and session factory for the snapshot store.

SQLite (the default, one file under the data directory, WAL mode) or any URL SQLAlchemy
understands (``postgresql+psycopg://…``).  Opening a store brings its schema to the newest
Alembic revision.  Imports nothing of ours outside ``snapshots``.

Test hook: ``TAKEDOWN_SQLITE_MAX_PAGES=N`` in the environment caps every SQLite connection
of the process at N database pages (``PRAGMA max_page_count``; never below the file's
current size), so a test makes SQLite itself answer "database or disk is full" without a
full disk.  Unset, as in normal use, it changes nothing.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from snapshots.errors import StoreError, StoreURLError, without_passwords

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
DB_FILENAME = "takedown.sqlite"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp stored and compared in UTC on every backend.

    SQLite keeps a timestamp as its clock text and drops the offset, so a time of another
    offset, written or compared, would be read as if it were UTC; converting every bound
    value here makes a filter like ``detected_at >= 08:00+08:00`` mean the same instant on
    SQLite as on PostgreSQL.  Values come back UTC-aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def default_url(data_dir: str | Path) -> str:
    """The SQLite URL of the store kept in *data_dir*; StoreURLError when the folder's path
    cannot be resolved (a loop of symbolic links)."""
    try:
        folder = Path(data_dir).resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: pathlib's "Symlink loop" (< 3.13)
        raise StoreURLError(f"cannot use the data folder {data_dir}: {exc}") from None
    return f"sqlite:///{folder / DB_FILENAME}"


# The test hook of the module docstring: caps the SQLite file at this many pages.
MAX_PAGES_ENV = "TAKEDOWN_SQLITE_MAX_PAGES"

# Execution option of the connections of write transactions (`Store.writing`).
WRITES = "takedown_writes"


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A transaction that reads before it writes takes SQLite's write lock at BEGIN: begun
    # deferred, its first write fails at once, "database is locked" with no busy wait, if
    # another connection (a crawl, the scheduler's job store) committed since its first
    # read.  Read-only sessions stay deferred, so they never queue behind a writer.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITES)
                         else "BEGIN")


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # pysqlite opens transactions lazily and commits DDL on its own; hand transaction
    # control to SQLAlchemy (its documented recipe) so a migration killed halfway
    # rolls back whole, like every other write.
    dbapi_conn.isolation_level = None
    # WAL lets readers (report, serve) work during a crawl; NORMAL keeps every commit
    # atomic and durable against a killed process (only an OS crash may lose the last one).
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    max_pages = os.environ.get(MAX_PAGES_ENV)
    if max_pages:
        cur.execute(f"PRAGMA max_page_count={int(max_pages)}")
    cur.close()


def shown_url(url: str) -> str:
    """*url* as messages and logs show it: without its password.

    >>> shown_url("postgresql+psycopg://ana:s3cret@db/takedown")
    'postgresql+psycopg://ana:***@db/takedown'
    """
    return without_passwords(url)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite *url*; None for another backend or an in-memory database."""
    try:
        parsed = make_url(url)
        _ = parsed.port  # a port that is not a number
    except (ArgumentError, ValueError) as exc:
        raise StoreURLError(f"not a database URL: {shown_url(url)!r} ({exc})") from exc
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return Path(path)


def make_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for *url*; SQLite gets WAL, foreign keys and a busy timeout (and the
    folder of its file, created if need be).  *read_only* opens a SQLite file so that
    nothing can change it, not even its journal mode (``takedown check``)."""
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:
        raise StoreURLError(f"cannot open database {shown_url(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        path = sqlite_file(url)
        if read_only and path is not None:
            engine.dispose()
            return _read_only_sqlite(path)
        if path is not None:
            _make_folder(path.parent)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _read_only_sqlite(path: Path) -> Engine:
    target = f"file:{quote(str(path.absolute()))}?mode=ro"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(target, uri=True, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA query_only=ON")
        return conn

    return create_engine("sqlite://", creator=connect, poolclass=NullPool)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StoreError(f"{exc.filename} is a file, not a folder: it cannot hold a store") \
            from exc
    except OSError as exc:
        raise StoreError(f"cannot create the folder {folder}: {exc.strerror}") from exc


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
