"""The viewer's JSON API and Atom feed, for notebooks and feed readers (docs/api.md).

Routes (added in ``reports.viewer``, behind the same guard as the pages):

* ``/api/takedowns``: the takedown list's filters (``kind target since until q event``,
  selected by `Pages.filtered_takedowns`, so a filter the list refuses is refused here
  too) plus ``limit`` (1 to `MAX_LIMIT`, default `LIMIT`) and ``page`` (from 1).  Answers
  ``{"records": [...], "total": N, "next": URL or null}``, newest detection first; ``next``
  is this URL with the next page, while more remain.
* ``/api/takedowns/{id}``: one record.  A record is exactly what ``takedown export``
  writes for that takedown (`export_records`): the API and the export never disagree.
* ``/api/urls/{id}/captures``: a URL and its captures, oldest first, with the diff
  engine's verdict and a link to each stored body.
* ``/api/events``: the events given to ``takedown serve --events`` (``[]`` without).
* ``/feed.atom``: the same filters, as Atom (``reports.feed``).

Errors on ``/api/`` are JSON ``{"error": "..."}`` (``reports.viewer`` renders them).
Imports reports, snapshots and Starlette.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reports.feed import atom_feed
from reports.viewer_pages import MAX_ID, Pages, row_id
from snapshots import browse
from snapshots.detection_store import takedown_rows

LIMIT = 100
MAX_LIMIT = 1000
ATOM = "application/atom+xml; charset=utf-8"


def export_records(store: Any, rows: list[dict]) -> list[dict]:
    """The export's records of the list rows *rows*, in their order.  They come from the
    export's own query (`takedown_rows`), for these rows' ids only; a row whose kind the
    detector changed in between is left out rather than shown in another shape."""
    if not rows:
        return []
    by_id = {rec["id"]: rec for rec in takedown_rows(store, ids=(r["id"] for r in rows))}
    return [by_id[r["id"]] for r in rows
            if r["id"] in by_id and by_id[r["id"]]["kind"] == r["kind"]]


def _count(request: Request, name: str, default: int, high: int) -> int:
    """The query parameter *name*: a whole number from 1 to *high*, else 400."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and 1 <= int(raw) <= high):
        raise HTTPException(400, f"{name} must be a whole number from 1 to {high}, "
                                 f"not {raw[:40]!r}")
    return int(raw)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def origin(request: Request) -> str:
    """The viewer's base URL as the request reached it, without a trailing slash."""
    return str(request.base_url).rstrip("/")


class Api:
    """The API and feed handlers over the viewer's pages (their store, events, filters)."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    async def takedowns(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self._takedowns, request))

    def _takedowns(self, request: Request) -> dict[str, Any]:
        limit = _count(request, "limit", LIMIT, MAX_LIMIT)
        number = _count(request, "page", 1, MAX_ID)
        rows, _event = self.pages.filtered_takedowns(request)
        shown = rows[(number - 1) * limit:number * limit]
        more = number * limit < len(rows)
        return {"records": export_records(self.pages.store, shown), "total": len(rows),
                "next": str(request.url.include_query_params(page=number + 1)) if more
                else None}

    async def takedown(self, request: Request) -> Response:
        takedown_id = row_id(request, "takedown_id", "takedown")
        return JSONResponse(await run_in_threadpool(self._takedown, takedown_id))

    def _takedown(self, takedown_id: int) -> dict:
        row = browse.takedown_detail(self.pages.store, takedown_id)
        records = [] if row is None else export_records(self.pages.store, [row])
        if not records:
            raise HTTPException(404, "no such takedown")
        return records[0]

    async def captures(self, request: Request) -> Response:
        url_id = row_id(request, "url_id", "URL")
        detail = await run_in_threadpool(browse.url_detail, self.pages.store, url_id)
        if detail is None:
            raise HTTPException(404, "no such URL")
        base = origin(request)
        return JSONResponse({
            "id": detail["id"], "url": detail["url"], "target": detail["target"],
            "role": detail["role"], "depth": detail["depth"],
            "first_seen": _iso(detail["first_seen"]), "last_alive": _iso(detail["last_alive"]),
            "takedowns": [t["id"] for t in detail["takedowns"]],
            "captures": [_capture(c, base) for c in detail["captures"]]})

    async def events(self, request: Request) -> Response:
        return JSONResponse([_event(e) for e in self.pages.events])

    async def feed(self, request: Request) -> Response:
        rows, _event = await run_in_threadpool(self.pages.filtered_takedowns, request)
        feed_url = str(request.url.remove_query_params("token"))
        return Response(atom_feed(rows, origin(request), feed_url), media_type=ATOM)


def _capture(c: dict, base: str) -> dict:
    """One capture of ``browse.url_detail`` as JSON; ``raw`` links its stored body."""
    raw = None if c["sha256"] is None else f"{base}/captures/{c['id']}/raw"
    return {"id": c["id"], "round_id": c["round_id"], "round_status": c["round_status"],
            "captured_at": _iso(c["captured_at"]), "state": c["state"], "kind": c["kind"],
            "rule": c["rule"], "status": c["status"], "size": c["size"],
            "sha256": c["sha256"], "final_url": c["final_url"], "error": c["error"],
            "truncated": c["truncated"], "raw": raw}


def _event(e: Any) -> dict:
    """A ``reports.events.Event`` as JSON (``end`` inclusive; ``when`` as people write it)."""
    return {"id": e.id, "title": e.title, "start": e.start.isoformat(),
            "end": e.end.isoformat(), "precision": e.precision, "when": e.when,
            "summary": e.summary, "sources": list(e.sources), "keywords": list(e.keywords),
            "scope": list(e.scope)}
