"""The documented-events file: what happened when, to lay takedowns against.

A TOML file of ``[[event]]`` tables (and an optional top-level ``title`` for the report)::

    title = "Military-civil fusion content purge"

    [[event]]
    id       = "anshan-deletes-30-items"          # unique, [a-z0-9_-]+
    date     = 2018-06-20                         # a day; "2018-06" a month; "2015" a year
    title    = "Anshan portal reports deleting 30 items"
    summary  = "Free text, may span lines."
    sources  = ["https://example.org/report"]     # http(s) URLs
    keywords = ["军民融合", "中国鞍山"]            # substring match; "A+B" needs both
    keyword_files = ["mcf-terms.txt"]             # lists (relative to this file), see keywords
    scope    = ["gov-portal", "/gov/"]            # target names, or regexes searched in URLs

    [[event]]
    id = "forum-closures"
    start = 2021-03-15                            # a range: start and end, days or months
    end   = "2021-03"
    title = "Military forums close sections"

A scope entry that is a valid target name (``[a-z0-9_-]+``) names a target; anything else
is a regular expression searched in the takedown's URL.  Every problem raises `EventsError`
naming file:line:key; tomllib gives no positions, so `snapshots.tomllines.KeyLines` finds
them in the text.
Imports the standard library, ``reports.keywords`` and ``snapshots`` (errors, patterns,
tomllines).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reports.keywords import InputFileError, Term, load_keywords, read_input
from snapshots.errors import LocatedError
from snapshots.patterns import problem, search
from snapshots.tomllines import KeyLines, TomlChecker, load_toml

__all__ = ["Event", "EventsError", "EventsFile", "load_events", "load_events_file"]

NAME_RE = re.compile(r"[a-z0-9_-]+")
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
EVENT_KEYS = ("id", "title", "date", "start", "end", "summary", "sources", "keywords",
              "keyword_files", "scope")
PRECISIONS = ("day", "month", "year", "range")


class EventsError(InputFileError):
    """An invalid events file, located by file, line and key."""


@dataclass(frozen=True)
class Event:
    """One documented event; ``end`` is inclusive (the month's or year's last day)."""

    id: str
    title: str
    start: date
    end: date
    precision: str
    summary: str = ""
    sources: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()

    def applies_to(self, target: str, url: str) -> bool:
        """Whether a takedown of *url* on *target* falls in this event's scope.

        >>> e = Event("e", "t", date(2021, 3, 1), date(2021, 3, 31), "month",
        ...           scope=("forum", "/gov/"))
        >>> e.applies_to("forum", "http://x/a"), e.applies_to("news", "http://x/gov/1")
        (True, True)
        >>> e.applies_to("news", "http://x/forum/1")
        False
        """
        if not self.scope:
            return True
        return any(target == s if NAME_RE.fullmatch(s)
                   else search(s, url, f"scope of event {self.id}") is not None
                   for s in self.scope)

    @property
    def when(self) -> str:
        """The date as written for people: ``2018-06-20``, ``2018-06``, ``2015`` or a range."""
        if self.precision == "day":
            return self.start.isoformat()
        if self.precision == "month":
            return self.start.isoformat()[:7]
        if self.precision == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()} – {self.end.isoformat()}"


@dataclass(frozen=True)
class EventsFile:
    path: str
    title: str
    events: tuple[Event, ...]


def load_events(path: str | Path) -> list[Event]:
    """The events of the file at *path*, in file order."""
    return list(load_events_file(path).events)


def load_events_file(path: str | Path) -> EventsFile:
    """Read and validate the events file at *path* (its keyword files too)."""
    text = read_input(path, EventsError)
    return parse_events(text, str(path), base=Path(path).parent)


def parse_events(text: str, path: str = "<string>", base: Path | None = None) -> EventsFile:
    """Validate events TOML *text*; *path* names it in errors, *base* resolves files.
    Values nested deeper than tomllib's recursion goes are a syntax error too."""
    data = load_toml(text, path, EventsError)
    ctx = _Context(path, KeyLines(text), EventsError, base or Path("."))
    ctx.reject_unknown(data, {"title", "event"}, (), "at top level")
    title = data.get("title", "")
    if not isinstance(title, str):
        raise ctx.at(None, "title", f"key 'title' must be a string, got {title!r}")
    raw = data.get("event")
    if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
        raise ctx.at(None, "event", "no [[event]] tables: expected an array of tables")
    events: list[Event] = []
    for index, table in enumerate(raw):
        event = _event(index, table, ctx)
        if any(e.id == event.id for e in events):
            raise ctx.at(index, "id", f"duplicate event id {event.id!r} in key 'id'")
        events.append(event)
    return EventsFile(path, title, tuple(events))


@dataclass(frozen=True)
class _Context(TomlChecker):
    base: Path   # the folder keyword files are named from

    def at(self, index: int | None, key: str, message: str) -> LocatedError:
        """The error for *key* of the *index*-th ``[[event]]`` (of the top level: None)."""
        return self.error(() if index is None else ("event", index), key, message)


