"""Writing a built `Report`: self-contained HTML, Markdown, CSV and JSON.

``report.html`` (one file: styles inline, charts inline SVG, no script, a CSP meta that
forbids every fetch), ``report.md`` (tables to paste into a paper), ``takedowns.csv`` and
``events.csv`` (one row per takedown, per event), ``report.json`` (everything).  The HTML
goes through the shared autoescaping Jinja environment; only the charts, markup
matplotlib wrote from our own numbers and labels, are inserted as markup.

Rules:

- Markdown escapes every field taken from input (captured titles, URLs, terms; the events
  file's titles, summaries and sources) so none can smuggle a link, HTML or a block into
  a paper; a source is an autolink with ``<``, ``>``, spaces and controls percent-encoded.
- A CSV cell is never a formula (``reports.export.csv_cell``).
- No takedowns is a report: every format is written and says so.
- A report folder is replaced whole: every file is written into a temporary sibling
  folder, which then takes the folder's name (the old one renamed away, then removed), so
  a reader sees the old set or the new one, never a mix or a truncated file.  The parent
  must exist; a folder holding anything but report files is never replaced
  (`OutputError`).

Imports the standard library, markupsafe, ``reports`` and ``snapshots.errors``.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from reports.charts import KIND_COLOURS
from reports.correlate import EventResult, TakedownRow
from reports.export import csv_row, new_file, sibling, synced
from reports.render import render
from reports.report import Report
from snapshots.errors import TakedownError

log = logging.getLogger(__name__)

FORMATS = ("html", "md", "csv", "json")
FILES = {"html": ("report.html",), "md": ("report.md",),
         "csv": ("takedowns.csv", "events.csv"), "json": ("report.json",)}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TAKEDOWN_COLUMNS = ("id", "detected_at", "last_seen", "kind", "target", "url", "item",
                    "restored_at", "title", "published", "published_zone", "age_at_least_hours",
                    "age_at_most_hours", "terms", "events", "rule", "phrase",
                    "last_ok_captured_at", "last_ok_sha256", "first_captured_at",
                    "first_sha256", "first_status", "viewer_url")
# what could start emphasis, code, a link, HTML or a cell in a table cell; "+", "#", "("
# only matter at a line's start, which a cell never is (`md_block` escapes them there)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_MD_BLOCK_START = re.compile(r"^(?:([#+=-])|(\d+)([.)]))")
# what ends an autolink early or cannot be in one (CommonMark): percent-encoded
_AUTOLINK_UNSAFE = re.compile(r"[<>\s\x00-\x1f\x7f]")


class OutputError(TakedownError):
    """A report folder that cannot be written: its parent is not an existing folder, it
    is not a folder, it holds files that are not a report's, or writing failed."""


def parse_formats(text: str) -> tuple[str, ...]:
    """``html,md`` → ('html', 'md'); raises ValueError naming an unknown format."""
    names = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in names if f not in FORMATS]
    if bad or not names:
        raise ValueError(f"unknown report format {bad[0] if bad else text!r}; "
                         f"choose from {','.join(FORMATS)}")
    return names


def check_out(out: Path) -> None:
    """Raise `OutputError` unless *out* can take a report: its parent an existing folder,
    and *out* new, or a folder of report files only (what replacing it removes)."""
    if not out.parent.is_dir():
        raise OutputError(f"{out.parent} is not an existing folder: create it first")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out} is not a folder")
    if not out.is_dir():
        return
    known = {name for names in FILES.values() for name in names}
    try:  # a report's name on a folder, a link or a device is not a report's file either
        others = sorted(p.name for p in out.iterdir()
                        if p.name not in known or p.is_symlink() or not p.is_file())
    except OSError as exc:
        raise OutputError(f"cannot read {out}: {exc.strerror}") from exc
    if others:
        raise OutputError(f"{out} holds files that are not a report's "
                          f"({', '.join(others[:5])}): give a new or empty folder")


