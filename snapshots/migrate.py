"""Schema migrations (Alembic), run from code so no ``alembic.ini`` is needed.

``check_database(url, create=…)`` looks before anything is written: a database that is not
this code's store is refused (`StoreError`), never migrated into.  Rules:

- no database (a SQLite file that does not exist) or one without tables (but the
  scheduler's): a new store, made only when *create* (``crawl``, ``demo``, ``schedule``,
  ``worker``);
  otherwise `StoreMissing`;
- tables but no ``alembic_version``: another program's database;
- a revision none of ``migrations/versions`` names: a newer release's store, or a damaged
  version row (migrating would fail halfway);
- a file that is not SQLite, a folder, a server that refuses: said in one line.

``upgrade(engine)`` then brings any store, new or made by an older schema, to the newest
revision.  Imports only ``snapshots``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from snapshots.db import shown_url, sqlite_file
from snapshots.errors import StoreError, StoreMissing, StoreURLError

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"
# Tables the rest of takedown keeps in the store's database, which may come first: the
# scheduler's jobs (``takedown.schedule.JOB_TABLE``).  They make no store, and no stranger.
SIDE_TABLES = frozenset({"schedule_jobs"})
HINT = "run takedown crawl first"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                        .replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    """Every revision of ``migrations/versions``."""
    return {r.revision for r in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}


def check_database(url: str, *, create: bool) -> None:
    """Refuse *url* unless it holds this code's store (or nothing, when *create*); see the
    module docstring.  Reads only: nothing is created, locked or migrated."""
    path = sqlite_file(url)
    if path is None and url.lower().startswith("sqlite"):
        raise StoreURLError(f"{shown_url(url)} is an in-memory database: it keeps nothing once "
                            "the command ends; give a file (sqlite:///PATH) or leave --db out")
    if path is not None and not _sqlite_file_exists(path, create):
        return
    where = str(path) if path is not None else shown_url(url)
    tables, revision = _contents(url, where)
    tables -= SIDE_TABLES
    if not tables:
        if not create:
            raise StoreMissing(f"no store in {where} ({HINT})")
        return
    if VERSION_TABLE not in tables:
        listed = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(f"{where} is not a takedown store: it holds other tables "
                         f"({listed})")
    if revision is None:
        raise StoreError(f"{where} is not a takedown store: its {VERSION_TABLE} is empty")
    if revision not in known_revisions():
        raise StoreError(f"{where}: schema revision {revision!r} is unknown to this version "
                         "of takedown (a newer version's store, or a damaged alembic_version)")


def _sqlite_file_exists(path: Path, create: bool) -> bool:
    """Whether there is a file to look into; connecting would create a missing one."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a SQLite database file")
    if path.exists():
        return True
    if not create:
        raise StoreMissing(f"no store at {path} ({HINT})")
    return False


def _contents(url: str, where: str) -> tuple[set[str], str | None]:
    """The tables of the database at *url* and its Alembic revision, read over a plain
    connection (no pragmas: a foreign SQLite file is not even switched to WAL)."""
    try:
        engine = create_engine(url)
    except Exception as exc:  # a bad URL, a driver that is not installed
        raise StoreURLError(f"cannot open database {where}: {exc}") from exc
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            revision = MigrationContext.configure(conn).get_current_revision() \
                if VERSION_TABLE in tables else None
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {where}: {reason(exc)}") from exc
    finally:
        engine.dispose()
    return tables, revision


def reason(exc: SQLAlchemyError) -> str:
    """The driver's own words for *exc*, on one line (no SQL, no background link)."""
    text = str(getattr(exc, "orig", None) or exc)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
