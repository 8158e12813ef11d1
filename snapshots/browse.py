"""Read-only queries for browsing the store: targets, their URLs, a URL's captures with
their verdicts, one capture's body, takedowns with filters.

The viewer (``reports/viewer.py``) and ``takedown history`` read through these; nothing
here writes.  Results are plain dicts and dataclasses (no SQLAlchemy object leaks out),
times are UTC-aware.  Imports only ``snapshots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from snapshots.blobs import READ_CAP
from snapshots.models import Capture, Round, Takedown, Target, Url, Verdict
from snapshots.repo import Store, as_utc


@dataclass(frozen=True)
class CaptureBody:
    """One capture with its stored bytes and decoded text (``None`` when no body)."""

    id: int
    url_id: int
    url: str
    target: str
    spec: dict
    captured_at: datetime
    state: str
    kind: str | None
    status: int | None
    final_url: str | None
    content_type: str | None
    body_sha256: str | None
    size: int
    error: str | None
    redirects: list
    body: bytes | None
    text: str | None
    clipped: bool = False  # body or text longer than READ_CAP: only their head is here
    screenshot_sha256: str | None = None   # a browser capture's full-page PNG
    raw_sha256: str | None = None          # a browser capture's HTTP response body


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def targets_overview(store: Store) -> list[dict]:
    """Every target: name, URL, watched URLs, captures, last capture time, takedowns."""
    with store.session() as s:
        counts = dict(s.execute(select(Takedown.target_id, func.count())
                                .group_by(Takedown.target_id)).all())
        ids = dict(s.execute(select(Target.name, Target.id)).all())
    return [{**row, "takedowns": counts.get(ids.get(row["name"]), 0)}
            for row in store.targets()]


def target_urls(store: Store, name: str) -> dict | None:
    """A target and its URLs (watched pages first, then not-found probes), or None."""
    with store.session() as s:
        target = s.scalar(select(Target).where(Target.name == name))
        if target is None:
            return None
        ncap = (select(Capture.url_id, func.count().label("n"), func.max(Capture.id).label("last"))
                .where(Capture.target_id == target.id).group_by(Capture.url_id).subquery())
        ntd = (select(Takedown.url_id, func.count().label("n")).where(
            Takedown.target_id == target.id).group_by(Takedown.url_id).subquery())
        q = (select(Url, ncap.c.n, Capture.state, ntd.c.n)
             .outerjoin(ncap, ncap.c.url_id == Url.id)
             .outerjoin(Capture, Capture.id == ncap.c.last)
             .outerjoin(ntd, ntd.c.url_id == Url.id)
             .where(Url.target_id == target.id).order_by(Url.role, Url.depth, Url.url))
        urls = [{"id": u.id, "url": u.url, "role": u.role, "depth": u.depth,
                 "first_seen": as_utc(u.first_seen), "last_alive": _opt(u.last_alive),
                 "captures": n or 0, "last_state": state, "takedowns": t or 0}
                for u, n, state, t in s.execute(q)]
        return {"name": target.name, "url": target.url, "urls": urls}


def url_detail(store: Store, url_id: int) -> dict | None:
    """A URL, its target, its captures oldest first (with the diff engine's verdict) and
    its takedowns; None if there is no such URL."""
    with store.session() as s:
        row = s.execute(select(Url, Target.name).join(Target, Url.target_id == Target.id)
                        .where(Url.id == url_id)).first()
        if row is None:
            return None
        url, target = row
        q = (select(Capture, Round.status, Verdict.state, Verdict.kind, Verdict.rule)
             .join(Round, Round.id == Capture.round_id)
             .outerjoin(Verdict, Verdict.capture_id == Capture.id)
             .where(Capture.url_id == url_id).order_by(Capture.captured_at, Capture.id))
        captures = [_capture_dict(c, rstatus, vstate, vkind, rule)
                    for c, rstatus, vstate, vkind, rule in s.execute(q)]
        tds = [_takedown_dict(t, url.url, target) for t in s.scalars(
            select(Takedown).where(Takedown.url_id == url_id).order_by(Takedown.detected_at))]
        return {"id": url.id, "url": url.url, "target": target, "role": url.role,
                "depth": url.depth, "first_seen": as_utc(url.first_seen),
                "last_alive": _opt(url.last_alive), "captures": captures, "takedowns": tds}


def _capture_dict(c: Capture, round_status: str, vstate: str | None, vkind: str | None,
                  rule: str | None) -> dict:
    return {"id": c.id, "round_id": c.round_id, "round_status": round_status,
            "captured_at": as_utc(c.captured_at), "state": vstate or c.state, "kind": vkind,
            "rule": rule, "status": c.status, "size": c.size, "sha256": c.body_sha256,
            "final_url": c.final_url, "error": c.error, "truncated": c.truncated}


def url_history(store: Store, url: str) -> list[dict]:
    """Every capture of *url* (as watched), oldest first, across targets; its state and
    kind are the diff engine's verdict where there is one, else the crawler's reading."""
    q = (select(Capture, Target.name, Verdict.state, Verdict.kind, Verdict.detail)
         .join(Url, Capture.url_id == Url.id).join(Target, Capture.target_id == Target.id)
         .outerjoin(Verdict, Verdict.capture_id == Capture.id)
         .where(Url.url == url).order_by(Capture.captured_at, Capture.id))
    with store.session() as s:
        return [{"captured_at": as_utc(c.captured_at), "round_id": c.round_id,
                 "target": target, "state": vstate or c.state, "kind": vkind,
                 "status": c.status, "size": c.size, "body_sha256": c.body_sha256,
                 "final_url": c.final_url, "error": reading_error(vstate, detail) or c.error}
                for c, target, vstate, vkind, detail in s.execute(q)]


def reading_error(state: str | None, detail: dict | None) -> str | None:
    """The exception a capture's reading raised (verdict ``error``), as ``Name: message``."""
    return (detail or {}).get("error") if state == "error" else None


def capture_body(store: Store, capture_id: int) -> CaptureBody | None:
    """One capture with its raw body and decoded text, or None: of each at most READ_CAP
    bytes, whatever the store holds (``clipped`` says when that is not all of it)."""
    with store.session() as s:
        row = s.execute(select(Capture, Url.url, Target.name, Target.spec, Verdict.state,
                               Verdict.kind, Verdict.detail)
                        .join(Url, Url.id == Capture.url_id)
                        .join(Target, Target.id == Capture.target_id)
                        .outerjoin(Verdict, Verdict.capture_id == Capture.id)
                        .where(Capture.id == capture_id)).first()
    if row is None:
        return None
    c, url, target, spec, vstate, vkind, detail = row
    body = None if c.body_sha256 is None else store.blob(c.body_sha256, READ_CAP)
    text, clipped = None, body is not None and len(body) >= READ_CAP and c.size > READ_CAP
    if c.text_sha256 is not None:
        head = store.blob(c.text_sha256, READ_CAP + 1)
        clipped = clipped or len(head) > READ_CAP
        text = head[:READ_CAP].decode("utf-8", "replace")
    return CaptureBody(c.id, c.url_id, url, target, spec or {}, as_utc(c.captured_at),
                       vstate or c.state, vkind, c.status, c.final_url, c.content_type,
                       c.body_sha256, c.size, reading_error(vstate, detail) or c.error,
                       list(c.redirects or []), body, text, clipped, c.screenshot_sha256,
                       c.raw_sha256)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def capture_screenshot(store: Store, capture_id: int) -> bytes | None:
    """The full-page PNG of a browser capture (at most READ_CAP bytes), or None: no such
    capture, no screenshot, or a stored blob that is not a PNG."""
    with store.session() as s:
        sha = s.execute(select(Capture.screenshot_sha256)
                        .where(Capture.id == capture_id)).scalar_one_or_none()
    if sha is None:
        return None
    data = store.blob(sha, READ_CAP)
    return data if data.startswith(PNG_MAGIC) else None


def takedown_list(store: Store, *, kinds: tuple[str, ...] = (), targets: tuple[str, ...] = (),
                  since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """Takedowns (newest detection first) with their ids, filtered in SQL by kind, target
    and detection time (``since`` inclusive, ``until`` exclusive)."""
    q = (select(Takedown, Url.url, Target.name).join(Url, Takedown.url_id == Url.id)
         .join(Target, Takedown.target_id == Target.id)
         .order_by(Takedown.detected_at.desc(), Url.url, Takedown.item))
    if kinds:
        q = q.where(Takedown.kind.in_(kinds))
    if targets:
        q = q.where(Target.name.in_(targets))
    if since is not None:
        q = q.where(Takedown.detected_at >= since)
    if until is not None:
        q = q.where(Takedown.detected_at < until)
    with store.session() as s:
        return [_takedown_dict(t, url, target) for t, url, target in s.execute(q)]


def takedown_detail(store: Store, takedown_id: int) -> dict | None:
    with store.session() as s:
        row = s.execute(select(Takedown, Url.url, Target.name)
                        .join(Url, Takedown.url_id == Url.id)
                        .join(Target, Takedown.target_id == Target.id)
                        .where(Takedown.id == takedown_id)).first()
    return None if row is None else _takedown_dict(*row)


def _takedown_dict(t: Takedown, url: str, target: str) -> dict:
    return {"id": t.id, "url_id": t.url_id, "url": url, "target": target, "item": t.item,
            "kind": t.kind, "last_seen": as_utc(t.last_seen),
            "detected_at": as_utc(t.detected_at), "restored_at": _opt(t.restored_at),
            "last_ok_capture_id": t.last_ok_capture_id, "first_capture_id": t.first_capture_id,
            "evidence": t.evidence or {}}


def kinds_and_targets(store: Store) -> tuple[list[str], list[str]]:
    """The takedown kinds present and every target name (for filter menus)."""
    with store.session() as s:
        kinds = list(s.scalars(select(Takedown.kind).distinct().order_by(Takedown.kind)))
        names = list(s.scalars(select(Target.name).order_by(Target.name)))
    return kinds, names
