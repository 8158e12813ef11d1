"""``takedown``: the command line (a click group).

Libraries raise domain errors; this shell turns them into ``error: …`` on stderr and exit
code 2, with a traceback only under ``--debug``.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from crawler.errors import WatchlistError
from diffing.phrases import PhrasebookError
from snapshots.errors import StoreError

log = logging.getLogger("takedown")


class Context:
    def __init__(self, data: str, db: str | None, debug: bool) -> None:
        self.data, self.db, self.debug = data, db, debug

    def store(self):
        from snapshots import open_store

        return open_store(self.data, self.db)


def parse_at(value: str | None) -> datetime:
    """An ISO-8601 stamp (``Z`` or an offset; naive means UTC), or now."""
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}") from exc
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data", default="takedown-data", show_default=True,
              envvar="TAKEDOWN_DATA", help="Folder of the SQLite store and other data.")
@click.option("--db", default=None, envvar="TAKEDOWN_DB",
              help="Metadata database URL (overrides the SQLite file), e.g. postgresql+psycopg://…")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for Scrapy's).")
@click.pass_context
def cli(ctx: click.Context, data: str, db: str | None, debug: bool, verbose: int) -> None:
    """Track takedowns of watched web pages."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Scrapy sets its own loggers to DEBUG; the handler's level is what holds.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)
    ctx.obj = Context(data, db, debug)


@cli.command()
@click.argument("watchlist", type=click.Path(dir_okay=False))
@click.option("--at", "at", default=None, help="Capture time of the round (ISO-8601), default now.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress on stderr: bars on a terminal, plain lines otherwise.")
@click.pass_obj
def crawl(obj: Context, watchlist: str, at: str | None, progress: bool) -> None:
    """Run one capture round of every target in WATCHLIST."""
    from crawler.run import run_round
    from crawler.watchlist import load_watchlist
    from takedown.summary import print_round

    wl = load_watchlist(watchlist)          # validated before anything is written
    stamp = parse_at(at)
    store = obj.store()
    result = run_round(wl, store, stamp, progress=progress)
    print_round(result)


@cli.command()
@click.option("--phrases", "phrase_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra notice phrases (TSV like diffing/phrases.tsv); repeatable.")
@click.pass_obj
def detect(obj: Context, phrase_files: tuple[str, ...]) -> None:
    """Run the diff engine over every capture not yet processed (idempotent)."""
    from diffing.detect import detect as run_detect
    from diffing.phrases import load_phrasebook

    phrases = load_phrasebook(phrase_files)
    summary = run_detect(obj.store(), phrases)
    opened = ", ".join(f"{k} {n}" for k, n in sorted(summary.opened.items())) or "none"
    click.echo(f"detect: {summary.jobs} round-target jobs, {summary.captures} captures; "
               f"new takedowns: {opened}; restored: {summary.restored}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of stdout.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds; repeatable.")
@click.option("--target", "target_names", multiple=True, help="Only these targets; repeatable.")
@click.pass_obj
def export(obj: Context, fmt: str, out: str | None, kinds: tuple[str, ...],
           target_names: tuple[str, ...]) -> None:
    """One record per takedown, with its evidence (JSON Lines or CSV)."""
    from reports.export import write
    from snapshots.evidence import takedown_rows

    rows = takedown_rows(obj.store(), kinds=kinds, targets=target_names)
    if out is None:
        write(rows, sys.stdout, fmt)
        return
    with open(out, "w", encoding="utf-8", newline="") as fh:
        write(rows, fh, fmt)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def targets(obj: Context, as_json: bool) -> None:
    """List watched targets with their URL and capture counts."""
    from takedown.summary import print_rows

    print_rows(obj.store().targets(), as_json, title="targets")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def rounds(obj: Context, as_json: bool) -> None:
    """List capture rounds: time, status, captures, new blobs, failures."""
    from takedown.summary import print_rows

    print_rows(obj.store().rounds(), as_json, title="rounds")


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def history(obj: Context, url: str, as_json: bool) -> None:
    """Every capture of URL: time, status, state, size, hash."""
    from snapshots.repo import record_dict
    from snapshots.urls import normalize_url
    from takedown.summary import print_rows

    store = obj.store()
    rows = store.history(url) or store.history(normalize_url(url))
    if not rows:
        raise click.ClickException(f"no captures of {url}")
    keep = ("captured_at", "round_id", "target", "state", "status", "size", "body_sha256",
            "final_url", "error")
    print_rows([{k: record_dict(r)[k] for k in keep} for r in rows], as_json, title=url)


@cli.command()
@click.option("--days", default=10, show_default=True, type=click.IntRange(2, 60))
@click.option("--start", default="2021-03-15T00:00:00Z", show_default=True,
              help="Simulated date of day 0.")
@click.pass_obj
def demo(obj: Context, days: int, start: str) -> None:
    """Crawl the bundled demo site over simulated days and summarise each round."""
    from takedown.demo.run import run_demo

    run_demo(Path(obj.data), obj.db, days, parse_at(start))


# -- reports (issue 4): report, serve ---------------------------------------------------------


# -- scheduling (issue 5): schedule -----------------------------------------------------------


# -- distributed crawling (issue 5): worker ---------------------------------------------------


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except (WatchlistError, StoreError, PhrasebookError) as exc:
        if "--debug" in sys.argv:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
