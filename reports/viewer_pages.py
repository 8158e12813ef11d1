"""The viewer's pages: targets, a target's URLs, a URL's capture history, the takedown list
and its filters, the side-by-side comparison of two captures, raw bodies.

Every page is a template under ``reports/templates/viewer/`` rendered through
``reports.render`` (autoescape); captured pages reach the browser only as the ``srcdoc``
of an empty-sandbox iframe, after ``reports.sanitize``.  Imports reports, snapshots and
Starlette; the guard and routes are in ``reports.viewer``.

Requests and captures are hostile, and no input answers 500:

* an id in the path is decimal and at most `MAX_ID`, else 404 (a larger one is no row, and
  SQLite refuses to bind it); query numbers that are not numbers answer 400;
* a date filter that is no date answers 400; ``until=9999-12-31`` has no day after it and
  bounds nothing;
* a captured URL becomes a link only when it parses as http(s) with a host and a valid port
  (`linkable`); otherwise it is shown as text;
* two captures whose pages cannot be read for comparison (extraction raises on what they
  hold) are shown without the comparison, saying so, and the reason is logged.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from reports.compare import Comparison, compare_pages
from reports.evidence import write_package
from reports.render import render
from reports.sanitize import inert_html, inert_text
from snapshots import browse, search
from snapshots.blobs import READ_CAP
from snapshots.browse import CaptureBody
from snapshots.patterns import RunawayPattern
from snapshots.vocab import is_html

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_ID = 2**63 - 1   # the largest id a database integer column holds (SQLite, bigint)
SHOWN = 40           # characters of a refused parameter quoted back in the message
MAX_ROWS = 2000   # rows of a text diff, and links a side, one comparison page shows


def linkable(url: object) -> bool:
    """Only well-formed http(s) URLs with a host become links; anything else is text.

    >>> linkable("https://example.com/a"), linkable("javascript:alert(1)")
    (True, False)
    >>> linkable("http://[::1"), linkable("http://x:99999/"), linkable("http:///path")
    (False, False, False)
    """
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port     # raises for a port out of range or not a number
    except ValueError:
        return False
    return bool(parts.hostname) and port != 0


def host_of(url: str) -> str:
    """The host name of *url*, or "" when it has none or does not parse.

    >>> host_of("http://Example.com:8080/a"), host_of("http://[::1")
    ('example.com', '')
    """
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def when(value: object) -> str:
    """A time as the viewer shows it: "" for none, "unknown" for a value that is no time.

    >>> when(datetime(2024, 3, 1, 8, 5, tzinfo=UTC)), when(None), when("+99:00")
    ('2024-03-01 08:05', '', 'unknown')
    """
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "unknown"


def helpers() -> dict[str, Any]:
    return {"linkable": linkable, "when": when, "read_cap": READ_CAP, "max_rows": MAX_ROWS}


def page(template: str, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(f"viewer/{template}", **context, **helpers()))


def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= SHOWN else raw[:SHOWN] + "…")


def row_id(request: Request, name: str, what: str) -> int:
    """The id path parameter *name*, or 404 naming *what*: decimal digits, at most
    `MAX_ID` (the routes take any segment, so that no id can overflow a converter)."""
    raw = request.path_params[name]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_ID):
        raise HTTPException(404, f"no such {what}")
    return int(raw)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError:     # not a number, or more digits than int() converts
        raise HTTPException(400, f"{name} must be a number, not {_shown(raw)}") from None


def _text_param(request: Request, name: str) -> str:
    """A text filter; a NUL cannot be in any stored name (and PostgreSQL refuses it)."""
    raw = request.query_params.get(name, "")
    if "\x00" in raw:
        raise HTTPException(400, f"{name} must not contain a NUL character")
    return raw


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be a date (YYYY-MM-DD), "
                                 f"not {_shown(raw)}") from None


def _day_after(day: date | None) -> date | None:
    """The exclusive upper bound of an inclusive *day*; none after the calendar's last."""
    return None if day is None or day == date.max else day + timedelta(days=1)


def _frame(c: CaptureBody | None, marks: dict[str, Any]) -> str:
    """The inert srcdoc document of one capture."""
    if c is None:
        return inert_text("(no capture)")
    if c.text is None:
        what = c.error or ("binary body, see raw" if c.body else "no body")
        return inert_text(f"({what}; HTTP status {c.status})")
    if not is_html(c.content_type, c.text):
        return inert_text(c.text)
    return inert_html(c.text, c.final_url or c.url, **marks)


NOT_COMPARED = "These captures could not be read for comparison (see the server log)."


def _comparison(a: CaptureBody | None, b: CaptureBody | None,
                drop: Iterable[str]) -> tuple[Comparison | None, str]:
    """The comparison of *a* and *b*, or None and why not.  A ValueError or OverflowError
    comes from what the pages hold (a bad item selector of the target, a date no calendar
    has): once with the target's item selectors, once without, then no comparison."""
    if a is None or b is None:
        return None, ""
    spec = b.spec or {}
    tries = [{"items": spec.get("items"), "item_id": spec.get("item_id")}]
    if spec.get("items"):
        tries.append({})
    for selectors in tries:
        try:
            return compare_pages(a.text or "", b.text or "", a.final_url or a.url,
                                 b.final_url or b.url, drop=drop, **selectors), ""
        except (ValueError, OverflowError) as exc:
            log.warning("captures %s and %s of %s not compared%s: %s: %s", a.id, b.id,
                        b.target, " with its item selectors" if selectors.get("items") else "",
                        type(exc).__name__, exc)
    return None, NOT_COMPARED


