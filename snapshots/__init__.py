"""The snapshot store: targets, rounds, captures, content blobs, links.

``open_store(data_dir, db_url)`` is the entry point; see ``repo.Store`` for the API.  It
looks before it writes (``migrate.check_database``): only a caller that may make a store
(*create*) gets a new one, and a database that is not a takedown store is refused.
Imports nothing of ours outside this package.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from snapshots.db import DB_FILENAME, default_url, make_engine, shown_url
from snapshots.errors import StoreError, StoreMissing
from snapshots.migrate import HINT, check_database, reason, upgrade
from snapshots.repo import Store


def open_store(data_dir: str | Path = "takedown-data", db_url: str | None = None, *,
               create: bool = True) -> Store:
    """Open (migrating as needed) the store for *data_dir*, or *db_url* when given.

    Where there is none yet it is created, unless *create* is false: then `StoreMissing`.
    `StoreError` for anything else that is not a usable store, before anything is written.
    """
    url = check_place(data_dir, db_url, create=create)
    engine = make_engine(url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:  # a read-only file or folder, mostly
        engine.dispose()
        raise StoreError(f"cannot open the store at {shown_url(url)}: {reason(exc)}") from exc
    return Store(engine)


def check_place(data_dir: str | Path = "takedown-data", db_url: str | None = None, *,
                create: bool = True) -> str:
    """The database URL of the store `open_store` would open, once it is known to hold this
    code's store (or nothing, when *create*); reads only: nothing is created or migrated
    (a worker checks this at start-up, before the coordinator has made the store)."""
    if db_url is None:
        _check_data_dir(Path(data_dir), create)
    url = db_url or default_url(data_dir)
    check_database(url, create=create)
    return url


def _check_data_dir(data_dir: Path, create: bool) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreError(f"{data_dir} is a file, not a data folder")
    if not create and not (data_dir / DB_FILENAME).is_file():
        raise StoreMissing(f"no store at {data_dir} ({HINT})")


__all__ = ["Store", "check_place", "open_store"]