def _event(index: int, table: dict[str, Any], ctx: _Context) -> Event:
    label = f"[[event]] #{index + 1}"
    ctx.reject_unknown(table, EVENT_KEYS, ("event", index), f"in {label}")
    for key in ("id", "title"):
        if key not in table:
            raise ctx.at(index, key, f"missing key {key!r} in {label}")
    ident = table["id"]
    if not isinstance(ident, str) or not NAME_RE.fullmatch(ident):
        raise ctx.at(index, "id", f"key 'id' in {label} must match [a-z0-9_-]+, "
                                     f"got {ident!r}")
    label = f"[[event]] {ident!r}"
    start, end, precision = _when(index, table, ctx, label)
    keywords = _strings(index, table, "keywords", ctx, label, _term_check)
    for file in _strings(index, table, "keyword_files", ctx, label):
        try:
            keywords += tuple(t.text for t in load_keywords(ctx.base / file).terms)
        except InputFileError as exc:  # said where the events file names it
            raise ctx.at(index, "keyword_files", f"key 'keyword_files' in {label}: {exc}") \
                from exc
    return Event(
        id=ident, title=_one_line(index, table, "title", ctx, label), start=start, end=end,
        precision=precision, summary=_summary(index, table, ctx, label),
        sources=_strings(index, table, "sources", ctx, label, _url_check),
        keywords=tuple(dict.fromkeys(keywords)),
        scope=_strings(index, table, "scope", ctx, label, _scope_check))


def _when(index: int, table: dict, ctx: _Context, label: str) -> tuple[date, date, str]:
    if "date" in table:
        for key in ("start", "end"):
            if key in table:
                raise ctx.at(index, key, f"key {key!r} in {label}: give 'date' or "
                                            "'start' and 'end', not both")
        return _date(index, table, "date", ctx, label)
    missing = [key for key in ("start", "end") if key not in table]
    if missing:
        wanted = "'date' (or 'start' and 'end')" if len(missing) == 2 else repr(missing[0])
        raise ctx.at(index, "date" if len(missing) == 2 else missing[0],
                        f"missing key {wanted} in {label}")
    start = _date(index, table, "start", ctx, label)[0]
    end = _date(index, table, "end", ctx, label)[1]
    if end < start:
        raise ctx.at(index, "end", f"key 'end' in {label} ({end}) is before its start "
                                      f"({start})")
    return start, end, "range"


def _date(index: int, table: dict, key: str, ctx: _Context,
          label: str) -> tuple[date, date, str]:
    """A day, month or year as (first day, last day, precision)."""
    value = table[key]
    if isinstance(value, date) and not isinstance(value, datetime):
        return value, value, "day"
    match = _DATE_RE.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        year, month, day = (int(g) if g else None for g in match.groups())
        if day is not None:
            when = date(year, month, day)
            return when, when, "day"
        if month is not None:
            last = calendar.monthrange(year, month)[1]
            return date(year, month, 1), date(year, month, last), "month"
        return date(year, 1, 1), date(year, 12, 31), "year"
    except ValueError:
        raise ctx.at(index, key, f"key {key!r} in {label} must be a date (2018-06-20), a "
                                    f"month (\"2018-06\") or a year (\"2015\"), got "
                                    f"{value!r}") from None


def _one_line(index: int, table: dict, key: str, ctx: _Context, label: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise ctx.at(index, key, f"key {key!r} in {label} must be a non-empty one-line "
                                    f"string, got {value!r}")
    return value.strip()


def _summary(index: int, table: dict, ctx: _Context, label: str) -> str:
    value = table.get("summary", "")
    if not isinstance(value, str):
        raise ctx.at(index, "summary", f"key 'summary' in {label} must be a string, got "
                                          f"{value!r}")
    return " ".join(value.split())


def _strings(index: int, table: dict, key: str, ctx: _Context, label: str,
             check: Any = None) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ctx.at(index, key, f"key {key!r} in {label} must be a list of non-empty "
                                    f"strings, got {value!r}")
    for item in value:
        problem = check(item) if check else None
        if problem:
            raise ctx.at(index, key, f"key {key!r} in {label} {problem}")
    return tuple(v.strip() for v in value)


def _term_check(value: str) -> str | None:
    try:
        Term.parse(value)
    except ValueError as exc:
        return f"has a bad term: {exc}"
    return None


def _url_check(value: str) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
            or any(c.isspace() for c in value):
        return f"has {value!r}, which is not an http(s) URL"
    return None


def _scope_check(value: str) -> str | None:
    """A target name, or a regex that compiles (not nested too deep, no repeat past re's
    limit)."""
    if NAME_RE.fullmatch(value):
        return None
    why = problem(value)
    return None if why is None else f"has regex {value!r} that does not compile: {why}"
