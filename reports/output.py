"""Writing a built `Report`: self-contained HTML, Markdown, CSV and JSON.

``report.html`` (one file: styles inline, charts inline SVG, no script, a CSP meta that
forbids every fetch), ``report.md`` (tables to paste into a paper), ``takedowns.csv`` and
``events.csv`` (one row per takedown, per event), ``report.json`` (everything).  The HTML
goes through the shared autoescaping Jinja environment; only the charts, markup
matplotlib wrote from our own numbers and labels, are inserted as markup.  Markdown
escapes captured text so it cannot smuggle links or HTML into a paper.
Imports the standard library, markupsafe and ``reports``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

from markupsafe import Markup

from reports.charts import KIND_COLOURS
from reports.correlate import EventResult, TakedownRow
from reports.render import render
from reports.report import Report

FORMATS = ("html", "md", "csv", "json")
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TAKEDOWN_COLUMNS = ("id", "detected_at", "last_seen", "kind", "target", "url", "item",
                    "restored_at", "title", "published", "age_at_least_hours",
                    "age_at_most_hours", "terms", "events", "rule", "phrase",
                    "last_ok_captured_at", "last_ok_sha256", "first_captured_at",
                    "first_sha256", "first_status", "viewer_url")
# what could start emphasis, code, a link, HTML or a cell in a table cell; "+", "#", "("
# only matter at a line's start, which a cell never is
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def parse_formats(text: str) -> tuple[str, ...]:
    """``html,md`` → ('html', 'md'); raises ValueError naming an unknown format."""
    names = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in names if f not in FORMATS]
    if bad or not names:
        raise ValueError(f"unknown report format {bad[0] if bad else text!r}; "
                         f"choose from {','.join(FORMATS)}")
    return names


def write_report(report: Report, out: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """Write *report* into the folder *out* (created); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        if fmt == "html":
            written.append(_write(out / "report.html", render_html(report)))
        elif fmt == "md":
            written.append(_write(out / "report.md", render_markdown(report)))
        elif fmt == "json":
            # no indent: only then does json use its C encoder (10,000 takedowns: 5x faster)
            written.append(_write(out / "report.json", json.dumps(
                report_dict(report), ensure_ascii=False, default=_iso) + "\n"))
        elif fmt == "csv":
            written += [_write_csv(out / "takedowns.csv", TAKEDOWN_COLUMNS,
                                   (takedown_record(report, r) for r in report.rows)),
                        _write_csv(out / "events.csv", _event_columns(report),
                                   event_records(report))]
    return written


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _write_csv(path: Path, columns: Iterable[str], records: Iterable[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return path


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


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> list[str]:
    head = list(header)
    lines = ["| " + " | ".join(md(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(report: Report) -> str:
    opts = report.options
    lines = [f"# {md(report.title)}", "",
             f"Generated {report.generated_at.isoformat()} from a store of "
             f"{report.store['captures']:,} captures of {report.store['urls']:,} URLs "
             f"({report.store['targets']} targets, {report.store['rounds']} rounds). "
             f"Takedowns first seen {report.span[0]} to {report.span[1]}; events matched "
             f"in windows of {opts.before_days} days before to {opts.after_days} days after.",
             "", "## Summary", ""]
    lines += _table(("kind", "takedowns"), [*report.by_kind.items(),
                                            ("total", len(report.rows)),
                                            ("of which restored", report.restored)])
    lines += _table(("target", "takedowns"), report.by_target.items())
    lines += ["## Events", ""]
    for number, res in enumerate(report.results, start=1):
        lines += _md_event(number, res)
    lines += ["## Takedowns", ""]
    lines += _table(("id", "first seen gone", "last seen alive", "kind", "target", "url",
                     "item", "published", "terms", "events"),
                    [(r.id, r.detected_at.isoformat(), r.last_seen.isoformat(), r.kind,
                      r.target, r.url, r.item,
                      r.published.isoformat() if r.published else "", ", ".join(r.terms),
                      ", ".join(r.events)) for r in report.rows])
    return "\n".join(lines)


def _md_event(number: int, res: EventResult) -> list[str]:
    ev = res.event
    lines = [f"### {number}. {md(ev.title)} ({md(ev.when)})", ""]
    if ev.summary:
        lines += [md(ev.summary), ""]
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
        lines += [f"Sources: {', '.join(f'<{s}>' for s in ev.sources)}", ""]
    return lines
