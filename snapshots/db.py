"""Engine and session factory for the snapshot store.

SQLite (the default, one file under the data directory, WAL mode) or any URL SQLAlchemy
understands (``postgresql+psycopg://…``).  Opening a store brings its schema to the newest
Alembic revision.  Imports nothing of ours outside ``snapshots``.

JSON that the store keeps in bulk (a capture's HTTP headers, the detector's memories) is a
``PackedJSON`` column: compact JSON, zstd compressed against a built-in dictionary of the
keys and values it usually holds (see `pack_json`).

Test hook: ``TAKEDOWN_SQLITE_MAX_PAGES=N`` in the environment caps every SQLite connection
of the process at N database pages (``PRAGMA max_page_count``; never below the file's
current size), so a test makes SQLite itself answer "database or disk is full" without a
full disk.  Unset, as in normal use, it changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import zstandard
from sqlalchemy import DateTime, Engine, LargeBinary, MetaData, create_engine, event
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


class Digest(TypeDecorator):
    """A SHA-256 key (of a blob, of a link set): a lowercase hex string in Python, its 32
    bytes in the database.  Half the bytes of the hex text in every table and index that
    holds one, which in a store of many small deltas is much of the store.

    A bound value that is not a 64-digit hex string (a damaged key, a typo in a look-up) is
    bound as its UTF-8 bytes, which no real key equals: it matches nothing and fails nothing.
    A stored value that is not 32 bytes comes back as its text, for ``takedown check`` to
    name.

    >>> d = Digest()
    >>> d.process_bind_param("ab" * 32, None) == bytes.fromhex("ab" * 32)
    True
    >>> d.process_result_value(bytes(range(32)), None)[:8], d.process_bind_param("x", None)
    ('00010203', b'x')
    >>> d.process_result_value(b"damaged-key", None)
    'damaged-key'
    """

    impl = LargeBinary(32)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect | None) -> bytes | None:
        if value is None:
            return None
        if len(value) == 64:
            try:
                return bytes.fromhex(value)
            except ValueError:
                pass
        return value.encode("utf-8", "surrogatepass")

    def process_result_value(self, value: bytes | memoryview | str | None,
                             dialect: Dialect | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raw = bytes(value)
        return raw.hex() if len(raw) == 32 else raw.decode("utf-8", "replace")


# -- packed JSON ------------------------------------------------------------------------------
# Raw-content zstd dictionaries: text that small values are likely to repeat (a frame may copy
# from it as if it preceded the value), the commonest strings last (nearest, cheapest to
# reach).  A tag byte names the dictionary a value was packed with; a dictionary is never
# changed once released (old values must decode): a better one gets a new tag.
_HEADERS_V1 = (
    '"x-frame-options":"SAMEORIGIN","x-xss-protection":"1; mode=block",'
    '"x-content-type-options":"nosniff","strict-transport-security":"max-age=31536000; '
    'includeSubDomains","access-control-allow-origin":"*","accept-ranges":"bytes",'
    '"connection":"keep-alive","transfer-encoding":"chunked","content-encoding":"gzip",'
    '"vary":"Accept-Encoding","x-powered-by":"PHP/7.4","pragma":"no-cache",'
    '"expires":"Thu, 01 Jan 1970 00:00:00 GMT","cache-control":"no-cache, no-store, '
    'must-revalidate","cache-control":"max-age=0, private","cache-control":"public, '
    'max-age=600","last-modified":"Mon, Tue, Wed, Thu, Fri, Sat, Sun, Jan Feb Mar Apr May '
    'Jun Jul Aug Sep Oct Nov Dec 2024 GMT","etag":"W/\\"","set-cookie":"; path=/; HttpOnly; '
    'Secure; SameSite=Lax","location":"https://","refresh":"0;url=","server":"nginx",'
    '"server":"openresty","server":"Apache","server":"cloudflare","server":"Tengine",'
    '"server":"BaseHTTP/0.6 Python/3.","content-type":"text/plain; charset=utf-8",'
    '"content-type":"application/json","content-type":"text/html; charset=UTF-8",'
    '"content-type":"text/html; charset=GBK","content-type":"text/html",{"content-length":"'
    '","date":"","content-type":"text/html; charset=utf-8"}')
_MEMORY_V1 = (
    '{"version":1,"error":"","pending_delisted":{},"rotating":[],"bumped":[],'
    '"volatile_lists":[],"list_paths":[],"items":{"http://":{"capture_id":,"at":"20'
    'T00:00:00+00:00","items":[["",""]]}},"listings":{"http://":{"capture_id":,"at":"20'
    'T06:00:00+00:00","links":[["https://",""],["http://","body>div.'
    '>div.main>div#content>ul.list>li.item-0>a"]]}},"listing":"pagination",'
    '"edited_open":[],"vpaths":{"body>div>div#main>div.content>ol>li.post-0":1},'
    '{"keys":{"":1,"":2,"":3,"":1,"":1},"vpaths":{},"oks":1,"ok_sha":"')
_TAGS = {1: _HEADERS_V1, 2: _MEMORY_V1}
DICTIONARIES = {"headers": 1, "memory": 2}
_FORMAT = zstandard.FORMAT_ZSTD1_MAGICLESS     # the tag byte says what follows: 4 bytes less
_LEVEL = 9


def _zdict(tag: int) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(_TAGS[tag].encode("utf-8"),
                                         dict_type=zstandard.DICT_TYPE_RAWCONTENT)


_PACKERS = {tag: zstandard.ZstdCompressor(
    dict_data=_zdict(tag), compression_params=zstandard.ZstdCompressionParameters.from_level(
        _LEVEL, format=_FORMAT, write_checksum=0, write_dict_id=0, write_content_size=1))
    for tag in _TAGS}
_UNPACKERS = {tag: zstandard.ZstdDecompressor(dict_data=_zdict(tag), format=_FORMAT)
              for tag in _TAGS}


def pack_json(value: object, dictionary: str) -> bytes:
    """*value* as stored in a ``PackedJSON`` column: its compact JSON (UTF-8), or, when
    shorter, a tag byte naming the *dictionary* and the JSON zstd-compressed against it.
    JSON text never starts with a byte below 0x09, so the two cannot be confused.

    >>> headers = {"content-type": "text/html; charset=utf-8", "server": "nginx"}
    >>> packed = pack_json(headers, "headers")
    >>> packed[0], len(packed) < len(json.dumps(headers)) // 2, unpack_json(packed) == headers
    (1, True, True)
    >>> pack_json({}, "memory"), unpack_json(b'{"oks": 1}')
    (b'{}', {'oks': 1})
    """
    raw = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    tag = DICTIONARIES[dictionary]
    packed = bytes((tag,)) + _PACKERS[tag].compress(raw)
    return packed if len(packed) < len(raw) else raw


def unpack_json(stored: bytes | memoryview | str) -> object:
    """A ``PackedJSON`` value back (see `pack_json`); ``json.JSONDecodeError`` when the
    stored bytes are damaged, as for a damaged JSON column.

    >>> try:
    ...     unpack_json(bytes((1, 0xff, 0xff)))
    ... except json.JSONDecodeError as exc:
    ...     print(exc.msg.split(" (")[0])
    a packed JSON value does not decode
    """
    # text: a value SQLite was handed as text (typeless columns), read as plain JSON
    stored = stored.encode("utf-8") if isinstance(stored, str) else bytes(stored)
    unpacker = _UNPACKERS.get(stored[0]) if stored else None
    if unpacker is not None:
        try:
            stored = unpacker.decompress(stored[1:])
        except zstandard.ZstdError as exc:
            raise json.JSONDecodeError(f"a packed JSON value does not decode ({exc})",
                                       "", 0) from None
    try:
        return json.loads(stored)
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"a packed JSON value is not UTF-8 ({exc})", "", 0) \
            from None


class PackedJSON(TypeDecorator):
    """A JSON value (dict or list) stored as `pack_json` bytes: read and written as the
    value itself, so code using the column never sees the bytes.  Not for a column that
    SQL must look into (a WHERE clause, an index): the database sees only bytes."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, dictionary: str) -> None:
        super().__init__()
        if dictionary not in DICTIONARIES:
            raise ValueError(f"no JSON dictionary {dictionary!r}")
        self.dictionary = dictionary

    def process_bind_param(self, value: object, dialect: Dialect) -> bytes | None:
        return None if value is None else pack_json(value, self.dictionary)

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> object:
        return None if value is None else unpack_json(value)


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
