"""``takedown report``: build a deletion report from the store and the documented events.

`build_report` reads the takedowns (bulk queries of ``snapshots.reporting``), reads each
one's last seen content once (``reports.content``), tags it with the keyword lists, lays
the takedowns against the events (``reports.correlate``) and draws the charts;
``reports.output`` writes it as HTML, Markdown, CSV and JSON.  Progress goes to stderr:
bars on a terminal, a plain line now and then otherwise (as ``crawler.progress`` does).
No takedowns is a report (it says so), and dates at the calendar's ends (``--until
9999-12-31``, events in year 1) never overflow.
Imports ``snapshots``, ``diffing`` (through ``reports.content``) and ``reports``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from reports.charts import lifetime_svg, timeline_svg
from reports.content import Content, Page, read_pages
from reports.correlate import (
    EventResult,
    TakedownRow,
    correlate,
    daily_counts,
    lifetime_summary,
    tally,
)
from reports.events import Event
from reports.keywords import KeywordList, Matcher, Term
from snapshots.defaults import default
from snapshots.repo import Store
from snapshots.reporting import (
    capture_texts,
    report_takedowns,
    store_counts,
    target_specs,
    texts,
)

log = logging.getLogger(__name__)

DEFAULT_VIEWER = default("viewer.url")
FIRST_DAY, LAST_DAY = date.min + timedelta(days=1), date.max - timedelta(days=1)


@dataclass(frozen=True)
class ReportOptions:
    """What to report on; *until* is inclusive (a day).  *viewer_url* must be http(s)
    (ValueError otherwise): every takedown links to it."""

    since: date | None = None
    until: date | None = None
    kinds: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    before_days: int = default("report.before_days")
    after_days: int = default("report.after_days")
    viewer_url: str = DEFAULT_VIEWER

    def __post_init__(self) -> None:
        check_viewer_url(self.viewer_url)

    @property
    def filtered(self) -> bool:
        return bool(self.since or self.until or self.kinds or self.targets)


def check_viewer_url(url: str) -> None:
    """Raise ValueError unless *url* is an absolute http(s) URL (no ``javascript:``).

    >>> check_viewer_url("javascript:alert(1)")
    Traceback (most recent call last):
    ...
    ValueError: --viewer-url 'javascript:alert(1)' is not an http(s) URL
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError(f"--viewer-url {url!r} is not an http(s) URL")


@dataclass
class Report:
    title: str
    generated_at: datetime
    options: ReportOptions
    events: list[Event]
    keyword_lists: list[KeywordList]
    store: dict
    rows: list[TakedownRow]
    results: list[EventResult]
    days: dict[date, Counter]
    span: tuple[date, date]
    lifetime: dict
    timeline_svg: str = ""
    lifetime_svg: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def viewer_link(self, row: TakedownRow) -> str:
        return f"{self.options.viewer_url.rstrip('/')}/takedowns/{row.id}"

    @property
    def by_kind(self) -> dict[str, int]:
        return tally(self.rows, "kind")

    @property
    def by_target(self) -> dict[str, int]:
        return tally(self.rows, "target")

    @property
    def restored(self) -> int:
        return sum(1 for r in self.rows if r.restored_at is not None)

    @property
    def no_takedowns(self) -> str:
        """What the report says in place of its takedowns when it has none, else ''."""
        if self.rows:
            return ""
        if self.options.filtered:
            return "No takedowns match the filters."
        return "The store holds no takedowns."

    def on_timeline(self, event: Event) -> bool:
        return event.start <= self.span[1] and event.end >= self.span[0]


