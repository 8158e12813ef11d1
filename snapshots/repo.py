"""Typed reads and writes of the snapshot store.

``Store`` is the only way the other packages touch the database: the crawler records
captures through it, the diff engine and the reports read through it.  Every capture is
written in one transaction (its blobs, its row, its link set, its URL's liveness), so a
killed process leaves either the whole capture or none of it.

Bodies are stored as deltas: a new version of a URL's body (and of its decoded text) is
compressed against the URL's current keyframe; after ``KEYFRAME_EVERY`` deltas, or when a
delta would not be much smaller than the full version, the new version becomes the
keyframe.  A keyframe is stored against a sibling (``zsibling``: a recent full keyframe of
another page of the same target, which shares its template) when that is much smaller,
else full, and then it becomes its target's newest sibling.  So a read decodes at most
three frames: sibling (full) → keyframe → version; keyframes and siblings are kept
decoded in a bytes-bounded LRU, so a read mostly decodes one.

Link sets follow the same discipline with two frames: a new set of a URL is a delta
against the URL's current full set (the format is in the stored bytes, see
`snapshots.blobs.pack_links_delta`).  Imports only ``snapshots``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import zstandard
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
from sqlalchemy.orm import Session, aliased

from snapshots import blobs as blobcodec
from snapshots.db import WRITES, as_utc, session_factory
from snapshots.errors import StoreError
from snapshots.models import Blob, Capture, LinkSet, Round, Target, Url, VolatileParam
from snapshots.records import CaptureRow, NewCapture, Stored
from snapshots.vocab import State, status_state

log = logging.getLogger(__name__)

KEYFRAME_EVERY = 16             # deltas against one keyframe before a new full version
KEYFRAME_CACHE = 32 * 1024 * 1024  # bytes of decoded keyframes a Store keeps
LINKS_CACHE = 4 * 1024 * 1024      # bytes of decoded full link sets (bases) a Store keeps
SIBLINGS = 2        # a new keyframe tries the target's last SIBLINGS full keyframes
QUICK_DELTA = 32    # a delta under 1/32 of the raw size is taken without trying a full one


def utcnow() -> datetime:
    return datetime.now(UTC)


def revisitable(target_id: int, at: datetime, days: int) -> tuple[ColumnElement[bool], ...]:
    """The conditions on `Url` of the pages a round at *at* revisits for a target: seen
    alive within *days* before it (``Store.urls_to_revisit``, the adaptive recheck's
    candidates)."""
    return (Url.target_id == target_id, Url.role == "page", Url.last_alive.is_not(None),
            Url.last_alive >= at - timedelta(days=days))


def first_state(c: NewCapture) -> State:
    """The crawler's first reading of a fetch; the diff engine refines it.

    >>> str(first_state(NewCapture("t", "http://x/", 0, "seed", utcnow(), status=451)))
    'notice'
    """
    if c.error_kind == "dataloss":   # cut off before its end: no evidence of anything
        return State.FAILED
    state = status_state(c.status)
    if c.login_wall and state is not State.GONE:   # its cookies no longer log in
        return State.RESTRICTED
    return state


class Store:
    """The snapshot store over one engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine, *, delta: bool = True) -> None:
        """*delta* False stores every body full (the layout before deltas; benchmarks
        compare against it)."""
        self.engine = engine
        self.delta = delta
        self._sessions = session_factory(engine)
        self._writes = session_factory(engine.execution_options(**{WRITES: True}))
        self._url_ids: dict[tuple[int, str], int] = {}
        self._known_blobs: set[str] = set()
        self._known_links: set[str] = set()
        # (url id, "body" | "text" | "links") → (its keyframe's key, deltas against it)
        self._frames: dict[tuple[int, str], tuple[str, int]] = {}
        # (target id, "body" | "text") → its latest full keyframes (key, url id), newest first
        self._siblings: dict[tuple[int, str], list[tuple[str, int]]] = {}
        self._bases = KeyframeCache(KEYFRAME_CACHE)
        self._link_bases = KeyframeCache(LINKS_CACHE)
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
        q = select(Url.url, Url.depth).where(*revisitable(target_id, at, days)).order_by(Url.id)
        with self.session() as s:
            return [(u, d) for u, d in s.execute(q)]

    # -- writing captures ----------------------------------------------------------------
    def preload(self, target_ids: Iterable[int]) -> None:
        """Cache the URL ids of *target_ids*, the blob and link-set keys of the last round
        and its URLs' keyframes, so that recording a capture of a known, unchanged page
        costs no look-up, and a changed one none but its keyframe's bytes."""
        ids = list(target_ids)
        with self.engine.connect() as conn:
            for tid, url, uid in conn.execute(select(Url.target_id, Url.url, Url.id)
                                              .where(Url.target_id.in_(ids))):
                self._url_ids[(tid, url)] = uid
            last = conn.scalar(select(func.max(Round.id)).where(Round.status == "done"))
            if last is not None:
                self._preload_round(conn, last)

    def _preload_round(self, conn: Connection, round_id: int) -> None:
        body, txt = aliased(Blob), aliased(Blob)
        q = (select(Capture.target_id, Capture.url_id, Capture.body_sha256, body.codec,
                    body.base_sha256, Capture.text_sha256, txt.codec, txt.base_sha256,
                    Capture.links_sha256, func.substr(LinkSet.data, 1, blobcodec.links_head(),
                                                      type_=LargeBinary))
             .outerjoin(body, body.sha256 == Capture.body_sha256)
             .outerjoin(txt, txt.sha256 == Capture.text_sha256)
             .outerjoin(LinkSet, LinkSet.sha256 == Capture.links_sha256)
             .where(Capture.round_id == round_id).order_by(Capture.id))
        latest: dict[tuple[int, str], list[tuple[str, int]]] = {}   # → (keyframe, url)
        for tid, uid, *body_row, text_sha, t_codec, t_base, links_sha, head in conn.execute(q):
            text_row = (None if text_sha == body_row[0] else text_sha, t_codec, t_base)
            for kind, (sha, codec, base) in (("body", body_row), ("text", text_row)):
                if sha:
                    self._known_blobs.add(sha)
                    key = base if codec == blobcodec.DELTA else sha
                    self._frames[(uid, kind)] = (key, 0)
                    latest.setdefault((tid, kind), []).append((key, uid))
            if links_sha:
                self._known_links.add(links_sha)
                self._frames[(uid, "links")] = _links_frame(links_sha, bytes(head or b""))
        keys = {k for ks in latest.values() for k, _uid in ks}
        counts, parents = _keyframe_facts(conn, sorted(keys))
        self._frames = {slot: (k, n if slot[1] == "links" else counts.get(k, 0))
                        for slot, (k, n) in self._frames.items()}
        for slot, ks in latest.items():     # the full keyframes met last are siblings
            fulls: dict[str, int] = {}
            for k, uid in ks:   # a zsibling keyframe's base is another URL's: which, unknown
                full = parents.get(k)
                fulls.pop(full or k, None)
                fulls[full or k] = -1 if full else uid
            self._siblings[slot] = list(fulls.items())[::-1][:SIBLINGS]

    def record_capture(self, round_id: int, target_id: int, at: datetime,
                       c: NewCapture) -> Stored | None:
        """Write one capture whole (blobs, row, links, liveness) or not at all.

        SQLAlchemy Core, one transaction: this runs once per fetched page, in the crawl's
        hot path."""
        state = first_state(c)
        try:
            with self.engine.begin() as conn:
                url_id, url_new = self._url_id(conn, target_id, c, at)
                written = _Written(target_id)
                body_sha, text_sha = self._put_bodies(conn, c, url_id, written)
                links_sha = self._put_links(conn, c.links, url_id, written)
                extra = self._put_browser_blobs(conn, c, url_id, written)
                cap_id = conn.execute(self._sql.insert_capture, {**_capture_values(
                    c, round_id, url_id, target_id, at, state.value, body_sha, text_sha),
                    "links_sha256": links_sha, **extra}).inserted_primary_key[0]
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
        self._known_blobs.update(written.added)
        self._frames.update(written.frames)
        for sha, raw in written.keyframes:
            self._bases.put(sha, raw)
        for kind, sha in written.siblings:
            kept = self._siblings.setdefault((target_id, kind), [])
            kept[:] = [(sha, url_id), *kept][:SIBLINGS]
        for sha, raw in written.link_bases:
            self._link_bases.put(sha, raw)
        if links_sha:
            self._known_links.add(links_sha)
        return Stored(cap_id, state, len(written.added), len(c.body or b""))

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
            links = tuple(self.read_links(s, cap.links_sha256))
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

    def _put_bodies(self, conn: Connection, c: NewCapture, url_id: int,
                    written: _Written) -> tuple[str | None, str | None]:
        """Store the raw body and the decoded text; returns their keys (*written* collects
        what to cache once committed)."""
        body_sha = None
        if c.body is not None:
            body_sha = self._put_blob(conn, c.body, (url_id, "body"), written)
        text_sha = None
        if c.text is not None:
            data = c.text.encode("utf-8")
            # a UTF-8 page's text is its body: one key serves both
            text_sha = body_sha if data == c.body else self._put_blob(
                conn, data, (url_id, "text"), written)
        return body_sha, text_sha

    def _put_browser_blobs(self, conn: Connection, c: NewCapture, url_id: int,
                           written: _Written) -> dict[str, str | None]:
        """A rendered capture's raw response body and screenshot: their keys (None when it
        has none); each is its URL's own delta chain, as the body is."""
        return {column: None if data is None else self._put_blob(conn, data, (url_id, slot),
                                                                 written)
                for column, slot, data in (("raw_sha256", "raw", c.raw),
                                           ("screenshot_sha256", "screenshot", c.screenshot))}

    def _put_blob(self, conn: Connection, data: bytes, slot: tuple[int, str],
                  written: _Written) -> str:
        sha = blobcodec.sha256_hex(data)
        if sha in self._known_blobs or sha in written.added:
            return sha
        codec, packed, base, deltas = self._encode(conn, data, slot, written.target_id)
        inserted = conn.execute(self._sql.insert_blob, {
            "sha256": sha, "size": len(data), "codec": codec, "data": packed,
            "base_sha256": base}).rowcount
        if inserted:
            written.added.append(sha)
            if self.delta:
                written.frames[slot] = (base if codec == blobcodec.DELTA else sha, deltas)
                if codec != blobcodec.DELTA:
                    written.keyframes.append((sha, data))
                if base is None:
                    written.siblings.append((slot[1], sha))
        return sha

    def _encode(self, conn: Connection, data: bytes, slot: tuple[int, str],
                target_id: int) -> tuple[str, bytes, str | None, int]:
        """(codec, stored bytes, base key, deltas against the keyframe) for a new version of
        *slot*: a delta against its keyframe, or a new keyframe (see `_keyframe`)."""
        frame = self._frames.get(slot) if self.delta else None
        delta = None
        if frame is not None and frame[1] < KEYFRAME_EVERY - 1:
            base = self._base_raw(conn, frame[0], missing_ok=True)
            if base is not None:
                delta = blobcodec.pack_delta(data, base)[2]
                if len(delta) * QUICK_DELTA <= len(data):
                    return blobcodec.DELTA, delta, frame[0], frame[1] + 1
        _, codec, full = blobcodec.pack(data)
        if delta is not None and frame is not None and len(delta) * 2 <= len(full):
            return blobcodec.DELTA, delta, frame[0], frame[1] + 1
        if not self.delta:
            return codec, full, None, 0
        return (*self._keyframe(conn, data, full, (target_id, slot[1]), slot[0]), 0)

    def _keyframe(self, conn: Connection, data: bytes, full: bytes,
                  siblings: tuple[int, str], url_id: int) -> tuple[str, bytes, str | None]:
        """(codec, stored bytes, base key) of a new keyframe: against the smallest-encoding
        of its target's latest full keyframes of other URLs when that is under half the
        full version (its base is full, so a read of a version after it decodes three
        frames at most), else full."""
        best: tuple[str, bytes, str | None] = ("zstd", full, None)
        for sib, of_url in self._siblings.get(siblings, ()):
            if of_url == url_id:
                continue
            base = self._base_raw(conn, sib, missing_ok=True)
            if base is None:
                continue
            packed = blobcodec.pack_delta(data, base)[2]
            if len(packed) * 2 <= len(full) and len(packed) < len(best[1]):
                best = (blobcodec.SIBLING, packed, sib)
        return best

    def _put_links(self, conn: Connection, links: Iterable[tuple[str, str]], url_id: int,
                   written: _Written) -> str | None:
        """Store a page's link list once (capped as the links table capped it), as a delta
        against the URL's current full set where that is smaller; its key."""
        pairs = [(u[:4000], t[:500]) for u, t in links]
        if not pairs:
            return None
        raw = blobcodec.links_json(pairs)
        sha = blobcodec.sha256_hex(raw)
        if sha in self._known_links:
            return sha
        packed, frame = self._encode_links(conn, raw, sha, url_id)
        inserted = conn.execute(self._sql.insert_link_set, {
            "sha256": sha, "count": len(pairs), "data": packed}).rowcount
        if inserted and self.delta:
            written.frames[(url_id, "links")] = frame
            if frame[0] == sha:
                written.link_bases.append((sha, raw))
        return sha

    def _encode_links(self, conn: Connection, raw: bytes, sha: str,
                      url_id: int) -> tuple[bytes, tuple[str, int]]:
        """(stored bytes, (its base key, nth delta)) of a new link set of *url_id*: a delta
        against the URL's full set, or full (its own base, nth 0)."""
        full = blobcodec.pack_links_raw(raw)
        frame = self._frames.get((url_id, "links")) if self.delta else None
        if frame is not None and frame[1] < KEYFRAME_EVERY - 1:
            base = self._link_base_raw(conn, frame[0], missing_ok=True)
            if base is not None:
                delta = blobcodec.pack_links_delta(raw, frame[0], base, frame[1] + 1)
                # a link set is small (a few hundred bytes), so a delta's 34-byte head
                # weighs: any saving counts, as its read decodes one frame more at most
                if len(delta) < len(full):
                    return delta, (frame[0], frame[1] + 1)
        return full, (sha, 0)

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
            now = s.execute(select(Capture.url_id, Url.url, Capture.links_sha256).join(Url)
                            .where(Capture.round_id == round_id)).all()
            for url_id, url, links_now in now:
                prev = s.scalar(select(Capture.links_sha256).where(
                    Capture.url_id == url_id, Capture.round_id < round_id,
                    Capture.links_sha256.is_not(None),
                ).order_by(Capture.round_id.desc()).limit(1))
                if prev is not None:
                    yield url, self._text_urls(s, prev), self._text_urls(s, links_now)

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
        stored row than that takes (a delta's keyframe is read whole, once, then cached).
        KeyError when the store has no such blob (or not its keyframe)."""
        with self.engine.connect() as conn:
            return self.read_blob(conn, sha256, limit)

    def read_blob(self, conn: Connection | Session, sha256: str,
                  limit: int | None = None) -> bytes:
        """`blob`, read through *conn* (a connection or a session, inside its
        transaction)."""
        data = Blob.data if limit is None else stored_head(limit)
        found = conn.execute(select(Blob.codec, Blob.base_sha256, data)
                             .where(Blob.sha256 == sha256)).first()
        if found is None:
            raise KeyError(sha256)
        return next(self.read_blobs(conn, [(sha256, *found)], limit))[1]

    def read_blobs(self, conn: Connection | Session,
                   rows: Iterable[tuple[str, str, str | None, bytes]],
                   limit: int | None = None) -> Iterator[tuple[str, bytes]]:
        """(key, bytes) of blobs read in bulk as (key, codec, base key, stored bytes).  A
        ``zdelta``'s base is a keyframe, a ``zsibling``'s a full blob: at most three
        frames are decoded (mostly one: keyframes stay decoded in the LRU)."""
        for sha, codec, base, stored in rows:
            parent = None
            if base is not None:
                parent = self._base_raw(conn, base, full=codec != blobcodec.DELTA)
            yield sha, blobcodec.unpack(codec, stored, limit, parent)

    def _base_raw(self, conn: Connection | Session, sha256: str, missing_ok: bool = False,
                  full: bool = False) -> bytes | None:
        """A keyframe's bytes, from the cache or decoded once: a full blob, or (unless
        *full*) a ``zsibling`` one, whose own base is full.  StoreError for any other."""
        raw = self._bases.get(sha256)
        if raw is not None:
            return raw
        row = conn.execute(select(Blob.codec, Blob.base_sha256, Blob.data)
                           .where(Blob.sha256 == sha256)).first()
        if row is None:
            if missing_ok:
                return None
            raise KeyError(sha256)
        codec, base, data = row
        parent = None
        if base is not None:
            if full or codec != blobcodec.SIBLING:
                raise StoreError(f"blob {sha256} ({codec}) is a base of a base: chains of "
                                 f"more than three frames are not written")
            parent = self._base_raw(conn, base, full=True)
        raw = blobcodec.unpack(codec, data, base=parent)
        self._bases.put(sha256, raw)
        return raw

    def link_set(self, sha256: str) -> list[tuple[str, str]]:
        """A stored link set as ``(url, text)`` pairs in page order.  StoreError when the
        store has no such set (or not its base)."""
        with self.engine.connect() as conn:
            return self.read_links(conn, sha256)

    def read_links(self, conn: Connection | Session,
                   sha256: str | None) -> list[tuple[str, str]]:
        """`link_set` read through *conn* ([] for None).  A delta set decodes with its base,
        a full set: two frames at most."""
        if sha256 is None:
            return []
        data = conn.execute(select(LinkSet.data).where(LinkSet.sha256 == sha256)).scalar()
        if data is None:
            raise StoreError(f"link set {sha256} is missing")
        return self._decode_links(conn, bytes(data))

    def _decode_links(self, conn: Connection | Session,
                      data: bytes) -> list[tuple[str, str]]:
        """A stored link set's pairs: a delta decodes with its (full) base."""
        found = blobcodec.links_base(data)
        base = None if found is None else self._link_base_raw(conn, found[0])
        return blobcodec.unpack_links(data, base)

    def _text_urls(self, conn: Connection | Session, sha256: str) -> list[tuple[str, str]]:
        return [(t, u) for u, t in self.read_links(conn, sha256)]

    def _link_base_raw(self, conn: Connection | Session, sha256: str,
                       missing_ok: bool = False) -> bytes | None:
        """A full link set's JSON, from the cache or decoded once.  StoreError when it is
        missing (unless *missing_ok*) or is itself a delta."""
        raw = self._link_bases.get(sha256)
        if raw is not None:
            return raw
        data = conn.execute(select(LinkSet.data).where(LinkSet.sha256 == sha256)).scalar()
        if data is None:
            if missing_ok:
                return None
            raise StoreError(f"link set {sha256}, a base, is missing")
        if blobcodec.links_base(bytes(data)) is not None:
            raise StoreError(f"link set {sha256}, a base, is a delta itself")
        raw = blobcodec.unpack_links_json(bytes(data))
        self._link_bases.put(sha256, raw)
        return raw

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
                problems += self._bad_blobs(s)
                problems += self._bad_link_sets(s)
        return problems

    def _bad_blobs(self, s: Session) -> list[str]:
        out = []
        for sha, codec, size, base, data in s.execute(
                select(Blob.sha256, Blob.codec, Blob.size, Blob.base_sha256, Blob.data)
        ).yield_per(200):
            try:
                raw = next(self.read_blobs(s, [(sha, codec, base, data)]))[1]
            except KeyError:
                out.append(f"blob {sha}: its base {base} is missing")
                continue
            except StoreError as exc:
                out.append(f"blob {sha}: {exc}")
                continue
            except (ValueError, zstandard.ZstdError):
                raw = b""
            if len(raw) != size or blobcodec.sha256_hex(raw) != sha:
                out.append(f"blob {sha} does not match its hash")
        return out

    def _bad_link_sets(self, s: Session) -> list[str]:
        out = []
        for sha, count, data in s.execute(
                select(LinkSet.sha256, LinkSet.count, LinkSet.data)).yield_per(200):
            try:
                links = self._decode_links(s, bytes(data))
            except StoreError as exc:
                out.append(f"link set {sha}: {exc}")
                continue
            except (ValueError, TypeError, zstandard.ZstdError):
                links = None
            if links is None or len(links) != count \
                    or blobcodec.sha256_hex(blobcodec.links_json(links)) != sha:
                out.append(f"link set {sha} does not match its hash")
        return out


