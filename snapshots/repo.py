"""Typed reads and writes of the snapshot store.

``Store`` is the only way the other packages touch the database: the crawler records
captures through it, the diff engine and the reports read through it.  Every capture is
written in one transaction (its blobs, its row, its links, its URL's liveness), so a killed
process leaves either the whole capture or none of it.  Imports only ``snapshots``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    LargeBinary,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from snapshots import blobs as blobcodec
from snapshots.db import WRITES, as_utc, session_factory
from snapshots.errors import StoreError
from snapshots.models import Blob, Capture, Link, Round, Target, Url, VolatileParam
from snapshots.records import CaptureRow, NewCapture, Stored
from snapshots.vocab import State, status_state

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def first_state(c: NewCapture) -> State:
    """The crawler's first reading of a fetch; the diff engine refines it.

    >>> str(first_state(NewCapture("t", "http://x/", 0, "seed", utcnow(), status=451)))
    'notice'
    """
    if c.error_kind == "dataloss":   # cut off before its end: no evidence of anything
        return State.FAILED
    return status_state(c.status)


class Store:
    """The snapshot store over one engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = session_factory(engine)
        self._writes = session_factory(engine.execution_options(**{WRITES: True}))
        self._url_ids: dict[tuple[int, str], int] = {}
        self._known_blobs: set[str] = set()
        self._sql = _Statements(engine.dialect.name)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session inside one write transaction, committed on leaving (rolled back on an
        exception); on SQLite it holds the write lock from its start (see `snapshots.db`)."""
        with self._writes() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # -- targets and rounds ------------------------------------------------------------
    def ensure_targets(self, specs: Iterable[tuple[str, str, dict]]) -> dict[str, int]:
        """Insert or update targets by name; returns name → id."""
        ids: dict[str, int] = {}
        with self.writing() as s:
            for name, url, spec in specs:
                row = s.scalar(select(Target).where(Target.name == name))
                if row is None:
                    row = Target(name=name, url=url, spec=spec, created_at=utcnow())
                    s.add(row)
                    s.flush()
                else:
                    row.url, row.spec = url, spec
                ids[name] = row.id
        return ids

    def latest_round(self) -> tuple[int, datetime] | None:
        """(id, stamp) of the round stamped latest, or None in a store without rounds."""
        with self.session() as s:
            row = s.execute(select(Round.id, Round.at)
                            .order_by(Round.at.desc(), Round.id.desc()).limit(1)).first()
        return None if row is None else (row[0], as_utc(row[1]))

    def round_at(self, round_id: int) -> datetime | None:
        """The stamp of round *round_id*; None when the store holds no such round."""
        with self.session() as s:
            at = s.scalar(select(Round.at).where(Round.id == round_id))
        return None if at is None else as_utc(at)

    def last_round_id(self) -> int:
        """The highest round id; 0 in a store without rounds."""
        with self.session() as s:
            return s.scalar(select(func.max(Round.id))) or 0

    def rounds_since(self, after_id: int) -> list[tuple[int, str, dict]]:
        """(id, status, stats) of every round with an id above *after_id*, in id order."""
        with self.session() as s:
            rows = s.execute(select(Round.id, Round.status, Round.stats)
                             .where(Round.id > after_id).order_by(Round.id))
            return [(rid, status, stats or {}) for rid, status, stats in rows]

    def begin_round(self, at: datetime, watchlist: str = "") -> int:
        """Open a round stamped *at*; rounds left running by a killed crawl are closed."""
        with self.writing() as s:
            for r in s.scalars(select(Round).where(Round.status == "running")):
                r.status = "interrupted"
            row = Round(at=at, started_at=utcnow(), status="running", watchlist=watchlist)
            s.add(row)
            s.flush()
            return row.id

    def finish_round(self, round_id: int, stats: dict, status: str = "done") -> None:
        """Close a round: ``done``, or ``interrupted`` when its crawl was stopped early (a
        signal, a shutdown) — its captures stand, the URLs it did not reach wait for the
        next round."""
        with self.writing() as s:
            row = s.get(Round, round_id)
            row.status, row.finished_at, row.stats = status, utcnow(), stats

    def urls_to_revisit(self, target_id: int, at: datetime, days: int) -> list[tuple[str, int]]:
        """URLs of a target seen alive within *days* before *at*, as (url, depth)."""
        since = at - timedelta(days=days)
        q = select(Url.url, Url.depth).where(
            Url.target_id == target_id, Url.role == "page", Url.last_alive.is_not(None),
            Url.last_alive >= since,
        ).order_by(Url.id)
        with self.session() as s:
            return [(u, d) for u, d in s.execute(q)]

    # -- writing captures ----------------------------------------------------------------
    def preload(self, target_ids: Iterable[int]) -> None:
        """Cache the URL ids of *target_ids* and the blob keys of the last round, so that
        recording a capture of a known, unchanged page costs no look-up."""
        ids = list(target_ids)
        with self.engine.connect() as conn:
            for tid, url, uid in conn.execute(select(Url.target_id, Url.url, Url.id)
                                              .where(Url.target_id.in_(ids))):
                self._url_ids[(tid, url)] = uid
            last = conn.scalar(select(func.max(Round.id)).where(Round.status == "done"))
            if last is not None:
                for body, txt in conn.execute(select(Capture.body_sha256, Capture.text_sha256)
                                              .where(Capture.round_id == last)):
                    self._known_blobs.update(k for k in (body, txt) if k)

    def record_capture(self, round_id: int, target_id: int, at: datetime,
                       c: NewCapture) -> Stored | None:
        """Write one capture whole (blobs, row, links, liveness) or not at all.

        SQLAlchemy Core, one transaction: this runs once per fetched page, in the crawl's
        hot path."""
        state = first_state(c)
        try:
            with self.engine.begin() as conn:
                url_id, url_new = self._url_id(conn, target_id, c, at)
                body_sha, text_sha, added = self._put_bodies(conn, c)
                cap_id = conn.execute(self._sql.insert_capture, _capture_values(
                    c, round_id, url_id, target_id, at, state.value, body_sha, text_sha)
                ).inserted_primary_key[0]
                if c.links:
                    conn.execute(self._sql.insert_link, [
                        {"capture_id": cap_id, "position": i, "url": u[:4000], "text": t[:500]}
                        for i, (u, t) in enumerate(c.links)])
                if state is State.OK:
                    conn.execute(self._sql.mark_alive, {"uid": url_id, "at": at})
        except IntegrityError as exc:
            # The same URL twice in one round (two links normalising alike after a
            # parameter was learned): the first capture stands.
            log.warning("capture of %s not recorded twice in round %s: %s", c.url, round_id,
                        exc.orig)
            return None
        # cached only once committed: a rolled-back insert must not leave a dangling id
        if url_new:
            self._url_ids[(target_id, c.url)] = url_id
        self._known_blobs.update(added)
        return Stored(cap_id, state, len(added), len(c.body or b""))

    def round_fetch(self, round_id: int, url: str) -> NewCapture | None:
        """The fetch of *url* (as watched) recorded in round *round_id* for any target, as
        a capture to record again for another target (same bodies, links, timing), or
        None when no target has it this round."""
        q = (select(Capture, Target.name).join(Url, Capture.url_id == Url.id)
             .join(Target, Capture.target_id == Target.id)
             .where(Capture.round_id == round_id, Url.url == url)
             .order_by(Capture.id).limit(1))
        with self.session() as s:
            found = s.execute(q).first()
            if found is None:
                return None
            cap, target = found
            links = tuple((u, t) for t, u in _links(s, cap.id))
            return _fetched(cap, target, url, links, self._maybe_blob)

    def _maybe_blob(self, sha: str | None) -> bytes | None:
        return None if sha is None else self.blob(sha)

    def round_counts(self, round_id: int) -> dict[str, dict[str, int]]:
        """What the store holds of round *round_id*, per target name: ``captures`` of
        watched pages, one count per state (``failed`` among them), their ``bytes``, and
        ``probes`` (not-found probe captures)."""
        q = (select(Target.name, Url.role, Capture.state, func.count(),
                    func.coalesce(func.sum(Capture.size), 0))
             .join(Url, Capture.url_id == Url.id).join(Target, Capture.target_id == Target.id)
             .where(Capture.round_id == round_id)
             .group_by(Target.name, Url.role, Capture.state))
        out: dict[str, dict[str, int]] = {}
        with self.session() as s:
            for name, role, state, n, size in s.execute(q):
                c = out.setdefault(name, {"captures": 0, "failed": 0, "bytes": 0,
                                          "probes": 0})
                if role == "probe":
                    c["probes"] += n
                    continue
                c["captures"] += n
                c["bytes"] += int(size)
                c[state] = c.get(state, 0) + n
        return out

    def _url_id(self, conn: Connection, target_id: int, c: NewCapture,
                at: datetime) -> tuple[int, bool]:
        cached = self._url_ids.get((target_id, c.url))
        if cached is not None:
            return cached, False
        # insert-or-ignore first: a URL missing from the preloaded cache is almost always
        # new, and one statement beats a look-up plus an insert
        new_id = conn.execute(self._sql.insert_url, {
            "target_id": target_id, "url": c.url, "depth": c.depth, "first_seen": at,
            "role": "probe" if c.via == "probe" else "page",
        }).scalar()
        if new_id is not None:
            return new_id, True
        found = conn.execute(self._sql.find_url, {"t": target_id, "u": c.url}).first()
        if c.depth < found.depth:
            conn.execute(update(Url.__table__).where(Url.id == found.id).values(depth=c.depth))
        return found.id, True

    def _put_bodies(self, conn: Connection,
                    c: NewCapture) -> tuple[str | None, str | None, list[str]]:
        """Store the raw body and the decoded text; returns their keys and the new ones."""
        added: list[str] = []
        body_sha = None if c.body is None else self._put_blob(conn, c.body, added)
        text_sha = None
        if c.text is not None:
            data = c.text.encode("utf-8")
            # a UTF-8 page's text is its body: one key serves both
            text_sha = body_sha if data == c.body else self._put_blob(conn, data, added)
        return body_sha, text_sha, added

    def _put_blob(self, conn: Connection, data: bytes, added: list[str]) -> str:
        sha = blobcodec.sha256_hex(data)
        if sha in self._known_blobs or sha in added:
            return sha
        _, codec, packed = blobcodec.pack(data)
        inserted = conn.execute(self._sql.insert_blob, {
            "sha256": sha, "size": len(data), "codec": codec, "data": packed}).rowcount
        if inserted:
            added.append(sha)
        return sha

    # -- learned session parameters --------------------------------------------------------
    def volatile_params(self) -> dict[str, set[str]]:
        """host → parameter names learned to carry session state."""
        out: dict[str, set[str]] = {}
        with self.session() as s:
            for host, name in s.execute(select(VolatileParam.host, VolatileParam.name)):
                out.setdefault(host, set()).add(name)
        return out

    def add_volatile_params(self, host: str, names: Iterable[str], evidence: dict) -> None:
        with self.writing() as s:
            for name in names:
                if s.get(VolatileParam, (host, name)) is None:
                    s.add(VolatileParam(host=host, name=name, learned_at=utcnow(),
                                        evidence=evidence.get(name, {})))

    def link_pairs(self, round_id: int) -> Iterator[tuple[str, list, list]]:
        """(page url, previous links, links now) for every capture of *round_id* whose URL
        also has an earlier capture with links."""
        with self.session() as s:
            now = s.execute(select(Capture.id, Capture.url_id, Url.url).join(Url)
                            .where(Capture.round_id == round_id)).all()
            for cap_id, url_id, url in now:
                prev = s.scalar(select(Capture.id).where(
                    Capture.url_id == url_id, Capture.round_id < round_id,
                    select(Link.capture_id).where(Link.capture_id == Capture.id).exists(),
                ).order_by(Capture.round_id.desc()).limit(1))
                if prev is not None:
                    yield url, _links(s, prev), _links(s, cap_id)

    def renormalise_urls(self, rewrite: Callable[[str], str]) -> int:
        """Apply *rewrite* to every stored URL, merging rows that now coincide.

        Used when a session parameter is learned: ``a?sid=1`` and ``a?sid=2`` become
        ``a``.  Where two merged rows were both captured in one round, the capture of the
        row that already had the canonical URL stands.  Returns the rows changed."""
        changed = 0
        with self.writing() as s:
            for row in s.scalars(select(Url).order_by(Url.id)).all():
                new_url = rewrite(row.url)
                if new_url == row.url:
                    continue
                changed += 1
                _merge_url(s, row, new_url)
        self._url_ids.clear()
        return changed

    # -- reading -------------------------------------------------------------------------
    def targets(self) -> list[dict]:
        q = (select(Target.name, Target.url, func.count(func.distinct(Url.id)),
                    func.count(Capture.id), func.max(Capture.captured_at))
             .select_from(Target)
             .outerjoin(Url, (Url.target_id == Target.id) & (Url.role == "page"))
             .outerjoin(Capture, Capture.url_id == Url.id)
             .group_by(Target.id).order_by(Target.name))
        with self.session() as s:
            return [{"name": n, "url": u, "urls": nu, "captures": nc,
                     "last_capture": as_utc(last).isoformat() if last else None}
                    for n, u, nu, nc, last in s.execute(q)]

    def rounds(self) -> list[dict]:
        """Every round; an interrupted one counts the captures it did commit (watched
        pages only: the not-found probes are not counted)."""
        counts = (select(Capture.round_id, func.count(),
                         func.sum(case((Capture.state == "failed", 1), else_=0)))
                  .join(Url, Capture.url_id == Url.id).where(Url.role == "page")
                  .group_by(Capture.round_id))
        with self.session() as s:
            stored = {rid: (n, int(f or 0)) for rid, n, f in s.execute(counts)}
            return [{"id": r.id, "at": as_utc(r.at).isoformat(), "status": r.status,
                     "started_at": as_utc(r.started_at).isoformat(),
                     "finished_at": as_utc(r.finished_at).isoformat() if r.finished_at else None,
                     "captures": stored.get(r.id, (0, 0))[0],
                     "new_blobs": r.stats.get("new_blobs"),
                     "failed": stored.get(r.id, (0, 0))[1],
                     "error": r.stats.get("error")}
                    for r in s.scalars(select(Round).order_by(Round.id))]

    def history(self, url: str) -> list[CaptureRow]:
        """Every capture of *url* (as watched), oldest first, across targets."""
        q = (select(Capture, Url.url, Target.name).join(Url, Capture.url_id == Url.id)
             .join(Target, Capture.target_id == Target.id)
             .where(Url.url == url).order_by(Capture.captured_at, Capture.id))
        with self.session() as s:
            return [_row(c, u, t) for c, u, t in s.execute(q)]

    def blob(self, sha256: str, limit: int | None = None) -> bytes:
        """A blob's bytes; with *limit*, its first *limit* bytes, reading no more of the
        stored row than that takes."""
        if limit is None:
            with self.session() as s:
                row = s.get(Blob, sha256)
                if row is None:
                    raise KeyError(sha256)
                return blobcodec.unpack(row.codec, row.data)
        with self.session() as s:
            found = s.execute(select(Blob.codec, stored_head(limit))
                              .where(Blob.sha256 == sha256)).first()
        if found is None:
            raise KeyError(sha256)
        return blobcodec.unpack(found[0], found[1], limit)

    def count(self, model: type) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(model)) or 0

    def integrity_problems(self, verify_blobs: bool = True) -> list[str]:
        """Everything wrong with the store; an empty list means consistent."""
        problems: list[str] = []
        with self.session() as s:
            if self.engine.dialect.name == "sqlite":
                res = s.execute(text("PRAGMA integrity_check")).scalars().all()
                if res != ["ok"]:
                    problems += [f"sqlite: {r}" for r in res]
                problems += [f"foreign key: {tuple(r)}"
                             for r in s.execute(text("PRAGMA foreign_key_check"))]
            problems += _orphans(s)
            if verify_blobs:
                problems += _bad_blobs(s)
        return problems


def stored_head(limit: int) -> ColumnElement[bytes]:
    """The stored bytes of a blob that decode to its first *limit* bytes, cut in SQL."""
    return func.substr(Blob.data, 1, blobcodec.stored_prefix(limit), type_=LargeBinary)


class _Statements:
    """The hot path's statements, built once (building them per capture costs more than
    running them).  Inserts that may meet an existing row use the dialect's ON CONFLICT."""

    def __init__(self, dialect: str) -> None:
        upsert = {"sqlite": sqlite_insert, "postgresql": pg_insert}.get(dialect)
        if upsert is None:
            raise StoreError(f"unsupported database dialect {dialect!r}")
        urls, blobs = Url.__table__, Blob.__table__
        self.insert_url = (upsert(urls).on_conflict_do_nothing(
            index_elements=["target_id", "url"]).returning(urls.c.id))
        # rowcount tells a new blob from one already there; without preserve_rowcount
        # psycopg's INSERT reports -1 (truthy), which counted every known blob as new
        self.insert_blob = upsert(blobs).on_conflict_do_nothing(
            index_elements=["sha256"]).execution_options(preserve_rowcount=True)
        self.find_url = select(urls.c.id, urls.c.depth).where(
            urls.c.target_id == bindparam("t"), urls.c.url == bindparam("u"))
        self.insert_capture = insert(Capture.__table__)
        self.insert_link = insert(Link.__table__)
        self.mark_alive = update(urls).where(
            urls.c.id == bindparam("uid"),
            or_(urls.c.last_alive.is_(None), urls.c.last_alive < bindparam("at"))
        ).values(last_alive=bindparam("at"))


