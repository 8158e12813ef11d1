"""Verification of a whole store (``takedown check``): read-only queries, one finding per line.

``open_for_check`` opens an existing store without creating or migrating it (a missing
store is `StoreMissing`); ``check_store`` runs every check below and returns a
`CheckReport`.  Each finding is a `Problem` of one kind:

- ``schema``: the store's Alembic revision (``alembic_version``) is not the code's head.
  An older one is upgraded in place by any other command; an unknown one is a newer
  release's store or a damaged version row.  The other checks assume the head schema.
- ``sqlite``: SQLite's own ``PRAGMA integrity_check`` (SQLite stores only).
- ``blob``: a blob that does not decode with its codec, or whose decoded bytes are not
  ``size`` long, or whose SHA-256 is not its key (the key is the hash of the raw,
  uncompressed content, as ``snapshots.blobs.pack`` computes it), or a delta (``zdelta``)
  whose base blob is missing.  A delta is decoded through its base, as every reader does.
  Blobs are read in key order, ``BATCH`` at a time, each batch in a short transaction of
  its own: memory holds one batch (and a bounded cache of bases) whatever the store's size,
  and a crawl writing meanwhile is never blocked.
- ``link_set``: a page's stored link list that does not decode, or whose JSON does not
  hash to its key, or whose length is not its ``count``.  Read like blobs.
- ``orphan``: a reference declared by the models (every foreign key: a capture's body and
  text blobs and link set, URL, target and round; a delta's base blob; a verdict's or
  takedown's capture; …) that points at no row.  The database enforces these on write, so
  one found here was written with the checks off, restored from a partial copy or edited
  by hand.
- ``json``: a JSON column (a target's spec, a round's stats, a verdict's detail …) whose
  stored text does not parse, or a packed JSON column (a capture's headers, the detector's
  memories) whose bytes do not decode to JSON: written by hand or by another tool; the
  commands that read it would stop on it.
- ``round``: a round left ``running`` by a dead crawl (rule below).
- ``check_failed``: a check that could not run (a table an older schema lacks); the
  others still run, each in its own connection.

Running rounds.  A round is ``running`` from ``Store.begin_round`` until its crawl closes
it; a killed crawl leaves it so until the next crawl marks it ``interrupted``, and until
then ``detect`` skips it.  Rounds record no process id or host, so a dead crawl cannot be
told from a live one directly.  The rule: a round's last sign of life is the later of its
start and the newest fetch it committed (a crawl commits every page as it is fetched, so a
live one shows activity at least once per request timeout with its retries); a running
round idle for ``stale_after`` (default one hour) is a problem, a younger one is listed as
running, not as a problem, since it may be a crawl in progress.  ``stale_after`` zero
reports every running round (for a store nothing should be crawling).

Imports only ``snapshots``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import zstandard
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    LargeBinary,
    Select,
    Text,
    cast,
    func,
    inspect,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from snapshots import blobs as blobcodec
from snapshots.db import Base, PackedJSON, default_url, make_engine, shown_url, unpack_json
from snapshots.errors import StoreMissing, StoreURLError
from snapshots.migrate import alembic_config
from snapshots.models import Blob, Capture, LinkSet, Round, Takedown, Target, Url, Verdict
from snapshots.repo import KEYFRAME_CACHE, KeyframeCache

BATCH = 64
STALE_AFTER = timedelta(hours=1)
EXAMPLES = 5
COUNTED = {"blobs": Blob, "captures": Capture, "rounds": Round, "targets": Target,
           "URLs": Url, "verdicts": Verdict, "takedowns": Takedown}
T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    """One finding: its kind (see the module docstring) and a line naming it."""

    kind: str
    message: str


@dataclass(frozen=True)
class RunningRound:
    """A round still ``running``: its last sign of life and whether that is too old."""

    id: int
    at: datetime
    started_at: datetime
    last_activity: datetime
    captures: int
    stale: bool

    def as_dict(self, now: datetime) -> dict:
        return {"round": self.id, "at": self.at.isoformat(),
                "started_at": self.started_at.isoformat(),
                "last_activity": self.last_activity.isoformat(),
                "idle_seconds": round((now - self.last_activity).total_seconds(), 1),
                "captures": self.captures, "stale": self.stale}


@dataclass
class CheckReport:
    """What ``check_store`` found; ``ok`` when no problem."""

    checked_at: datetime
    stale_after: timedelta
    revision: tuple[str, ...] = ()
    head: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    running: list[RunningRound] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: ``store OK: 3 blobs, 5 captures, …`` (or the problem count)."""
        counted = ", ".join(_count(n, what) for what, n in self.counts.items())
        head = f"store OK: {counted}" if self.ok else \
            f"store DAMAGED: {_count(len(self.problems), 'problems')} ({counted})"
        return head + f"; schema {'+'.join(self.revision) or 'unknown'}" + self._running_note()

    def _running_note(self) -> str:
        live = [r for r in self.running if not r.stale]
        if not live:
            return ""
        idle = ", ".join(f"round {r.id} last active {_ago(self.checked_at - r.last_activity)}"
                         " ago" for r in live)
        limit = _ago(self.stale_after)
        return f"; {len(live)} running ({idle}; reported once idle {limit})"

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked_at": self.checked_at.isoformat(),
                "schema": {"revision": list(self.revision), "head": list(self.head)},
                "counts": self.counts,
                "stale_after_seconds": self.stale_after.total_seconds(),
                "running": [r.as_dict(self.checked_at) for r in self.running],
                "problems": [{"kind": p.kind, "message": p.message} for p in self.problems]}


