"""The snapshot store: targets, rounds, captures, content blobs, links.

``open_store(data_dir, db_url)`` is the entry point; see ``repo.Store`` for the API.
Imports nothing of ours outside this package.
"""

from __future__ import annotations

from pathlib import Path

from snapshots.db import default_url, make_engine
from snapshots.migrate import upgrade
from snapshots.repo import Store


def open_store(data_dir: str | Path = "takedown-data", db_url: str | None = None) -> Store:
    """Open (creating and migrating as needed) the store for *data_dir* or *db_url*."""
    engine = make_engine(db_url or default_url(data_dir))
    upgrade(engine)
    return Store(engine)


__all__ = ["Store", "open_store"]