def _capture_values(c: NewCapture, round_id: int, url_id: int, target_id: int,
                    at: datetime, state: str, body_sha: str | None,
                    text_sha: str | None) -> dict:
    return {
        "round_id": round_id, "url_id": url_id, "target_id": target_id, "captured_at": at,
        "fetched_at": c.fetched_at, "state": state, "status": c.status,
        "final_url": c.final_url, "redirects": [list(r) for r in c.redirects],
        "headers": dict(c.headers), "body_sha256": body_sha, "text_sha256": text_sha,
        "size": len(c.body or b""), "truncated": c.truncated, "content_type": c.content_type,
        "encoding": c.encoding, "error": c.error, "error_kind": c.error_kind,
        "attempts": c.attempts, "elapsed_ms": c.elapsed_ms, "via": c.via}


def _fetched(cap: Capture, target: str, url: str, links: tuple[tuple[str, str], ...],
             blob: Callable[[str | None], bytes | None]) -> NewCapture:
    """A stored capture back as the ``NewCapture`` it was recorded from."""
    body = blob(cap.body_sha256)
    text_raw = body if cap.text_sha256 == cap.body_sha256 else blob(cap.text_sha256)
    text = None if cap.text_sha256 is None or text_raw is None else text_raw.decode("utf-8")
    return NewCapture(
        target=target, url=url, depth=0, via=cap.via, fetched_at=as_utc(cap.fetched_at),
        status=cap.status, final_url=cap.final_url,
        redirects=tuple((int(st), u) for st, u in (cap.redirects or [])),
        headers=dict(cap.headers or {}), body=body, text=text, encoding=cap.encoding,
        content_type=cap.content_type, truncated=cap.truncated, error=cap.error,
        error_kind=cap.error_kind, attempts=cap.attempts, elapsed_ms=cap.elapsed_ms,
        links=links)


