"""Copy a store from one database to another, table by table, for tests.

``copy_store(src_url, dst_url)`` gives *dst_url* the real schema through snapshots' own
migrations (``open_store``), then copies every table of ``snapshots.models`` that the
source holds, parents before children, with SQLAlchemy Core bulk inserts, and moves each
PostgreSQL id sequence past the copied ids so later writes get fresh ones.  Used to put the
demo store (SQLite) into PostgreSQL once per test session.  Imports only ``snapshots``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Engine, Table, func, inspect, select, text

import snapshots.models  # noqa: F401 - registers the tables on Base.metadata
from snapshots import open_store
from snapshots.db import Base, make_engine
from snapshots.search import index_pending

log = logging.getLogger(__name__)

BATCH = 500


DETECTION_TABLES = frozenset({"verdicts", "takedowns", "detect_state", "detected_rounds"})
# The search index is never copied: its form differs by backend (SQLite keeps no page text,
# PostgreSQL indexes it), so the copy's own is filled from what was copied, as detect would.
SEARCH_TABLES = frozenset({"search_texts", "search_takedowns", "search_marks"})


def copy_store(src_url: str, dst_url: str, skip: frozenset[str] = frozenset(),
               targets: frozenset[str] = frozenset()) -> dict[str, int]:
    """Copy every row of the store at *src_url* into a fresh store at *dst_url*, but for the
    tables named in *skip* (``DETECTION_TABLES``: the crawls alone, for detecting afresh)
    and, when *targets* names some, the rows of other targets; return the number of rows
    copied per table."""
    open_store(db_url=dst_url).close()  # the schema by the migrations, not create_all
    src, dst = make_engine(src_url), make_engine(dst_url)
    try:
        present = set(inspect(src).get_table_names())
        counts: dict[str, int] = {}
        with src.connect() as read, dst.begin() as write:
            ids = _target_ids(read, targets)
            for table in Base.metadata.sorted_tables:  # FK order: parents first
                if table.name in present and table.name not in skip | SEARCH_TABLES:
                    counts[table.name] = _copy_table(read, write, table, ids)
            if write.dialect.name == "postgresql":
                reset_sequences(write)
        store = open_store(db_url=dst_url)
        try:
            with store.writing() as s:
                index_pending(store, s.connection())
        finally:
            store.close()
        log.info("copied %s rows from %s", sum(counts.values()), src.url.database)
        return counts
    finally:
        src.dispose()
        dst.dispose()


def _target_ids(read: Connection, names: frozenset[str]) -> list[int] | None:
    if not names:
        return None
    targets = Base.metadata.tables["targets"]
    ids = list(read.scalars(select(targets.c.id).where(targets.c.name.in_(names))))
    if len(ids) != len(names):
        raise ValueError(f"targets not in the store: {sorted(names)}")
    return ids


def _only(table: Table, ids: list[int]):  # type: ignore[no-untyped-def]
    """The clause keeping *table*'s rows of the targets *ids* (None: keep all)."""
    tables = Base.metadata.tables
    if table.name == "targets":
        return table.c.id.in_(ids)
    if "target_id" in table.c:
        return table.c.target_id.in_(ids)
    for column, parent in (("capture_id", "captures"), ("url_id", "urls")):
        if column in table.c:
            owner = tables[parent]
            return table.c[column].in_(select(owner.c.id).where(owner.c.target_id.in_(ids)))
    return None   # rounds, blobs, learned parameters: shared by every target


def _copy_table(read: Connection, write: Connection, table: Table,
                ids: list[int] | None = None) -> int:
    stamps = [c.name for c in table.columns if isinstance(c.type, DateTime)]
    order = list(table.primary_key.columns) or list(table.columns)
    query = select(table).order_by(*order)
    where = None if ids is None else _only(table, ids)
    rows = read.execute(query if where is None else query.where(where)).mappings()
    selfref = [fk for fk in table.foreign_keys if fk.column.table is table]
    if selfref:
        return _copy_in_reference_order(write, table, rows, selfref[0], stamps)
    total = 0
    while batch := rows.fetchmany(BATCH):
        records = [_with_utc(dict(r), stamps) for r in batch]
        write.execute(table.insert(), records)
        total += len(records)
    return total


def _copy_in_reference_order(write: Connection, table: Table, rows,  # type: ignore[no-untyped-def]
                             fk, stamps: list[str]) -> int:
    """Rows of a table referring to itself (a delta blob to its base, which may be a delta
    itself), each after the row it refers to: a foreign key is checked row by row."""
    ref, key = fk.parent.name, fk.column.name
    waiting = [_with_utc(dict(r), stamps) for r in rows]
    done: set = set()
    while waiting:
        ready = [r for r in waiting if r[ref] is None or r[ref] in done]
        if not ready:
            raise ValueError(f"{table.name}: rows refer to rows the source lacks")
        for start in range(0, len(ready), BATCH):
            write.execute(table.insert(), ready[start:start + BATCH])
        done |= {r[key] for r in ready}
        waiting = [r for r in waiting if r[key] not in done]
    return len(done)


def _with_utc(row: dict, stamps: list[str]) -> dict:
    # SQLite hands timestamps back naive (they are stored as UTC); PostgreSQL would read a
    # naive value in its session time zone, so say UTC explicitly.
    for name in stamps:
        value = row.get(name)
        if isinstance(value, datetime) and value.tzinfo is None:
            row[name] = value.replace(tzinfo=UTC)
    return row


def reset_sequences(conn: Connection) -> None:
    """Move every serial id sequence to the largest id its table holds, so the next insert
    without an explicit id does not collide with a copied row."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or pk[0].autoincrement is False or not _is_integer(pk[0]):
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": pk[0].name}).scalar()
        if seq is None:
            continue
        top = conn.execute(select(func.max(pk[0]))).scalar()
        # setval(seq, 1, false): an empty table's next id is 1
        conn.execute(text("SELECT setval(:s, :v, :called)"),
                     {"s": seq, "v": top or 1, "called": top is not None})


def _is_integer(column) -> bool:  # type: ignore[no-untyped-def]
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per model table present in *engine*'s database (for checking a copy)."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables if t.name in present}