# -- opening ---------------------------------------------------------------------------------


def open_for_check(data_dir: str | Path = "takedown-data", db_url: str | None = None) -> Engine:
    """An engine on the existing store of *data_dir* or *db_url*; nothing is created or
    migrated.  `StoreMissing` where there is no store, `StoreURLError` where the database
    cannot be reached."""
    url = db_url or default_url(data_dir)
    _refuse_missing_file(url)
    engine = make_engine(url, read_only=True)
    shown = shown_url(url)
    try:
        tables = set(inspect(engine).get_table_names())
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreURLError(f"cannot open database {shown}: {_first_line(exc)}") from exc
    if not tables & {"alembic_version", Capture.__tablename__}:
        engine.dispose()
        raise StoreMissing(f"no takedown store in {shown} (no tables of one; nothing created)")
    return engine


def _refuse_missing_file(url: str) -> None:
    """A SQLite file that does not exist would be created by connecting to it."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreURLError(f"not a database URL: {shown_url(url)!r} ({exc})") from exc
    path = parsed.database
    if parsed.get_backend_name() == "sqlite" and path and path != ":memory:" \
            and not Path(path).is_file():
        raise StoreMissing(f"no store at {path} (nothing created)")


# -- checking --------------------------------------------------------------------------------


def check_store(engine: Engine, stale_after: timedelta = STALE_AFTER,
                now: datetime | None = None, batch: int = BATCH) -> CheckReport:
    """Run every check on the store behind *engine* (read-only)."""
    report = CheckReport(checked_at=now or datetime.now(UTC), stale_after=stale_after)
    found = report.problems
    report.head, report.revision = _heads(engine), _revision(engine, found)
    found += _schema_problems(engine, report.revision, report.head)
    report.counts = _guarded("counts", found, lambda: _counts(engine)) or {}
    if engine.dialect.name == "sqlite":
        found += _guarded("sqlite", found, lambda: _sqlite_problems(engine)) or []
    found += _guarded("blobs", found, lambda: list(_blob_problems(engine, batch))) or []
    found += _guarded("link sets", found,
                      lambda: list(_link_set_problems(engine, batch))) or []
    found += _guarded("json", found, lambda: list(_json_problems(engine, batch))) or []
    for child, parent in references():
        check = _orphan_check(engine, child, parent)
        found += _guarded(f"{child.table.name}.{child.name}", found, check) or []
    report.running = _guarded("rounds", found,
                              lambda: _running(engine, report.checked_at, stale_after)) or []
    found += [_stale_problem(r, report.checked_at) for r in report.running if r.stale]
    return report


def _guarded(what: str, found: list[Problem], run: Callable[[], T]) -> T | None:
    """*run*'s result; a database error becomes a ``check_failed`` problem instead."""
    try:
        return run()
    except SQLAlchemyError as exc:
        found.append(Problem("check_failed", f"{what}: could not be checked: "
                                             f"{_first_line(exc)}"))
        return None