def _links(s: Session, capture_id: int) -> list[tuple[str, str]]:
    q = select(Link.text, Link.url).where(Link.capture_id == capture_id).order_by(Link.position)
    return [(t, u) for t, u in s.execute(q)]


def _merge_url(s: Session, row: Url, new_url: str) -> None:
    dest = s.scalar(select(Url).where(Url.target_id == row.target_id, Url.url == new_url))
    if dest is None:
        row.url = new_url
        s.flush()
        return
    dest_rounds = set(s.scalars(select(Capture.round_id).where(Capture.url_id == dest.id)))
    for cap in s.scalars(select(Capture).where(Capture.url_id == row.id)).all():
        if cap.round_id in dest_rounds:
            s.delete(cap)
        else:
            cap.url_id = dest.id
            dest_rounds.add(cap.round_id)
    dest.depth = min(dest.depth, row.depth)
    dest.first_seen = min(as_utc(dest.first_seen), as_utc(row.first_seen))
    alive = [as_utc(v) for v in (dest.last_alive, row.last_alive) if v is not None]
    dest.last_alive = max(alive) if alive else None
    s.flush()
    s.delete(row)
    s.flush()


def _row(c: Capture, url: str, target: str) -> CaptureRow:
    return CaptureRow(
        id=c.id, round_id=c.round_id, target=target, url=url,
        captured_at=as_utc(c.captured_at), state=c.state, status=c.status,
        final_url=c.final_url, size=c.size, body_sha256=c.body_sha256,
        truncated=c.truncated, error=c.error, error_kind=c.error_kind,
        redirects=list(c.redirects or []))


