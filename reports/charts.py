"""The report's charts, drawn by matplotlib as SVG text to inline in the HTML report.

Matplotlib's object API with its SVG canvas (no pyplot, no GUI backend, no global state).
Text stays text (``svg.fonttype = "none"``): the reader's browser draws Chinese titles
with its own fonts, and the SVG carries no glyph outlines.  Output is deterministic
(fixed ``svg.hashsalt``, no date) and stripped of its XML prologue and RDF metadata, whose
namespace URLs would be the only external addresses in the report.  Every string drawn is
escaped by matplotlib's SVG writer.  Imports matplotlib, the standard library,
``reports`` and ``snapshots.vocab``.
"""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta

import matplotlib.dates as mdates
from matplotlib import rc_context
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from reports.events import Event
from snapshots.vocab import Kind

__all__ = ["KIND_COLOURS", "lifetime_svg", "timeline_svg"]

KIND_COLOURS = {
    Kind.REMOVED: "#4c72b0", Kind.CENSORED: "#c44e52", Kind.AUTHOR_DELETED: "#8172b2",
    Kind.ACCOUNT_SUSPENDED: "#dd8452", Kind.SECTION_CLOSED: "#937860", Kind.DELISTED: "#55a868",
    Kind.EDITED: "#da8bc3",
}
RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "takedown-report",
    "font.family": ["sans-serif"],
    "font.sans-serif": ["DejaVu Sans", "WenQuanYi Zen Hei", "Noto Sans CJK SC",
                        "Microsoft YaHei", "PingFang SC"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
MAX_LABEL = 40
MAX_STEPS = 1500


def _svg(fig: Figure) -> str:
    FigureCanvasSVG(fig)
    buf = io.StringIO()
    with warnings.catch_warnings():
        # glyphs missing from the first font: the browser draws the text, not matplotlib
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return _METADATA.sub("", _PROLOGUE.sub("", buf.getvalue(), count=1), count=1)


def timeline_svg(days: dict[date, Counter], events: Sequence[Event],
                 span: tuple[date, date]) -> str:
    """Takedowns per day stacked by kind over *span* (inclusive), with *events* marked:
    a line for a day, a band for a month, year or range, each labelled by its number and
    title."""
    start, end = span
    with rc_context(RC):
        fig = Figure(figsize=(10, 4.2), layout="constrained")
        ax = fig.subplots()
        _stacked_bars(ax, days)
        for number, event in enumerate(events, start=1):
            _mark_event(ax, number, event, start, end)
        ax.set_xlim(_shift(start, -1), _shift(end, 1))
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=12))
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
        ax.set_ylabel("takedowns first seen that day")
        top = max((sum(c.values()) for c in days.values()), default=0)
        ax.set_ylim(0, max(top, 1) * 1.9)  # head room for the event labels
        ax.yaxis.get_major_locator().set_params(integer=True)
        if days:  # below the axes: the event labels hang from the top
            fig.legend(loc="outside lower center", ncols=7, frameon=False, fontsize=8)
        return _svg(fig)


def _shift(day: date, days: int) -> date:
    """*day* moved by *days*, held inside the calendar (a span may touch its ends)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return day


def _stacked_bars(ax, days: dict[date, Counter]) -> None:  # type: ignore[no-untyped-def]
    xs = list(days)
    bottom = [0] * len(xs)
    for kind, colour in KIND_COLOURS.items():
        heights = [days[d].get(kind, 0) for d in xs]
        if any(heights):
            ax.bar(xs, heights, width=0.8, bottom=bottom, color=colour, label=kind)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]


def _mark_event(ax, number: int, event: Event, start: date,  # type: ignore[no-untyped-def]
                end: date) -> None:
    if event.end < start or event.start > end:
        return
    label = f"{number}. {event.title}"
    if len(label) > MAX_LABEL:
        label = label[:MAX_LABEL - 1] + "…"
    side, shift = "right", -2  # a day's label left of its line, a band's inside the band
    if event.precision == "day":
        ax.axvline(event.start, color="#333333", linewidth=1, linestyle="--")
        where = event.start
    else:
        side, shift = "left", 2
        left, right = max(event.start, _shift(start, -1)), min(event.end, _shift(end, 1))
        ax.axvspan(left - timedelta(hours=12), right + timedelta(hours=12),
                   color="#999999", alpha=0.12, linewidth=0)
        where = left - timedelta(hours=12)
    ax.annotate(label, xy=(where, 1), xycoords=("data", "axes fraction"), rotation=90,
                ha=side, va="top", fontsize=7.5, color="#222222",
                xytext=(shift, -2), textcoords="offset points")


def lifetime_svg(bounds: Sequence[tuple[timedelta, timedelta]]) -> str | None:
    """How long removed content had been up: the share of takedowns removed within t,
    as two steps (lower and upper bound of each age), over a log time axis."""
    if not bounds:
        return None
    with rc_context(RC):
        fig = Figure(figsize=(7, 3.4), layout="constrained")
        ax = fig.subplots()
        for index, name, style in ((0, "at least (last seen alive)", "-"),
                                   (1, "at most (first seen gone)", "--")):
            hours = sorted(max(b[index].total_seconds() / 3600, 0.1) for b in bounds)
            shares = [(i + 1) / len(hours) for i in range(len(hours))]
            if len(hours) > MAX_STEPS:  # the curve's shape needs no more points than pixels
                keep = [round(i * (len(hours) - 1) / (MAX_STEPS - 1)) for i in range(MAX_STEPS)]
                hours, shares = [hours[i] for i in keep], [shares[i] for i in keep]
            ax.step(hours, shares, where="post", linestyle=style, label=name)
        ax.set_xscale("log")
        ax.set_xlabel("age at removal (hours since publication, log scale)")
        ax.set_ylabel("share of takedowns removed by then")
        ax.set_ylim(0, 1.02)
        for hours, text in ((1, "1 h"), (24, "1 day"), (24 * 7, "1 week"),
                            (24 * 30, "30 days"), (24 * 365, "1 year")):
            ax.axvline(hours, color="#cccccc", linewidth=0.6, zorder=0)
            ax.annotate(text, xy=(hours, 0.02), fontsize=7, color="#777777", rotation=90,
                        ha="right", va="bottom")
        ax.legend(loc="lower right", frameon=False, fontsize=8)
        return _svg(fig)