class KeyframeCache:
    """Decoded keyframes by key, least recently used first out, at most *budget* bytes
    (a body larger than the budget is not kept).  Thread-safe."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            raw = self._items.get(key)
            if raw is not None:
                self._items.move_to_end(key)
            return raw

    def put(self, key: str, raw: bytes) -> None:
        if len(raw) > self.budget:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = raw
            self._size += len(raw)
            while self._size > self.budget:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


class _Written:
    """What one capture's transaction wrote, applied to the caches once committed."""

    def __init__(self, target_id: int) -> None:
        self.target_id = target_id
        self.added: list[str] = []
        self.frames: dict[tuple[int, str], tuple[str, int]] = {}
        self.keyframes: list[tuple[str, bytes]] = []
        self.siblings: list[tuple[str, str]] = []       # (kind, key) of new full keyframes
        self.link_bases: list[tuple[str, bytes]] = []   # (key, JSON) of new full link sets


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
        self.insert_link_set = upsert(LinkSet.__table__).on_conflict_do_nothing(
            index_elements=["sha256"]).execution_options(preserve_rowcount=True)
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
        links=links, raw=blob(cap.raw_sha256), screenshot=blob(cap.screenshot_sha256),
        login_wall=cap.state == State.RESTRICTED.value)


def _keyframe_facts(conn: Connection,
                    keys: list[str]) -> tuple[dict[str, int], dict[str, str | None]]:
    """For keyframes *keys*: the deltas written against each, and each one's base (its
    sibling, for a ``zsibling`` keyframe; None for a full one)."""
    counts: dict[str, int] = {}
    parents: dict[str, str | None] = {}
    for start in range(0, len(keys), 500):
        some = keys[start:start + 500]
        counts.update(conn.execute(
            select(Blob.base_sha256, func.count()).where(
                Blob.base_sha256.in_(some), Blob.codec == blobcodec.DELTA)
            .group_by(Blob.base_sha256)).all())
        parents.update(conn.execute(
            select(Blob.sha256, Blob.base_sha256).where(Blob.sha256.in_(some))).all())
    return counts, parents