def _heads(engine: Engine) -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def _revision(engine: Engine, found: list[Problem]) -> tuple[str, ...]:
    def read() -> tuple[str, ...]:
        with engine.connect() as conn:
            return tuple(MigrationContext.configure(conn).get_current_heads())

    return _guarded("schema", found, read) or ()


def _schema_problems(engine: Engine, revision: tuple[str, ...],
                     head: tuple[str, ...]) -> list[Problem]:
    if set(revision) == set(head):
        return []
    want = "+".join(head)
    if not revision:
        return [Problem("schema", f"schema: no revision in alembic_version (code's head is "
                                  f"{want}): not made by takedown's migrations?")]
    script = ScriptDirectory.from_config(alembic_config(engine))
    known = {r.revision for r in script.walk_revisions()}
    unknown = [r for r in revision if r not in known]
    if unknown:
        return [Problem("schema", f"schema: revision {'+'.join(unknown)} is unknown to this "
                                  f"code (head {want}): a newer release's store, or a damaged "
                                  "alembic_version")]
    return [Problem("schema", f"schema: revision {'+'.join(revision)} is older than the "
                              f"code's head {want} (any other takedown command upgrades it "
                              "in place)")]


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {what: conn.scalar(select(func.count()).select_from(model)) or 0
                for what, model in COUNTED.items()}


def _sqlite_problems(engine: Engine) -> list[Problem]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("PRAGMA integrity_check").scalars().all()
    return [] if rows == ["ok"] else [Problem("sqlite", f"sqlite: {r}") for r in rows]


# -- JSON columns ----------------------------------------------------------------------------


def _json_problems(engine: Engine, batch: int) -> Iterator[Problem]:
    """Rows whose JSON columns hold text that does not parse, or whose packed JSON columns
    (`PackedJSON`) hold bytes that do not decode to JSON, read raw *batch* rows at a time in
    key order (a column read through its type would raise at the first)."""
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, JSON | PackedJSON)]
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        raw = [cast(c, Text) if isinstance(c.type, JSON) else type_coerce(c, LargeBinary)
               for c in columns]
        q = select(*keys, *raw).order_by(*keys).limit(batch)
        last: tuple | None = None
        while True:
            page = q if last is None else q.where(tuple_(*keys) > tuple_(*last))
            with engine.connect() as conn:
                rows = conn.execute(page).all()
            if not rows:
                break
            for row in rows:
                name = ", ".join(str(v) for v in row[:len(keys)])
                for column, value in zip(columns, row[len(keys):], strict=True):
                    problem = _json_problem(table.name, column, name, value)
                    if problem is not None:
                        yield problem
            last = tuple(rows[-1][:len(keys)])


def _json_problem(table: str, column: Column, row: str,
                  value: str | bytes | None) -> Problem | None:
    if value is None:
        return None
    if isinstance(column.type, PackedJSON):
        try:
            unpack_json(value)
        except ValueError as exc:
            shown = bytes(value[:20]) if not isinstance(value, str) else value[:40]
            return Problem("json", f"json: {table}.{column.name} of row {row} does not "
                                   f"decode ({shown!r}): {exc}")
        return None
    if not _parses(value):
        return Problem("json", f"json: {table}.{column.name} of row {row} is not JSON "
                               f"({value[:40]!r})")
    return None


def _parses(raw: str) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


# -- blobs -----------------------------------------------------------------------------------


def blob_batches(engine: Engine, batch: int = BATCH) -> Iterator[Sequence[Row]]:
    """Every blob as (sha256, codec, size, base_sha256, data) rows, *batch* at a time in
    key order."""
    return _batches(engine, select(Blob.sha256, Blob.codec, Blob.size, Blob.base_sha256,
                                   Blob.data), Blob.sha256, batch)