def _orphans(s: Session) -> list[str]:
    """Rows whose parents are missing (checked on every dialect)."""
    checks = {
        "capture without url": select(func.count()).select_from(Capture)
        .where(~select(Url.id).where(Url.id == Capture.url_id).exists()),
        "capture without round": select(func.count()).select_from(Capture)
        .where(~select(Round.id).where(Round.id == Capture.round_id).exists()),
        "capture without body blob": select(func.count()).select_from(Capture)
        .where(Capture.body_sha256.is_not(None),
               ~select(Blob.sha256).where(Blob.sha256 == Capture.body_sha256).exists()),
        "link without capture": select(func.count()).select_from(Link)
        .where(~select(Capture.id).where(Capture.id == Link.capture_id).exists()),
    }
    out = []
    for what, q in checks.items():
        n = s.scalar(q)
        if n:
            out.append(f"{n} {what}")
    return out


def _bad_blobs(s: Session) -> list[str]:
    out = []
    for sha, codec, size, data in s.execute(
            select(Blob.sha256, Blob.codec, Blob.size, Blob.data)).yield_per(200):
        raw = blobcodec.unpack(codec, data)
        if len(raw) != size or blobcodec.sha256_hex(raw) != sha:
            out.append(f"blob {sha} does not match its hash")
    return out


def record_dict(row: CaptureRow) -> dict:
    d = asdict(row)
    d["captured_at"] = row.captured_at.isoformat()
    return d
