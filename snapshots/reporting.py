"""Bulk, read-only queries for ``takedown report``.

A report of a large store must not ask one question per takedown: every function here is a
handful of statements whatever the number of rows (takedowns with both their captures in one
joined query; texts fetched by key in chunks).  Results are plain dicts, times UTC-aware.
Nothing here writes.  Imports only ``snapshots``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from snapshots.blobs import READ_CAP
from snapshots.models import Blob, Capture, Round, Takedown, Target, Url
from snapshots.repo import Store, as_utc, stored_head

CHUNK = 500  # keys per IN (...): well under SQLite's and PostgreSQL's parameter limits


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def report_takedowns(store: Store, *, since: datetime | None = None,
                     until: datetime | None = None, kinds: Iterable[str] = (),
                     targets: Iterable[str] = ()) -> list[dict]:
    """Every takedown detected in [*since*, *until*) (of *kinds*, on *targets* when given),
    oldest first, with its URL, target and both captures' facts (``last_ok``, ``first``:
    id, sha256, text_sha256, captured_at, status, final_url)."""
    ok, first = aliased(Capture), aliased(Capture)
    cols = [Takedown.id, Takedown.url_id, Url.url, Target.name, Takedown.kind, Takedown.item,
            Takedown.last_seen, Takedown.detected_at, Takedown.restored_at, Takedown.evidence]
    q = (select(*cols, *_capture_cols(ok), *_capture_cols(first))
         .join(Url, Takedown.url_id == Url.id).join(Target, Takedown.target_id == Target.id)
         .outerjoin(ok, ok.id == Takedown.last_ok_capture_id)
         .join(first, first.id == Takedown.first_capture_id)
         .order_by(Takedown.detected_at, Url.url, Takedown.item, Takedown.id))
    if since is not None:
        q = q.where(Takedown.detected_at >= since)
    if until is not None:
        q = q.where(Takedown.detected_at < until)
    if kinds := tuple(kinds):
        q = q.where(Takedown.kind.in_(kinds))
    if targets := tuple(targets):
        q = q.where(Target.name.in_(targets))
    with store.engine.connect() as conn:
        return [_takedown(row) for row in conn.execute(q)]


def _capture_cols(c: type[Capture]) -> list:
    return [c.id, c.body_sha256, c.text_sha256, c.captured_at, c.status, c.final_url]


def _takedown(row: tuple) -> dict:
    (tid, url_id, url, target, kind, item, last_seen, detected, restored, evidence) = row[:10]
    return {"id": tid, "url_id": url_id, "url": url, "target": target, "kind": kind,
            "item": item or "", "last_seen": as_utc(last_seen),
            "detected_at": as_utc(detected), "restored_at": _opt(restored),
            "evidence": evidence or {}, "last_ok": _capture(row[10:16]),
            "first": _capture(row[16:22])}


def _capture(values: tuple) -> dict | None:
    cid, sha, text_sha, at, status, final_url = values
    if cid is None:
        return None
    return {"capture_id": cid, "sha256": sha, "text_sha256": text_sha,
            "captured_at": as_utc(at), "status": status, "final_url": final_url}


def capture_texts(store: Store,
                  capture_ids: Iterable[int]) -> dict[int, tuple[str | None, datetime]]:
    """capture id → (the key of its decoded text, None for a capture without text; its
    round's stamp in UTC, the time its page was read at, against which the page's relative
    times such as "3小时前" are resolved)."""
    ids = sorted(set(capture_ids))
    out: dict[int, tuple[str | None, datetime]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            q = select(Capture.id, Capture.text_sha256, Capture.captured_at).where(
                Capture.id.in_(ids[start:start + CHUNK]))
            out.update((cid, (sha, as_utc(at))) for cid, sha, at in conn.execute(q))
    return out


def capture_text_keys(store: Store, capture_ids: Iterable[int]) -> dict[int, str | None]:
    """capture id → the key of its decoded text (None for a capture without text)."""
    return {cid: sha for cid, (sha, _at) in capture_texts(store, capture_ids).items()}


def texts(store: Store, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
    """(key, decoded text) for every stored blob among *keys*, fetched in chunks: of each
    at most its first READ_CAP bytes, read and decoded no further."""
    wanted = sorted({k for k in keys if k})
    with store.engine.connect() as conn:
        for start in range(0, len(wanted), CHUNK):
            q = select(Blob.sha256, Blob.codec, Blob.base_sha256, stored_head(READ_CAP)).where(
                Blob.sha256.in_(wanted[start:start + CHUNK]))
            for sha, raw in store.read_blobs(conn, conn.execute(q).all(), READ_CAP):
                yield sha, raw.decode("utf-8", "replace")


def target_specs(store: Store) -> dict[str, dict]:
    """target name → its watchlist spec as stored (items selectors and the like)."""
    with store.engine.connect() as conn:
        return {name: spec or {} for name, spec in conn.execute(select(Target.name,
                                                                        Target.spec))}


def store_counts(store: Store) -> dict:
    """Sizes of the store: targets, watched URLs, captures, rounds, first and last round."""
    with store.engine.connect() as conn:
        first, last, rounds = conn.execute(
            select(func.min(Round.at), func.max(Round.at), func.count(Round.id))).one()
        return {
            "targets": conn.scalar(select(func.count()).select_from(Target)) or 0,
            "urls": conn.scalar(select(func.count()).select_from(Url)
                                .where(Url.role == "page")) or 0,
            "captures": conn.scalar(select(func.count()).select_from(Capture)) or 0,
            "rounds": rounds or 0,
            "first_round": _opt(first), "last_round": _opt(last),
        }