def _links_frame(sha: str, head: bytes) -> tuple[str, int]:
    """(base key, nth delta) of a stored link set from its first bytes."""
    try:
        found = blobcodec.links_base(head)
    except ValueError:      # damaged: the next set of its URL is stored full
        return sha, KEYFRAME_EVERY
    return (sha, 0) if found is None else found


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
    base = aliased(Blob)
    checks = {
        "capture without url": select(func.count()).select_from(Capture)
        .where(~select(Url.id).where(Url.id == Capture.url_id).exists()),
        "capture without round": select(func.count()).select_from(Capture)
        .where(~select(Round.id).where(Round.id == Capture.round_id).exists()),
        "capture without body blob": select(func.count()).select_from(Capture)
        .where(Capture.body_sha256.is_not(None),
               ~select(Blob.sha256).where(Blob.sha256 == Capture.body_sha256).exists()),
        "capture without link set": select(func.count()).select_from(Capture)
        .where(Capture.links_sha256.is_not(None),
               ~select(LinkSet.sha256).where(LinkSet.sha256 == Capture.links_sha256).exists()),
        "delta without base blob": select(func.count()).select_from(Blob)
        .where(Blob.base_sha256.is_not(None),
               ~select(base.sha256).where(base.sha256 == Blob.base_sha256).exists()),
    }
    out = []
    for what, q in checks.items():
        n = s.scalar(q)
        if n:
            out.append(f"{n} {what}")
    return out


def record_dict(row: CaptureRow) -> dict:
    d = asdict(row)
    d["captured_at"] = row.captured_at.isoformat()
    return d