def side_by_side(a: CaptureBody | None, b: CaptureBody | None,
                 drop: Iterable[str] = ()) -> dict[str, Any]:
    """Everything the comparison template needs for captures *a* (before), *b* (after);
    *drop*: the session parameters learned for the site, ignored in the links diff."""
    cmp, not_compared = _comparison(a, b, drop)
    old_marks: dict[str, Any] = {}
    new_marks: dict[str, Any] = {}
    if cmp is not None:
        old_marks = {"removed_blocks": cmp.removed_blocks,
                     "removed_links": {lk.url for lk in cmp.links_removed}}
        new_marks = {"added_blocks": cmp.added_blocks}
    return {"a": a, "b": b, "cmp": cmp, "not_compared": not_compared,
            "frame_a": _frame(a, old_marks), "frame_b": _frame(b, new_marks)}


def _matches(store: Any, rows: list[dict], q: str) -> list[dict]:
    """The takedowns whose removed text holds *q* (the full-text index: their last seen
    page, their removed blocks; such a row is given the matching document as
    ``match_doc``), or whose URL, item, target, kind or evidence holds every word of it."""
    found = search.takedown_texts(store, q, [r["id"] for r in rows])
    words = q.lower().split()
    return [{**r, "match_doc": found.get(r["id"])} for r in rows
            if r["id"] in found or _holds(_haystack(r), words)]


def _with_snippets(store: Any, rows: list[dict], q: str) -> list[dict]:
    """*rows* (one page of the list), each matched by its text given the ``snippet`` of
    *q* in it: cut for the rows shown only, each a read of the text."""
    docs = {r["id"]: r["match_doc"] for r in rows if r.get("match_doc") is not None}
    if not docs:
        return rows
    cut = search.snippets(store, q, docs)
    return [{**r, "snippet": cut.get(r["id"])} for r in rows]


def _holds(hay: str, words: list[str]) -> bool:
    return all(w in hay for w in words)


def _haystack(row: dict) -> str:
    return " ".join((row["url"], row["item"], row["target"], row["kind"],
                     json.dumps(row["evidence"], ensure_ascii=False))).lower()