def _batches(engine: Engine, q: Select, key: Column, batch: int) -> Iterator[Sequence[Row]]:
    q = q.order_by(key).limit(batch)
    last = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(q.where(key > last)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def blob_problem(sha: str, codec: str, size: int, data: bytes,
                 base: bytes | None = None) -> Problem | None:
    """What is wrong with one stored blob, or None.

    >>> key, codec, packed = blobcodec.pack(b"page")
    >>> blob_problem(key, codec, 4, packed) is None
    True
    >>> blob_problem(key, "raw", 4, b"Page").message.split(": ")[1][:17]
    'content hashes to'
    >>> blob_problem(key, "zstd", 3, packed).message.split(": ")[1].split(" [")[0]
    '4 bytes decoded, 3 recorded'
    """
    short = f"{sha[:12]}…"
    try:
        raw = blobcodec.unpack(codec, bytes(data), None, base)
    except (ValueError, zstandard.ZstdError) as exc:
        return Problem("blob", f"blob {short}: cannot be decoded ({codec}): {exc} [{sha}]")
    actual = blobcodec.sha256_hex(raw)
    if actual != sha:
        return Problem("blob", f"blob {short}: content hashes to {actual}, not its key [{sha}]")
    if len(raw) != size:
        return Problem("blob", f"blob {short}: {len(raw)} bytes decoded, {size} recorded "
                               f"[{sha}]")
    return None


def _blob_problems(engine: Engine, batch: int) -> Iterator[Problem]:
    bases = KeyframeCache(KEYFRAME_CACHE)
    for rows in blob_batches(engine, batch):
        for sha, codec, size, base_sha, data in rows:
            base = None if base_sha is None else _base(engine, bases, base_sha,
                                                       full=codec != blobcodec.DELTA)
            if base_sha is not None and base is None:
                yield Problem("blob", f"blob {sha[:12]}…: its base {base_sha[:12]}… is "
                                      f"missing or damaged, so it cannot be decoded [{sha}]")
                continue
            problem = blob_problem(sha, codec, size, data, base)
            if problem is not None:
                yield problem


def _base(engine: Engine, cache: KeyframeCache, sha: str, full: bool = False) -> bytes | None:
    """A delta's base decoded (None when it is missing or does not decode): a full blob, or
    unless *full* a ``zsibling`` keyframe whose own base is full (chains of three frames at
    most)."""
    raw = cache.get(sha)
    if raw is None:
        with engine.connect() as conn:
            row = conn.execute(select(Blob.codec, Blob.base_sha256, Blob.data)
                               .where(Blob.sha256 == sha)).first()
        if row is None or (row[1] is not None and (full or row[0] != blobcodec.SIBLING)):
            return None
        parent = None if row[1] is None else _base(engine, cache, row[1], full=True)
        try:
            raw = blobcodec.unpack(row[0], bytes(row[2]), None, parent)
        except (ValueError, zstandard.ZstdError):
            raw = None
        if raw is not None:
            cache.put(sha, raw)
    return raw


def _link_set_problems(engine: Engine, batch: int) -> Iterator[Problem]:
    q = select(LinkSet.sha256, LinkSet.count, LinkSet.data)
    bases = KeyframeCache(KEYFRAME_CACHE // 8)
    for rows in _batches(engine, q, LinkSet.sha256, batch):
        for sha, count, data in rows:
            base_sha = _link_base_key(bytes(data))
            base = None if base_sha is None else _link_base(engine, bases, base_sha)
            if base_sha is not None and base is None:
                yield Problem("link_set", f"link set {sha[:12]}…: its base {base_sha[:12]}… "
                                          f"is missing, damaged or not full [{sha}]")
                continue
            problem = link_set_problem(sha, count, bytes(data), base)
            if problem is not None:
                yield problem


def _link_base_key(data: bytes) -> str | None:
    try:
        found = blobcodec.links_base(data)
    except ValueError:      # link_set_problem says it does not decode
        return None
    return None if found is None else found[0]


def _link_base(engine: Engine, cache: KeyframeCache, sha: str) -> bytes | None:
    """A delta link set's base, a full set, as JSON (None when missing, damaged or a
    delta itself: a read decodes two frames at most)."""
    raw = cache.get(sha)
    if raw is not None:
        return raw
    with engine.connect() as conn:
        data = conn.execute(select(LinkSet.data).where(LinkSet.sha256 == sha)).scalar()
    try:
        if data is None or blobcodec.links_base(bytes(data)) is not None:
            return None
        raw = blobcodec.unpack_links_json(bytes(data))
    except (ValueError, zstandard.ZstdError):
        return None
    if blobcodec.sha256_hex(raw) != sha:
        return None
    cache.put(sha, raw)
    return raw


def link_set_problem(sha: str, count: int, data: bytes,
                     base: bytes | None = None) -> Problem | None:
    """What is wrong with one stored link set (a delta with its *base*'s JSON), or None.

    >>> key, n, packed = blobcodec.pack_links([("http://x/", "x")])
    >>> link_set_problem(key, n, packed) is None, link_set_problem(key, 2, packed).kind
    (True, 'link_set')
    """
    short = f"{sha[:12]}…"
    try:
        links = blobcodec.unpack_links(data, base)
    except (ValueError, TypeError, zstandard.ZstdError) as exc:
        return Problem("link_set", f"link set {short}: cannot be decoded: {exc} [{sha}]")
    actual = blobcodec.sha256_hex(blobcodec.links_json(links))
    if actual != sha:
        return Problem("link_set", f"link set {short}: hashes to {actual}, not its key "
                                   f"[{sha}]")
    if len(links) != count:
        return Problem("link_set", f"link set {short}: {len(links)} links decoded, {count} "
                                   f"recorded [{sha}]")
    return None


# -- references ------------------------------------------------------------------------------


def references() -> list[tuple[Column, Column]]:
    """(referring column, referred column) for every foreign key of the models."""
    return [(fk.parent, fk.column) for table in Base.metadata.sorted_tables
            for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name)]


def _orphan_check(engine: Engine, child: Column,
                  parent: Column) -> Callable[[], list[Problem]]:
    # a table referring to itself (a delta's base blob) needs the parent under an alias
    target = parent.table.alias("parent").c[parent.name] if parent.table is child.table \
        else parent

    def run() -> list[Problem]:
        dangling = select(child).where(child.is_not(None),
                                       ~select(target).where(target == child).exists())
        with engine.connect() as conn:
            n = conn.scalar(select(func.count()).select_from(dangling.subquery()))
            if not n:
                return []
            shown = conn.scalars(dangling.distinct().order_by(child)
                                 .limit(EXAMPLES + 1)).all()
        more = ", …" if len(shown) > EXAMPLES else ""
        verb = "points" if n == 1 else "point"
        return [Problem("orphan", f"{child.table.name}.{child.name}: {_count(n, 'rows')} "
                                  f"{verb} at a missing {parent.table.name}.{parent.name} "
                                  f"({', '.join(map(str, shown[:EXAMPLES]))}{more})")]
    return run


# -- rounds ----------------------------------------------------------------------------------


def _running(engine: Engine, now: datetime, stale_after: timedelta) -> list[RunningRound]:
    q = (select(Round.id, Round.at, Round.started_at, func.max(Capture.fetched_at),
                func.count(Capture.id))
         .outerjoin(Capture, Capture.round_id == Round.id)
         .where(Round.status == "running").group_by(Round.id).order_by(Round.id))
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    out = []
    for rid, at, started, fetched, n in rows:
        last = max(started, fetched) if fetched is not None else started
        stale = not stale_after or now - last >= stale_after
        out.append(RunningRound(rid, at, started, last, n, stale))
    return out


def _stale_problem(r: RunningRound, now: datetime) -> Problem:
    return Problem("round", f"round {r.id} (at {r.at.isoformat()}) is still running, last "
                            f"active {_ago(now - r.last_activity)} ago with "
                            f"{_count(r.captures, 'captures')}: its crawl is dead or stalled; "
                            "detect skips the round until the next crawl marks it interrupted")


def _ago(span: timedelta) -> str:
    """A short duration: ``45s``, ``12m``, ``3h05m``, ``2d04h``.

    >>> [_ago(timedelta(seconds=s)) for s in (4.2, 750, 11100, 187200)]
    ['4s', '12m', '3h05m', '2d04h']
    """
    s = max(0, int(span.total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def _count(n: int, plural: str) -> str:
    """*n* and a plural noun, made singular for one.

    >>> _count(1, "URLs"), _count(2, "blobs")
    ('1 URL', '2 blobs')
    """
    return f"{n} {plural[:-1] if n == 1 else plural}"


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