class StageProgress:
    """Progress of the report's stages on stderr: a bar on a terminal, lines otherwise."""

    def __init__(self, enabled: bool, interval: float = 10.0) -> None:
        self.console = Console(stderr=True)
        self.enabled, self.interval = enabled, interval
        self.live = enabled and self.console.is_terminal
        self._bars: Progress | None = None
        self._task = None
        self._name, self._total, self._last = "", 0, 0.0

    def stage(self, name: str, total: int | None = None) -> None:
        self._name, self._total, self._last = name, total or 0, time.monotonic()
        if not self.enabled:
            return
        if self.live:
            if self._bars is None:
                self._bars = Progress(TextColumn("{task.description:<22}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      console=self.console, transient=True)
                self._bars.start()
            if self._task is not None:  # one bar: the stage under way
                self._bars.remove_task(self._task)
            self._task = self._bars.add_task(name, total=total)
        else:
            print(f"report: {name}" + (f" ({total})" if total else ""), file=sys.stderr,
                  flush=True)

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        if self._bars is not None and self._task is not None:
            self._bars.update(self._task, completed=done)
        elif not self.live and time.monotonic() - self._last >= self.interval:
            self._last = time.monotonic()
            print(f"report: {self._name} {done}/{self._total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None


def _bounds(options: ReportOptions) -> tuple[datetime | None, datetime | None]:
    since = None if options.since is None else datetime.combine(options.since, dtime(), UTC)
    # the calendar's last day has no next day: no upper bound is the same filter
    until = None if options.until in (None, date.max) else \
        datetime.combine(options.until + timedelta(days=1), dtime(), UTC)
    return since, until


def build_report(store: Store, events: list[Event], options: ReportOptions,
                 keyword_lists: list[KeywordList] | None = None, title: str = "",
                 progress: StageProgress | None = None) -> Report:
    """Everything the report says, computed once for every output format."""
    progress = progress or StageProgress(False)
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    progress.stage("reading takedowns")
    since, until = _bounds(options)
    rows = [TakedownRow(**r) for r in report_takedowns(
        store, since=since, until=until, kinds=options.kinds, targets=options.targets)]
    counts = store_counts(store)
    seconds["query"] = time.perf_counter() - t0
    lists = keyword_lists or []
    listed = [t for kl in lists for t in kl.terms]
    matcher = Matcher(listed + [Term.parse(k) for e in events for k in e.keywords])
    _read_contents(store, rows, progress, matcher)
    order = [t.text for t in dict.fromkeys(listed)]
    for r in rows:
        r.terms = tuple(t for t in order if r.hits and t in r.hits)
    seconds["content"] = time.perf_counter() - t0 - seconds["query"]
    progress.stage("correlating")
    results = correlate(events, rows, options.before_days, options.after_days)
    days = daily_counts(rows)
    report = Report(title or "Takedown report", datetime.now(UTC).replace(microsecond=0),
                    options, list(events), lists, counts, rows, results, days,
                    _span(days, options, events), lifetime_summary(rows))
    t2 = time.perf_counter()
    progress.stage("drawing charts")
    report.timeline_svg = timeline_svg(days, events, report.span)
    report.lifetime_svg = lifetime_svg([b for r in rows if (b := r.age_bounds)])
    seconds["charts"] = time.perf_counter() - t2
    report.seconds = seconds
    return report


def _span(days: dict[date, Counter], options: ReportOptions,
          events: list[Event]) -> tuple[date, date]:
    """The timeline's days: the filter's, else the takedowns', else the events'; a day
    inside the calendar's ends, since the chart draws a day of margin on either side."""
    first = options.since or (min(days) if days else None)
    last = options.until or (max(days) if days else None)
    if first is None or last is None:
        starts = [e.start for e in events] or [datetime.now(UTC).date()]
        ends = [e.end for e in events] or starts
        first, last = first or min(starts), last or max(ends)
    first = min(max(first, FIRST_DAY), LAST_DAY)
    return (first, min(max(first, last), LAST_DAY))


def _content_capture(row: TakedownRow) -> int | None:
    """The capture whose text is the takedown's last seen content: for an entry dropped
    from a listing, its own page (still serving), not the listing."""
    still = row.evidence.get("page_still_serving")
    if row.kind == "delisted" and isinstance(still, dict) and still.get("capture_id"):
        return int(still["capture_id"])
    return None if row.last_ok is None else row.last_ok["capture_id"]


def _read_contents(store: Store, rows: list[TakedownRow], progress: StageProgress,
                   matcher: Matcher) -> None:
    """Fill each row's title, content, publication time and terms from its last seen
    page (searched for *matcher*'s terms)."""
    specs = target_specs(store)
    captures = {r.id: _content_capture(r) for r in rows}
    ids = [c for c in captures.values() if c is not None]
    read = capture_texts(store, ids)
    # one reading per text, items selector, capture time and zone: a relative time
    # ("3小时前") or a local one means another instant in another capture or zone
    wanted: dict[str, set[tuple[str | None, str | None, str, datetime | None, str | None]]] = {}
    row_key: dict[int, tuple[str, str]] = {}
    for r in rows:
        sha, at = read.get(captures[r.id], (None, None))   # (None: no capture to read)
        if sha is None:
            continue
        spec = specs.get(r.target, {})
        items, item_id = (spec.get("items"), spec.get("item_id")) if r.item else (None, None)
        zone = spec.get("timezone")
        url = (r.last_ok or {}).get("final_url") or r.url
        wanted.setdefault(sha, set()).add((items, item_id, url, at, zone))
        row_key[r.id] = (sha, _page_key(sha, items, item_id, at, zone))
    total = sum(len(v) for v in wanted.values())
    progress.stage("reading pages", total)

    def pages() -> Iterator[Page]:
        for sha, html in texts(store, wanted):
            seen = set()
            for items, item_id, url, at, zone in sorted(wanted[sha], key=str):
                key = _page_key(sha, items, item_id, at, zone)
                if key not in seen:
                    seen.add(key)
                    yield key, html, url, items, item_id, at, zone

    found = dict(read_pages(pages(), total, progress.update, matcher=matcher))
    for r in rows:
        content = found.get(row_key[r.id][1]) if r.id in row_key else None
        _fill(r, content or Content(), matcher)


def _page_key(sha: str, items: str | None, item_id: str | None, at: datetime | None,
              zone: str | None) -> str:
    return f"{sha}|{items}|{item_id}|{at.isoformat() if at else ''}|{zone or ''}"


def _fill(row: TakedownRow, content: Content, matcher: Matcher) -> None:
    in_item = bool(row.item) and row.item in content.items
    text = content.items[row.item] if in_item else content.text
    hits = content.item_hits.get(row.item, frozenset()) if in_item else content.hits
    removed = row.evidence.get("removed_text") or []
    extra = "\n".join(t for t in removed if isinstance(t, str) and t not in text)
    row.title = content.title
    row.content = "\n".join(t for t in (content.title, text, extra) if t)
    row.published, row.published_zone = content.published, content.published_zone
    if in_item and content.item_published.get(row.item, (None, ""))[0] is not None:
        # a reply's own time, not its thread's
        row.published, row.published_zone = content.item_published[row.item]
    row.hits = hits | frozenset(matcher.match(extra)) if extra else hits