def write_report(report: Report, out: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write *report* into the folder *out*, replacing any report there whole (see the
    module docstring); returns the files written.  On any failure *out* is as it was."""
    check_out(out)
    tmp = sibling(out, "tmp")
    try:
        tmp.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write a report next to {out}: {exc.strerror}") from exc
    try:
        names = [name for fmt in formats for name in _write_format(report, tmp, fmt)]
        _swap_in(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write the report to {out}: {exc}") from exc
        raise
    return [out / name for name in names]


def _write_format(report: Report, folder: Path, fmt: str) -> list[str]:
    """Write one format's files into *folder*; returns their names."""
    if fmt == "html":
        _write(folder / "report.html", render_html(report))
    elif fmt == "md":
        _write(folder / "report.md", render_markdown(report))
    elif fmt == "json":
        # no indent: only then does json use its C encoder (10,000 takedowns: 5x faster)
        _write(folder / "report.json", json.dumps(
            report_dict(report), ensure_ascii=False, default=_iso) + "\n")
    elif fmt == "csv":
        _write_csv(folder / "takedowns.csv", TAKEDOWN_COLUMNS,
                   (takedown_record(report, r) for r in report.rows))
        _write_csv(folder / "events.csv", _event_columns(report), event_records(report))
    return list(FILES[fmt])


def _swap_in(new: Path, out: Path) -> None:
    """*new* takes *out*'s name; the report that held it is renamed away, then removed
    (and put back if the rename fails)."""
    if not out.exists():
        os.rename(new, out)
        return
    old = sibling(out, "old")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except OSError:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if old.exists():  # the new report is in place; a leftover is untidy, not a failure
        log.warning("could not remove the previous report, now at %s", old)


def _write(path: Path, text: str) -> None:
    with new_file(path) as fh:
        fh.write(text)
        synced(fh)


def _write_csv(path: Path, columns: Iterable[str], records: Iterable[dict]) -> None:
    with new_file(path) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(r) for r in records)
        synced(fh)


def _iso(value: object) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _hours(row: TakedownRow) -> tuple[float | None, float | None]:
    bounds = row.age_bounds
    if bounds is None:
        return None, None
    return tuple(round(b.total_seconds() / 3600, 2) for b in bounds)  # type: ignore[return-value]


def takedown_record(report: Report, row: TakedownRow) -> dict:
    """One takedown as a flat CSV row."""
    ev, ok, first = row.evidence, row.last_ok or {}, row.first
    low, high = _hours(row)
    return {
        "id": row.id, "detected_at": row.detected_at.isoformat(),
        "last_seen": row.last_seen.isoformat(), "kind": row.kind, "target": row.target,
        "url": row.url, "item": row.item,
        "restored_at": row.restored_at.isoformat() if row.restored_at else "",
        "title": row.title, "published": row.published.isoformat() if row.published else "",
        "published_zone": row.published_zone,
        "age_at_least_hours": "" if low is None else low,
        "age_at_most_hours": "" if high is None else high,
        "terms": ";".join(row.terms), "events": ";".join(row.events),
        "rule": ev.get("rule", ""), "phrase": ev.get("phrase", ""),
        "last_ok_captured_at": _iso(ok["captured_at"]) if ok else "",
        "last_ok_sha256": ok.get("sha256") or "",
        "first_captured_at": _iso(first["captured_at"]), "first_sha256": first["sha256"] or "",
        "first_status": first["status"] if first["status"] is not None else "",
        "viewer_url": report.viewer_link(row),
    }


def _event_columns(report: Report) -> list[str]:
    kinds = sorted({k for res in report.results for k in res.by_kind})
    return ["id", "when", "title", "window_start", "window_end", "takedowns", *kinds,
            "keyword_matches", "keyword_matches_any_time", "targets"]


def event_records(report: Report) -> list[dict]:
    kinds = _event_columns(report)[6:-3]
    return [{"id": res.event.id, "when": res.event.when, "title": res.event.title,
             "window_start": res.window[0].isoformat(), "window_end": res.window[1].isoformat(),
             "takedowns": len(res.takedowns), **{k: res.by_kind.get(k, 0) for k in kinds},
             "keyword_matches": len(res.matching),
             "keyword_matches_any_time": res.matching_anywhere,
             "targets": ";".join(f"{t}={n}" for t, n in res.by_target.items())}
            for res in report.results]


def report_dict(report: Report) -> dict:
    """The whole report as plain data (report.json)."""
    return {
        "title": report.title, "generated_at": report.generated_at,
        "filters": {"since": report.options.since, "until": report.options.until,
                    "kinds": list(report.options.kinds),
                    "targets": list(report.options.targets),
                    "window": {"before_days": report.options.before_days,
                               "after_days": report.options.after_days}},
        "store": report.store,
        "summary": {"takedowns": len(report.rows), "by_kind": report.by_kind,
                    "by_target": report.by_target, "restored": report.restored,
                    "span": list(report.span), "lifetime": report.lifetime,
                    "keyword_lists": [{"name": k.name, "terms": len(k.terms)}
                                      for k in report.keyword_lists]},
        "timeline": [{"day": d, **dict(c)} for d, c in report.days.items()],
        "events": [{
            "id": res.event.id, "title": res.event.title, "when": res.event.when,
            "start": res.event.start, "end": res.event.end,
            "precision": res.event.precision, "summary": res.event.summary,
            "sources": list(res.event.sources), "keywords": list(res.event.keywords),
            "scope": list(res.event.scope), "window": list(res.window),
            "takedowns": [r.id for r in res.takedowns], "by_kind": res.by_kind,
            "by_target": res.by_target,
            "keyword_matches": [{"takedown": r.id, "terms": t} for r, t in res.matching],
            "keyword_matches_any_time": res.matching_anywhere,
        } for res in report.results],
        "takedowns": [_takedown_dict(report, r) for r in report.rows],
    }