class Pages:
    """The page handlers over one store (blocking reads run in the thread pool)."""

    def __init__(self, store: Any, events: list[Any]) -> None:
        self.store, self.events = store, events

    async def index(self, request: Request) -> Response:
        rows = await run_in_threadpool(browse.targets_overview, self.store)
        return page("index.html", title="Targets", targets=rows)

    async def target(self, request: Request) -> Response:
        name = request.path_params["name"]
        if "\x00" in name:
            raise HTTPException(404, "no target by that name")
        target = await run_in_threadpool(browse.target_urls, self.store, name)
        if target is None:
            raise HTTPException(404, f"no target named {name!r}")
        return page("target.html", title=f"Target {name}", target=target)

    async def url(self, request: Request) -> Response:
        detail = await run_in_threadpool(browse.url_detail, self.store,
                                         row_id(request, "url_id", "URL"))
        if detail is None:
            raise HTTPException(404, "no such URL")
        return page("url.html", title="Capture history", u=detail)

    async def takedowns(self, request: Request) -> Response:
        return page("takedowns.html", title="Takedowns",
                    **await run_in_threadpool(self._takedowns, request))

    def _takedowns(self, request: Request) -> dict[str, Any]:
        params = request.query_params
        rows, event = self.filtered_takedowns(request)
        number = max(1, _int_param(request, "page") or 1)
        kinds, targets = browse.kinds_and_targets(self.store)
        shown = _with_snippets(self.store, rows[(number - 1) * PAGE_SIZE:number * PAGE_SIZE],
                               params.get("q", "").strip())
        return {"rows": shown, "total": len(rows),
                "page_number": number, "pages": max(1, -(-len(rows) // PAGE_SIZE)),
                "kinds": kinds, "targets": targets, "events": self.events, "event": event,
                "f": {k: params.get(k, "") for k in ("kind", "target", "since", "until", "q",
                                                     "event")},
                "query": [(k, v) for k, v in params.multi_items() if k != "page"]}

    def filtered_takedowns(self, request: Request) -> tuple[list[dict], Any]:
        """The takedowns the list's filters select (``kind target since until q event``),
        newest first, and the chosen event or None; a bad filter is a 400.  The HTML list,
        the JSON API and the Atom feed (``reports.api``) all select through here, so they
        agree on every filter and refuse the same input."""
        params = request.query_params
        kind, target = _text_param(request, "kind"), _text_param(request, "target")
        since, until = _date_param(request, "since"), _date_param(request, "until")
        if since is not None and until is not None and until < since:
            raise HTTPException(400, f"until ({until}) is before since ({since})")
        event = self._event(params.get("event", ""))
        rows = browse.takedown_list(
            self.store, kinds=(kind,) if kind else (), targets=(target,) if target else (),
            since=_midnight(since), until=_midnight(_day_after(until)))
        if event is not None:
            rows = _in_event(rows, event)
        q = params.get("q", "").strip()
        if q:
            rows = _matches(self.store, rows, q)
        return rows, event

    def _event(self, event_id: str) -> Any:
        if not event_id:
            return None
        for event in self.events:
            if event.id == event_id:
                return event
        raise HTTPException(400, f"unknown event {event_id!r}")

    async def takedown(self, request: Request) -> Response:
        ctx = await run_in_threadpool(self._takedown,
                                      row_id(request, "takedown_id", "takedown"))
        return page("compare.html", **ctx)

    def _takedown(self, takedown_id: int) -> dict[str, Any]:
        td = browse.takedown_detail(self.store, takedown_id)
        if td is None:
            raise HTTPException(404, "no such takedown")
        a = (None if td["last_ok_capture_id"] is None
             else browse.capture_body(self.store, td["last_ok_capture_id"]))
        b = browse.capture_body(self.store, td["first_capture_id"])
        return {"title": f"Takedown #{td['id']}: {td['kind']}", "td": td,
                "evidence": json.dumps(td["evidence"], ensure_ascii=False, indent=1),
                "url_id": td["url_id"], **side_by_side(a, b, self._session_params(b))}

    async def evidence(self, request: Request) -> Response:
        """The takedown's evidence package (a WACZ), built on request, as an attachment."""
        takedown_id = row_id(request, "takedown_id", "takedown")
        data = await run_in_threadpool(self._evidence, takedown_id)
        return Response(data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="takedown-{takedown_id}.wacz"'})

    def _evidence(self, takedown_id: int) -> bytes:
        if browse.takedown_detail(self.store, takedown_id) is None:
            raise HTTPException(404, "no such takedown")
        with tempfile.TemporaryFile() as fh:
            write_package(self.store, takedown_id, fh)
            fh.seek(0)
            return fh.read()

    async def compare(self, request: Request) -> Response:
        ctx = await run_in_threadpool(self._compare, request)
        return page("compare.html", **ctx)

    def _compare(self, request: Request) -> dict[str, Any]:
        url_id = row_id(request, "url_id", "URL")
        detail = browse.url_detail(self.store, url_id)
        if detail is None:
            raise HTTPException(404, "no such URL")
        ids = [c["id"] for c in detail["captures"]]
        a_id, b_id = _int_param(request, "a"), _int_param(request, "b")
        if b_id is None:
            b_id = ids[-1] if ids else None
        if a_id is None and b_id in ids:
            a_id = ids[max(0, ids.index(b_id) - 1)]
        for cid in (a_id, b_id):
            if cid is None or cid not in ids:
                raise HTTPException(404, f"capture {cid} is not a capture of this URL")
        a, b = browse.capture_body(self.store, a_id), browse.capture_body(self.store, b_id)
        return {"title": "Compare captures", "td": None, "evidence": "", "url_id": url_id,
                "captures": detail["captures"],
                **side_by_side(a, b, self._session_params(b))}

    def _session_params(self, capture: CaptureBody | None) -> set[str]:
        """The session parameters learned for *capture*'s host (see crawler/run.py)."""
        if capture is None:
            return set()
        host = host_of(capture.final_url or capture.url)
        return self.store.volatile_params().get(host, set())

    async def raw(self, request: Request) -> Response:
        cap = await run_in_threadpool(browse.capture_body, self.store,
                                      row_id(request, "capture_id", "capture"))
        if cap is None or cap.body is None:
            raise HTTPException(404, "no stored body for this capture")
        # text/plain and an attachment: a browser neither renders nor sniffs it.  A body
        # longer than READ_CAP comes as its head, and a header says so.
        headers = {"Content-Disposition": f'attachment; filename="capture-{cap.id}.txt"'}
        if cap.clipped:
            headers["X-Takedown-Clipped"] = f"first {len(cap.body)} of {cap.size} bytes"
        return Response(cap.body, media_type="text/plain", headers=headers)


    async def screenshot(self, request: Request) -> Response:
        """A browser capture's full-page screenshot: our own bytes, checked to be a PNG,
        served as image/png (with nosniff, as every response)."""
        png = await run_in_threadpool(browse.capture_screenshot, self.store,
                                      row_id(request, "capture_id", "capture"))
        if png is None:
            raise HTTPException(404, "no screenshot for this capture")
        return Response(png, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def _in_event(rows: list[dict], event: Any) -> list[dict]:
    """Takedowns detected within the event's window and scope."""
    from reports.correlate import event_window

    start, end = event_window(event)
    try:
        return [r for r in rows if start <= r["detected_at"].date() <= end
                and event.applies_to(r["target"], r["url"])]
    except RunawayPattern as exc:  # the events file's fault, said as such: never a 500
        raise HTTPException(422, str(exc)) from None

