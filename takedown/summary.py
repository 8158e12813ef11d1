"""Tables for people, JSON for scripts: round summaries and inspection listings."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from crawler.run import RoundResult

ROUND_COLUMNS = ("queued", "captures", "ok", "gone", "notice", "restricted", "failed",
                 "new_blobs", "bytes")


def print_round(result: RoundResult, console: Console | None = None) -> None:
    """The summary table printed at the end of every round."""
    console = console or wide_console()
    table = Table(title=f"round {result.round_id} at {result.at.isoformat()} "
                        f"({result.status})")
    table.add_column("target", no_wrap=True)
    for col in ROUND_COLUMNS:
        table.add_column(col.replace("_", " "), justify="right")
    totals = dict.fromkeys(ROUND_COLUMNS, 0)
    for name, counts in sorted(result.tally.targets().items()):
        table.add_row(name, *(str(counts.get(c, 0)) for c in ROUND_COLUMNS))
        for c in ROUND_COLUMNS:
            totals[c] += counts.get(c, 0)
    table.add_row("[b]all[/b]", *(f"[b]{totals[c]}[/b]" for c in ROUND_COLUMNS))
    console.print(table)
    console.print(fetches_line(result), highlight=False)
    if any("not_due" in c for c in result.tally.targets().values()):
        console.print(recheck_line(result), highlight=False)
    for host, names in sorted(result.learned.items()):
        console.print(f"learned session parameters on {host}: {', '.join(sorted(names))}")
    for note in result.notes:
        console.print(f"login wall: {note}", highlight=False, markup=False)


def fetches_line(result: RoundResult) -> str:
    """Requests made against captures recorded: a URL several targets reach is fetched
    once and recorded for each of them.  The counts are the store's (after merging)."""
    per, r = result.tally.targets(), result.tally.round
    captures = sum(c["captures"] for c in per.values())
    probes = sum(c["probes"] for c in per.values())
    pages = r["requests"] - r["probe_requests"]
    return (f"requests {pages}, captures {captures} over {len(per)} targets; "
            f"not-found probes: requests {r['probe_requests']}, captures {probes}")


def recheck_line(result: RoundResult) -> str:
    """What adaptive targets left for later: known URLs not yet due, and due ones the
    budget deferred (docs/recheck.md)."""
    per = result.tally.targets()
    return (f"recheck: {sum(c['not_due'] for c in per.values())} not due, "
            f"{sum(c['deferred'] for c in per.values())} deferred by budget")


def print_rows(rows: list[dict], as_json: bool, title: str = "",
               console: Console | None = None) -> None:
    """*rows* as a table, or as a JSON array with ``--json``."""
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
        return
    console = console or wide_console()
    if not rows:
        console.print(f"no {title}" if title else "nothing")
        return
    table = Table(title=title or None)
    for key in rows[0]:
        table.add_column(key.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)


def wide_console() -> Console:
    """Stdout; wide enough for the tables when it is not a terminal (logs, pipes)."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)