def _takedown_dict(report: Report, row: TakedownRow) -> dict:
    low, high = _hours(row)
    return {"id": row.id, "url": row.url, "target": row.target, "kind": row.kind,
            "item": row.item or None, "last_seen": row.last_seen,
            "detected_at": row.detected_at, "restored_at": row.restored_at,
            "title": row.title, "published": row.published,
            "published_zone": row.published_zone or None,
            "age_hours": None if low is None else {"at_least": low, "at_most": high},
            "terms": list(row.terms), "events": row.events,
            "viewer_url": report.viewer_link(row), "evidence": row.evidence}


# -- HTML ------------------------------------------------------------------------------


def render_html(report: Report) -> str:
    return render("report.html", r=report, csp=CSP, colours=KIND_COLOURS,
                  timeline=Markup(report.timeline_svg),
                  lifetime=Markup(report.lifetime_svg) if report.lifetime_svg else None,
                  hours=_hours, excerpt=_excerpt)


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- Markdown ----------------------------------------------------------------------------


def md(text: object) -> str:
    """Text safe in a Markdown table cell: specials backslash-escaped, one line.

    >>> md("a|b <script> [x](y)")
    'a\\\\|b \\\\<script\\\\> \\\\[x\\\\](y)'
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_block(text: object) -> str:
    """`md` for text that starts a line: a heading, list, quote or setext mark escaped too.

    >>> md_block("# not a heading"), md_block("1. not a list"), md_block("a # b")
    ('\\\\# not a heading', '1\\\\. not a list', 'a # b')
    """
    return _MD_BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}",
                               md(text))


def autolink(url: str) -> str:
    """*url* as a Markdown autolink that no character of it can end or break out of.

    >>> autolink("http://x/<script>a b")
    '<http://x/%3Cscript%3Ea%20b>'
    """
    return "<" + _AUTOLINK_UNSAFE.sub(lambda m: quote(m[0], safe=""), url) + ">"


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(report: Report) -> str:
    lines = [f"# {md(report.title)}", "", _md_intro(report), "", "## Summary", ""]
    lines += _table(("kind", "takedowns"), [*report.by_kind.items(),
                                            ("total", len(report.rows)),
                                            ("of which restored", report.restored)])
    if report.rows:
        lines += _table(("target", "takedowns"), report.by_target.items())
    lines += ["## Events", ""]
    for number, res in enumerate(report.results, start=1):
        lines += _md_event(number, res)
    return "\n".join(lines + ["## Takedowns", ""] + _md_takedowns(report))


def _md_intro(report: Report) -> str:
    opts, store = report.options, report.store
    seen = f"Takedowns first seen {report.span[0]} to {report.span[1]}" if report.rows \
        else report.no_takedowns.rstrip(".")
    return (f"Generated {report.generated_at.isoformat()} from a store of "
            f"{store['captures']:,} captures of {store['urls']:,} URLs "
            f"({store['targets']} targets, {store['rounds']} rounds). {seen}; events "
            f"matched in windows of {opts.before_days} days before to {opts.after_days} "
            f"days after.")


def _published(row: TakedownRow) -> str:
    """A publication time as the tables show it: with a mark when nobody stated its
    offset (read as UTC; its age bounds widened)."""
    if row.published is None:
        return ""
    mark = f" ({row.published_zone})" if row.offset_assumed else ""
    return row.published.isoformat() + mark


def _md_takedowns(report: Report) -> list[str]:
    if not report.rows:
        return [report.no_takedowns, ""]
    return _table(("id", "first seen gone", "last seen alive", "kind", "target", "url",
                   "item", "published", "terms", "events"),
                  [(r.id, r.detected_at.isoformat(), r.last_seen.isoformat(), r.kind,
                    r.target, r.url, r.item, _published(r), ", ".join(r.terms),
                    ", ".join(r.events)) for r in report.rows])


def _md_event(number: int, res: EventResult) -> list[str]:
    ev = res.event
    lines = [f"### {number}. {md(ev.title)} ({md(ev.when)})", ""]
    if ev.summary:
        lines += [md_block(ev.summary), ""]
    lines += [f"Window {res.window[0]} to {res.window[1]}: {len(res.takedowns)} "
              f"takedowns; {len(res.matching)} whose last seen content holds the event's "
              f"keywords ({res.matching_anywhere} at any time).", ""]
    if res.takedowns:
        lines += _table(("kind", "takedowns"), res.by_kind.items())
        lines += _table(("target", "takedowns"), res.by_target.items())
    if res.matching:
        lines += _table(("takedown", "day", "kind", "url", "terms"),
                        [(r.id, r.day, r.kind, r.url, ", ".join(t)) for r, t in res.matching])
    if ev.sources:  # the events file's own http(s) URLs (validated), as autolinks
        lines += [f"Sources: {', '.join(autolink(s) for s in ev.sources)}", ""]
    return lines
