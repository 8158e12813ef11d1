"""``takedown``: the command line (a click group).

One error boundary: libraries raise domain errors, all derived from
`snapshots.errors.TakedownError`; the group catches them once (:meth:`TakedownGroup.invoke`)
and every error a user can cause ends as one ``error: …`` line on stderr (passwords of URLs
masked) with exit code 2, usage errors included; a traceback only under ``--debug``.  Every
input is validated before anything is written.  Only ``crawl``, ``demo``, ``import-warc``,
``schedule`` and ``worker`` may create a store; the commands that read one say ``no store at DIR``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, NoReturn, TypeVar

import click
from click.core import ParameterSource

from snapshots.defaults import default, help_of
from snapshots.errors import TakedownError, without_passwords

# Upper bounds of the seconds and minutes options (jitter, misfire grace, lease; a stale
# round): past them a value is a typo, and the clocks they feed overflow.
DAY = 86400
MAX_MINUTES = 10 * 366 * 24 * 60

log = logging.getLogger("takedown")
T = TypeVar("T")


class Context:
    """The effective global options: the group's, then any given after the subcommand."""

    def __init__(self) -> None:
        self.data, self.db = "takedown-data", None
        self.debug, self.verbose = False, 0

    def store(self, create: bool = False):
        """The store of ``--data``/``--db``; a missing one is made only when *create*."""
        from snapshots import open_store

        return open_store(self.data, self.db, create=create)


def _set_global(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """Store a global option in the shared :class:`Context`.

    The group's options always land (their env var or default included); a subcommand's
    only when typed after it, so ``takedown --data A crawl W --data B`` uses B while
    ``TAKEDOWN_DATA`` cannot override a ``--data`` given before the subcommand. ``-v``
    counts on both sides; ``--debug`` holds if given on either.
    """
    obj = ctx.ensure_object(Context)
    if ctx.parent is not None and \
            ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
        return
    if param.name == "verbose":
        obj.verbose = obj.verbose + value if ctx.parent is not None else value
        _log_level(obj.verbose)
    elif param.name == "debug":
        obj.debug = obj.debug or bool(value)
    else:
        setattr(obj, param.name, value)


# The lowest level any handler prints: Scrapy's own handler prints INFO (LOG_LEVEL), and
# DEBUG with -vv.  Records below it are made (Scrapy's loggers stay at DEBUG) but never shown.
_shown_level = logging.INFO


def _log_level(verbose: int) -> None:
    global _shown_level
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    _shown_level = min(level, logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    # Scrapy sets its own loggers to DEBUG; the handler's level is what holds.
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


def global_options() -> list[click.Option]:
    """``--data``, ``--db``, ``--debug``, ``-v``: taken before or after any subcommand (the
    group and every subcommand get fresh copies of these, see :class:`TakedownGroup`)."""
    common = {"expose_value": False, "callback": _set_global}
    return [
        click.Option(["--data"], metavar="DIR", default=default("data"), show_default=True,
                     envvar="TAKEDOWN_DATA", show_envvar=True, **common,
                     help=help_of("data")),
        click.Option(["--db"], metavar="URL", default=None, envvar="TAKEDOWN_DB",
                     show_envvar=True, **common,
                     help="Metadata database URL (overrides the SQLite file), "
                          "e.g. postgresql+psycopg://…"),
        click.Option(["--debug"], is_flag=True, **common, help="Show tracebacks."),
        click.Option(["-v", "--verbose"], count=True, **common,
                     help="More log output (-vv for Scrapy's)."),
    ]


class UserError(click.ClickException):
    """What the user got wrong, shown as ``error: …`` with exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        show_error(self, file)


def show_error(exc: click.ClickException, file=None) -> None:  # type: ignore[no-untyped-def]
    """``error: MESSAGE`` (after the usage line, for a usage error), passwords masked."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        click.echo(f"{exc.ctx.get_usage()}\nTry '{exc.ctx.command_path} --help' for help.\n",
                   file=file, err=True)
    click.echo(f"error: {shown_message(exc.format_message())}", file=file, err=True)


def shown_message(message: str) -> str:
    """*message* fit for a terminal: passwords masked, control characters escaped (a NUL or
    an escape sequence copied from an input file would reach the terminal raw).

    >>> shown_message("bad key 'a\\x00\\x1b[31m' at redis://:pw@h/0")
    "bad key 'a\\\\x00\\\\x1b[31m' at redis://:***@h/0"
    """
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}"
                   if ord(c) < 256 else f"\\u{ord(c):04x}"
                   for c in without_passwords(message))


class TakedownGroup(click.Group):
    """A group whose every subcommand also takes the global options (after its name), and
    the one place where domain errors become ``error: …`` (exit 2)."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        cmd.params.extend(global_options())
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except TakedownError as exc:
            if ctx.ensure_object(Context).debug:
                raise  # main() prints the traceback, then the same line
            raise UserError(str(exc)) from exc
        except json.JSONDecodeError as exc:  # a value the store should hold as JSON
            if ctx.ensure_object(Context).debug:
                raise
            raise UserError(f"the store holds a damaged JSON value ({exc}): `takedown check` "
                            "names the rows") from exc
        except OSError as exc:
            # a path the user gave that the system refuses (a name too long, a loop, no
            # permission …) wherever it is first touched: said as such, not a traceback
            if exc.filename is None or ctx.ensure_object(Context).debug:
                raise
            raise UserError(f"{exc.filename}: {exc.strerror or exc}") from exc


# A round's stamp lies in these years, so that every date computed from it (a retention
# window of up to 100 years before it, report windows and chart margins after it) stays
# inside the calendar (years 1 to 9999).
FIRST_STAMP, END_STAMP = datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def parse_at(value: str | None, option: str = "--at") -> datetime:
    """An ISO-8601 stamp (``Z`` or an offset; naive means UTC) from 1970 to 8999, or now."""
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=option) \
            from exc
    except OverflowError:  # an offset that moves it past the calendar's ends
        at = None
    if at is None or not FIRST_STAMP <= at < END_STAMP:
        raise click.BadParameter(f"{value!r} is out of range: rounds are stamped from "
                                 "1970-01-01 to 8999-12-31 (UTC)", param_hint=option)
    return at


@click.group(cls=TakedownGroup, params=global_options(),
             context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Track takedowns of watched web pages.

    --data, --db, --debug and -v go before or after the command (after wins).
    """
    _log_level(click.get_current_context().ensure_object(Context).verbose)


@cli.command()
@click.argument("watchlist", type=click.Path(dir_okay=False))
@click.option("--at", "at", default=None, help="Capture time of the round (ISO-8601), default now.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress on stderr: bars on a terminal, plain lines otherwise.")
@click.option("--target", "only", multiple=True, help="Crawl only this target; repeatable.")
@click.option("--redis", "redis_url", default=None, envvar="TAKEDOWN_REDIS",
              help="Run the round on `takedown worker`s sharing this Redis (redis://…).")
@click.option("--adaptive", "recheck", flag_value="adaptive",
              help="Every target fetches only what is due (docs/recheck.md).")
@click.option("--fixed", "recheck", flag_value="fixed",
              help="Every target fetches every URL it knows, whatever its keys.")
@click.pass_obj
def crawl(obj: Context, watchlist: str, at: str | None, progress: bool,
          only: tuple[str, ...], redis_url: str | None, recheck: str | None) -> None:
    """Run one capture round of every target in WATCHLIST (or of the --target ones)."""
    from crawler.run import run_round
    from crawler.watchlist import load_watchlist, select_targets
    from takedown.summary import print_round

    if redis_url is not None and recheck == "adaptive":
        raise click.UsageError("--adaptive cannot be used with --redis: a distributed round "
                               "fetches every URL its targets know")
    wl = select_targets(load_watchlist(watchlist), only)  # validated before anything is written
    stamp = parse_at(at)
    frontier = _frontier(redis_url) if redis_url is not None else None  # Redis answers first
    store = obj.store(create=True)
    if frontier is not None:
        from crawler.distributed import coordinate

        result = coordinate(wl, store, stamp, frontier, progress=progress)
    else:
        result = run_round(wl, store, stamp, progress=progress, recheck=recheck or "auto")
    print_round(result)
    if result.status != "done":  # stopped by a signal: what it kept is said above
        click.echo(f"round {result.round_id} interrupted: the URLs it did not reach wait for "
                   "the next round", err=True)
        sys.exit(130)


def _notify_urls(ctx: click.Context, param: click.Parameter,
                 value: tuple[str, ...]) -> tuple[str, ...]:
    from takedown.notifying import check_urls  # Apprise loads only when a URL is given

    return check_urls(ctx, param, value) if value else value


def _notify_option(func: Callable) -> Callable:
    return click.option(
        "--notify", "notify_urls", multiple=True, metavar="URL", envvar="TAKEDOWN_NOTIFY",
        callback=_notify_urls, help="Send new takedowns and restorations to this Apprise URL "
        "(mailto://, tgram://, ntfy://, json:// …); repeatable; env TAKEDOWN_NOTIFY.")(func)


def _watchlist_option(func: Callable) -> Callable:
    return click.option("--watchlist", "watchlist_path", default=None,
                        type=click.Path(dir_okay=False),
                        help="Also notify as this watchlist's [notify] table says.")(func)


@cli.command()
@click.option("--phrases", "phrase_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra notice phrases (TSV like diffing/phrases.tsv); repeatable.")
@_notify_option
@_watchlist_option
@click.pass_obj
def detect(obj: Context, phrase_files: tuple[str, ...], notify_urls: tuple[str, ...],
           watchlist_path: str | None) -> None:
    """Run the diff engine over every capture not yet processed (idempotent)."""
    from diffing.detect import detect as run_detect
    from diffing.phrases import load_phrasebook
    from takedown.notifying import notify_options, notifying

    phrases = load_phrasebook(phrase_files)
    notify = notify_options(watchlist_path, notify_urls)
    store = obj.store()
    with notifying(store, notify):
        summary = run_detect(store, phrases)
        opened = ", ".join(f"{k} {n}" for k, n in sorted(summary.opened.items())) or "none"
        click.echo(f"detect: {summary.jobs} round-target jobs, {summary.captures} captures; "
                   f"new takedowns: {opened}; restored: {summary.restored}")
        if summary.errors:
            click.echo(f"detect: {summary.errors} captures could not be read (verdict "
                       "'error'; see `takedown history URL`)", err=True)
        for failed in summary.failed_jobs:
            click.echo(f"detect: skipped {failed}", err=True)


@cli.command()
@click.option("--test", is_flag=True, help="Send a test message to each URL.")
@_notify_option
@_watchlist_option
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def notify(obj: Context, test: bool, notify_urls: tuple[str, ...],
           watchlist_path: str | None, as_json: bool) -> None:
    """Show what each notification URL was sent and what waits; --test sends a test message."""
    from reports.notify import send_test, shown
    from snapshots.outbox import Outbox, destination_key
    from takedown.notifying import notify_options
    from takedown.summary import print_rows

    opts = notify_options(watchlist_path, notify_urls)
    urls = opts.urls if opts else ()
    if test:
        if not urls:
            raise click.UsageError("no notification URL to test: give --notify URL or "
                                   "--watchlist with a [notify] table")
        send_test(urls)
        click.echo(f"notify: test message delivered to {len(urls)} URLs")
        return
    outbox = Outbox(obj.store())
    print_rows([{"url": shown(u), **{s: 0 for s in ("pending", "sent", "known")},
                 **outbox.counts(destination_key(u))} for u in urls], as_json,
               title="notification URLs")


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
    from reports.export import write, write_file
    from snapshots.detection_store import takedown_rows

    check_kinds(kinds)
    if out is not None and not Path(out).parent.is_dir():
        raise TakedownError(f"{Path(out).parent} is not an existing folder: create it first")
    store = obj.store()
    check_targets(store, target_names)
    rows = takedown_rows(store, kinds=kinds, targets=target_names)
    if out is None:
        _to_stdout(lambda: write(rows, sys.stdout, fmt))
        return
    _replaceable(Path(out))
    try:  # the file is replaced whole, or left as it was
        write_file(rows, Path(out), fmt)
    except OSError as exc:
        raise TakedownError(f"cannot write {out}: {exc.strerror or exc}") from exc


@cli.command("export-warc")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The WARC file to write (gzip, WARC 1.1), e.g. captures.warc.gz.")
@click.option("--target", "target_names", multiple=True, help="Only these targets; repeatable.")
@click.option("--since", default=None,
              help="Only rounds stamped on or after this day (YYYY-MM-DD) or time (ISO-8601).")
@click.option("--until", default=None,
              help="Only rounds stamped on or before this day or time.")
@click.pass_obj
def export_warc(obj: Context, out: str, target_names: tuple[str, ...], since: str | None,
                until: str | None) -> None:
    """Every capture as a WARC record: responses, revisits, redirects, failed fetches as
    metadata (see docs/evidence.md)."""
    from snapshots.warc_export import Selection, export_warc, parse_bound

    sel = Selection(target_names, parse_bound(since, "--since", end=False),
                    parse_bound(until, "--until", end=True))
    if sel.since is not None and sel.until is not None and sel.until < sel.since:
        raise click.BadParameter(f"{until!r} is before --since {since!r}",
                                 param_hint="'--until'")
    path = _output_file(out)
    store = obj.store()
    check_targets(store, target_names)
    counts = _write_whole(path, lambda fh: export_warc(
        store, fh, sel, filename=path.name, about=obj.db or str(Path(obj.data).resolve())))
    click.echo(f"export-warc: {counts.summary()}; wrote {out}")


@cli.command()
@click.argument("takedown_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The package to write, e.g. takedown-12.wacz.")
@click.pass_obj
def evidence(obj: Context, takedown_id: int, out: str) -> None:
    """Pack takedown ID's captures, verdicts and hashes as a WACZ evidence package (ID as
    in the viewer's /takedowns/ID and the export's `id`)."""
    from reports.evidence import write_package

    path = _output_file(out)
    store = obj.store()
    summary = _write_whole(path, lambda fh: write_package(store, takedown_id, fh))
    click.echo(f"evidence: takedown {takedown_id}: {summary}; wrote {out}")


@cli.command()
@click.argument("package", type=click.Path(dir_okay=False))
def verify(package: str) -> None:
    """Re-check an evidence package offline: every file's SHA-256 and size, the
    datapackage digest, every WARC record's digests, every capture hash.  Exit 0 when all
    match, 1 naming each mismatch, 2 when it is no readable package."""
    from reports.evidence import verify_package

    result = verify_package(Path(package))
    for line in result.checked:
        click.echo(shown_message(f"ok: {line}"))   # lines quote the package
    for line in result.problems:
        click.echo(shown_message(f"mismatch: {line}"))
    if result.problems:
        click.echo(f"verify: {package}: {len(result.problems)} mismatches", err=True)
        sys.exit(1)
    click.echo(f"verify: {package}: all {len(result.checked)} checks match")


def _output_file(out: str) -> Path:
    """*out* as a file an output may replace (its folder exists)."""
    path = Path(out)
    if not path.parent.is_dir():
        raise TakedownError(f"{path.parent} is not an existing folder: create it first")
    _replaceable(path)
    return path


def _write_whole(path: Path, write: Callable[[BinaryIO], T]) -> T:
    """Run *write* on a new temporary sibling of *path* (bytes), then rename it over
    *path* (`reports.export.write_whole`): the file is replaced whole or left as it was."""
    from reports.export import write_whole

    try:
        return write_whole(path, write, binary=True)
    except OSError as exc:
        raise TakedownError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _replaceable(path: Path) -> None:
    """*path* may be replaced by an output file: absent, or a regular file that is not a
    database (a rename over a device, a FIFO, a symlink or the store would destroy it)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise TakedownError(f"cannot write {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(mode):
        raise TakedownError(f"{path} exists and is not a regular file (a device, a pipe, a "
                            "link or a folder): give the path of a new or a regular file")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise TakedownError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head == b"SQLite format 3\x00":
        raise TakedownError(f"{path} is a database (a store?): an export never replaces one")


def _to_stdout(write_all: Callable[[], object]) -> None:
    """Run *write_all* (writing to stdout): a reader that went away (``| head``) ends it
    quietly; a stdout that cannot be written is an error."""
    if sys.stdout is None:
        raise TakedownError("standard output is closed: give --out FILE")
    try:
        write_all()
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
        sys.exit(0)
    except OSError as exc:
        raise TakedownError(f"cannot write to standard output: {exc.strerror or exc}") from exc


def check_kinds(kinds: tuple[str, ...]) -> None:
    """Each ``--kind`` is a takedown kind (`snapshots.vocab.Kind`)."""
    from snapshots.vocab import Kind

    _check_names("kind", kinds, sorted(Kind))


def check_targets(store, names: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Each ``--target`` is a target of the store."""
    if names:
        _check_names("target", names, [t["name"] for t in store.targets()])


def _check_names(what: str, given: tuple[str, ...], known: list[str]) -> None:
    for name in given:
        if name not in known:
            raise TakedownError(f"unknown {what} {name!r}; choose from "
                                f"{', '.join(known) or f'(the store has no {what})'}")


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
    """Every capture of URL: time, round, state (detection's verdict once `detect` has read
    it, else the crawler's), kind, status, size, hash."""
    from snapshots.browse import url_history
    from snapshots.urls import normalize_url
    from takedown.summary import print_rows

    try:
        normal = normalize_url(url)
    except ValueError as exc:  # what the crawler could never have captured
        raise TakedownError(f"not a URL takedown watches: {url!r} ({exc})") from exc
    store = obj.store()
    rows = url_history(store, url) or url_history(store, normal)
    if not rows:
        raise TakedownError(f"no captures of {url}")
    print_rows([{**r, "captured_at": r["captured_at"].isoformat()} for r in rows], as_json,
               title=url)


@cli.command()
@click.argument("query")
@click.option("--removed", is_flag=True,
              help="Search the text takedowns removed (their last seen page, their removed "
                   "blocks) and list takedowns, not captures.")
@click.option("--target", "target_names", multiple=False, default=None,
              help="Only this target's captures or takedowns.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
              help="At most this many hits, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document for scripts.")
@click.pass_obj
def search(obj: Context, query: str, removed: bool, target_names: str | None, limit: int,
           as_json: bool) -> None:
    """Full-text search of what was captured: captures (one per URL and text) whose page
    text holds QUERY, ignoring case; Chinese needs no spaces.  The index is filled by
    `detect`."""
    from snapshots.search import search_captures, search_takedowns

    if not query.strip():
        raise TakedownError("empty search query")
    store = obj.store()
    check_targets(store, (target_names,) if target_names else ())
    find = search_takedowns if removed else search_captures
    hits = find(store, query, target_names, limit)
    if as_json:
        click.echo(json.dumps({"query": query, "removed": removed,
                               "hits": [h.to_json() for h in hits]}, ensure_ascii=False))
        return
    for h in hits:
        row = h.to_json()
        when = row.get("detected_at") or row["captured_at"]
        what = f"{row['kind']} " if removed else ""
        gone = "".join(f"  /takedowns/{t}" for t in row.get("takedowns", ()))
        click.echo(f"{when}  {h.target}  {what}{h.url}  {h.path}{gone}\n    {h.snippet}")
    click.echo(f"{len(hits)} {'takedowns' if removed else 'captures'}"
               f"{' (the limit)' if len(hits) == limit else ''}")


@cli.command("import-warc")
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--watchlist", "watchlist_path", default=None, type=click.Path(dir_okay=False),
              help="Put each URL under every target whose scope it matches, or the "
                   "target our own export-warc names (else: one target per host).")
@click.option("--round-every", default="1d", show_default=True,
              callback=lambda ctx, param, value: _interval_option(ctx, param, value),
              help="Length of a round's window (45s, 30m, 6h, 1d …).")
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.pass_obj
def import_warc(obj: Context, files: tuple[str, ...], watchlist_path: str | None,
                round_every: str, as_json: bool) -> None:
    """Build capture history from WARC/ARC files and WACZ packages (docs/import.md).

    One round per --round-every window, windows aligned to the Unix epoch in UTC and
    stamped with their start (a record's WARC-Takedown-Round header names its round
    instead); of a URL's records in one window the latest is imported, and each capture
    keeps its WARC-Date as its fetch time.  Revisits take their original's payload;
    records of other types, non-GET answers and URLs of no target are skipped and
    counted.  A URL already captured in its round is skipped, so importing a file twice
    adds nothing.  Exit 2 when a file is no archive at all and nothing was imported.
    """
    from crawler.warc_import import import_archives, read_archives
    from crawler.watchlist import load_watchlist, parse_interval

    wl = load_watchlist(watchlist_path) if watchlist_path else None
    read = read_archives([Path(f) for f in files])   # read before anything is written
    bad = read.unreadable()
    if len(bad) == len(files):   # no store is made for nothing
        raise TakedownError("nothing imported: " + "; ".join(bad))
    result = import_archives(read, obj.store(create=True), parse_interval(round_every), wl)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for report in result.files:
            click.echo(shown_message("\n".join(report.lines())))   # names from the file
    if bad and result.captures == 0 and result.duplicates == 0:
        raise TakedownError("nothing imported: " + "; ".join(bad))
    if as_json:
        return
    click.echo(f"import-warc: {result.captures} captures imported into "
               f"{len(result.rounds)} rounds ({sum(result.rounds.values())} new), "
               f"{len(result.targets)} targets; {result.duplicates} already in the store")


@cli.command()
@click.option("--days", default=10, show_default=True, type=click.IntRange(2, 60))
@click.option("--start", default="2021-03-15T00:00:00Z", show_default=True,
              help="Simulated date of day 0.")
@click.pass_obj
def demo(obj: Context, days: int, start: str) -> None:
    """Crawl the bundled demo site over simulated days and summarise each round."""
    from takedown.demo.run import run_demo

    stamp = parse_at(start, "--start")
    last = stamp + timedelta(days=days - 1)  # every round's stamp checked before the first
    if last >= END_STAMP:
        raise click.BadParameter(f"{days} days from {start!r} end on {last:%Y-%m-%d}, past "
                                 "8999-12-31, the last day a round can be stamped",
                                 param_hint="'--start'")
    store = obj.store(create=True)  # the data folder or database checked before it is used
    latest = store.latest_round()
    store.close()
    if latest is not None and stamp < latest[1]:
        raise TakedownError(f"{obj.data if obj.db is None else 'the store'} already holds "
                            f"round {latest[0]} at {latest[1].isoformat()}, after --start "
                            f"{stamp.isoformat()}: give a new --data (or a later --start)")
    run_demo(Path(obj.data), obj.db, days, stamp)


# -- reports: report, serve -------------------------------------------------------------------


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}") from exc


@cli.command()
@click.option("--events", "events_path", type=click.Path(dir_okay=False), default=None,
              help="Documented-events file (TOML), e.g. examples/events/….toml.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the report into (created, or replaced whole if it "
                   "holds a report; its parent must exist).")
@click.option("--format", "formats", default="html,md,csv,json", show_default=True,
              help="Comma-separated: html, md, csv, json.")
@click.option("--keywords", "keyword_paths", multiple=True, type=click.Path(dir_okay=False),
              help="Keyword list to tag takedowns with (one term per line, or CSV); "
                   "repeatable.")
@click.option("--since", default=None, help="Only takedowns first seen on or after this day.")
@click.option("--until", default=None, help="Only takedowns first seen on or before this day.")
@click.option("--target", "target_names", multiple=True, help="Only these targets; repeatable.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds; repeatable.")
@click.option("--before-days", default=default("report.before_days"), show_default=True,
              type=click.IntRange(0, 3650), help=help_of("report.before_days"))
@click.option("--after-days", default=default("report.after_days"), show_default=True,
              type=click.IntRange(0, 3650), help=help_of("report.after_days"))
@click.option("--viewer-url", default=default("viewer.url"), show_default=True,
              help=help_of("viewer.url"))
@click.option("--title", default=None, help="Report title (default: the events file's).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress on stderr: bars on a terminal, plain lines otherwise.")
@click.pass_obj
def report(obj: Context, events_path: str | None, out: str, formats: str,
           keyword_paths: tuple[str, ...], since: str | None, until: str | None,
           target_names: tuple[str, ...], kinds: tuple[str, ...], before_days: int,
           after_days: int, viewer_url: str, title: str | None, progress: bool) -> None:
    """Write a takedown report laid against documented events (HTML, Markdown, CSV, JSON)."""
    from reports.events import EventsFile, load_events_file
    from reports.keywords import load_keywords
    from reports.output import check_out, parse_formats, write_report
    from reports.report import ReportOptions, StageProgress, build_report

    try:
        fmts = parse_formats(formats)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from exc
    check_kinds(kinds)
    first, last = _day(since), _day(until)
    if first is not None and last is not None and last < first:
        raise click.BadParameter(f"{last} is before --since {first}: no day is in between",
                                 param_hint="'--until'")
    try:  # options, inputs and the output folder validated before the store is read
        options = ReportOptions(since=first, until=last, kinds=kinds,
                                targets=target_names, before_days=before_days,
                                after_days=after_days, viewer_url=viewer_url)
    except ValueError as exc:  # the viewer URL
        raise TakedownError(str(exc)) from exc
    events = load_events_file(events_path) if events_path else EventsFile("", "", ())
    lists = [load_keywords(p) for p in keyword_paths]
    check_out(Path(out))
    store = obj.store()
    check_targets(store, target_names)
    bar = StageProgress(progress)
    try:
        built = build_report(store, list(events.events), options, lists,
                             title or events.title, bar)
        files = write_report(built, Path(out), fmts)
    finally:
        bar.close()
    click.echo(f"report: {len(built.rows)} takedowns, {len(built.results)} events; wrote "
               + ", ".join(str(f) for f in files))
@cli.command()
@click.option("--host", default=default("serve.host"), show_default=True,
              help=help_of("serve.host"))
@click.option("--port", default=default("serve.port"), show_default=True,
              type=click.IntRange(0, 65535), help=help_of("serve.port"))
@click.option("--events", "events_file", default=None, type=click.Path(dir_okay=False),
              help="Documented events (TOML) for the takedown list's event filter.")
@click.option("--token", default=None, envvar="TAKEDOWN_SERVE_TOKEN",
              help="Required on every request (?token= once, then a cookie; or "
                   "Authorization: Bearer). Mandatory when bound beyond loopback; at "
                   "least 16 characters of printable ASCII, no whitespace.")
@click.pass_obj
def serve(obj: Context, host: str, port: int, events_file: str | None,
          token: str | None) -> None:
    """Serve the read-only viewer: targets, captures, takedowns, side-by-side diffs."""
    import uvicorn

    from reports.events import load_events
    from reports.viewer import check_token, create_app
    from snapshots.urls import is_loopback

    if token is not None:
        try:
            check_token(token)
        except ValueError as exc:
            raise TakedownError(f"--token (or TAKEDOWN_SERVE_TOKEN): {exc}") from exc
    if token is None and not is_loopback(host):
        raise TakedownError(f"--host {host} is not loopback: give --token (or set "
                            "TAKEDOWN_SERVE_TOKEN) so that only you can read the store")
    events = load_events(events_file) if events_file else []
    app = create_app(obj.store(), events, token, hosts=[host])
    sock = _listen(host, port)  # bound before "serving" is said: a port in use is an error
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving http://{shown}:{port}/ (read-only; Ctrl-C stops)", err=True)
    config = uvicorn.Config(app, log_level="warning", server_header=False)
    uvicorn.Server(config).run(sockets=[sock])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on *host*:*port*; TakedownError naming why it cannot be."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                    flags=socket.AI_PASSIVE)[0][0]
    except (socket.gaierror, UnicodeError) as exc:
        raise TakedownError(f"--host {host}: not an address of this machine ({exc})") from None
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise TakedownError(f"cannot listen on {host} port {port}: "
                            f"{exc.strerror or exc}") from None



# -- scheduling: schedule ---------------------------------------------------------------------


def _interval_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from crawler.watchlist import parse_interval

    if value is not None:
        try:
            parse_interval(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@cli.command()
@click.argument("watchlist", type=click.Path(dir_okay=False))
@click.option("--every", default=None, callback=_interval_option,
              help="Interval of targets without `every` (over [crawl] every; default 6h).")
@click.option("--jitter", default=0, type=click.IntRange(min=0, max=DAY), show_default=True,
              help="Seconds a run may start early or late, at random.")
@click.option("--misfire-grace", default=None, type=click.IntRange(min=1, max=DAY),
              help="Skip a run later than this many seconds (default: run it, once).")
@click.option("--phrases", "phrase_files", multiple=True, type=click.Path(dir_okay=False),
              help="Extra notice phrases for detection; repeatable.")
@_notify_option
@click.option("--list", "list_only", is_flag=True, help="Show the stored jobs and next runs.")
@click.option("--json", "as_json", is_flag=True, help="With --list: JSON for scripts.")
@click.option("--fixed", is_flag=True, help="One job per interval, each round fetching every "
              "URL (default: short rounds fetching what is due; docs/recheck.md).")
@click.pass_obj
def schedule(obj: Context, watchlist: str, every: str | None, jitter: int,
             misfire_grace: int | None, phrase_files: tuple[str, ...],
             notify_urls: tuple[str, ...], list_only: bool, as_json: bool,
             fixed: bool) -> None:
    """Run capture rounds of WATCHLIST's targets on their intervals, until SIGTERM/SIGINT."""
    from crawler.watchlist import load_watchlist
    from diffing.phrases import load_phrasebook
    from takedown.schedule import ScheduleOptions, list_jobs, run_scheduler
    from takedown.summary import print_rows

    if as_json and not list_only:
        raise click.UsageError("--json goes with --list (the scheduler itself prints logs)")
    load_watchlist(watchlist)               # validated before anything is written,
    load_phrasebook(phrase_files)           # not at every run
    obj.store(create=not list_only).close()  # the store, before the scheduler locks it
    opts = ScheduleOptions(str(Path(watchlist).resolve()), str(Path(obj.data).resolve()),
                           obj.db, every, jitter, misfire_grace,
                           tuple(str(Path(p).resolve()) for p in phrase_files), notify_urls,
                           fixed)
    if list_only:
        print_rows(list_jobs(opts), as_json, title="scheduled jobs")
        return
    run_scheduler(opts)


# -- distributed crawling: worker -------------------------------------------------------------


def _frontier(redis_url: str):  # type: ignore[no-untyped-def]
    """The work queue of distributed rounds on the Redis at *redis_url* (FrontierError when
    it does not answer)."""
    from crawler.frontier import Frontier

    return Frontier.from_url(redis_url, _redis_prefix())


def _redis_prefix() -> str:
    import os

    return os.environ.get("TAKEDOWN_REDIS_PREFIX", default("redis.prefix"))


@cli.command()
@click.option("--redis", "redis_url", required=True, envvar="TAKEDOWN_REDIS",
              help="The Redis of the deployment (redis://host:port/db).")
@click.option("--prefix", default=None, envvar="TAKEDOWN_REDIS_PREFIX",
              help=f"{help_of('redis.prefix')}  [default: {default('redis.prefix')}]")
@click.option("--lease", default=default("worker.lease"), show_default=True,
              type=click.FloatRange(min=0.5, max=DAY), help=help_of("worker.lease"))
@click.pass_obj
def worker(obj: Context, redis_url: str, prefix: str | None, lease: float) -> None:
    """Fetch the requests of distributed rounds (`crawl --redis`) until SIGTERM/SIGINT."""
    from crawler.worker import run_worker

    if lease != lease:   # NaN passes every range check
        raise click.BadParameter("must be a number of seconds, got nan", param_hint="'--lease'")
    run_worker(redis_url, obj.data, obj.db, prefix=prefix or _redis_prefix(), lease=lease)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON for scripts.")
@click.option("--stale-after", default=60, show_default=True,
              type=click.IntRange(min=0, max=MAX_MINUTES),
              metavar="MINUTES", help="A round still `running` with no capture for this "
              "long was left by a dead crawl: a problem (0: every running round is).")
@click.pass_obj
def check(obj: Context, as_json: bool, stale_after: int) -> None:
    """Verify the store (blob hashes, dangling references, abandoned rounds, schema
    revision) without changing it: exit 0 when sound, 1 with one line per problem."""
    import json
    from datetime import timedelta

    from snapshots.check import check_store, open_for_check

    engine = open_for_check(obj.data, obj.db)
    try:
        result = check_store(engine, timedelta(minutes=stale_after))
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for problem in result.problems:
            click.echo(problem.message)
        click.echo(result.summary(), err=not result.ok)
    if not result.ok:
        sys.exit(1)


def main() -> None:
    """The program: `cli`, its errors shown as ``error: …`` (exit 2; SIGINT exits 130)."""
    logging.setLogRecordFactory(_masking(logging.getLogRecordFactory()))
    try:
        cli.main(standalone_mode=False, obj=Context())
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        show_error(exc)
        sys.exit(2 if exc.exit_code in (1, 2) else exc.exit_code)
    except TakedownError as exc:  # only under --debug does one get here (TakedownGroup)
        traceback.print_exc()
        _fail(str(exc))
    except SystemExit as exc:  # a message instead of a status: an error too
        if isinstance(exc.code, str):
            _fail(exc.code)
        raise


def _masking(factory):  # type: ignore[no-untyped-def]
    """Log records made by *factory*, with the passwords of URLs in them masked (a Redis or
    database URL in Scrapy's settings line, a worker's start line), whatever the handler."""
    def make(*args, **kwargs) -> logging.LogRecord:  # type: ignore[no-untyped-def]
        record = factory(*args, **kwargs)
        if record.levelno < _shown_level:   # never printed: not worth formatting (Scrapy
            return record                   # logs every item it passes at DEBUG, whole)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: logging reports it
            return record
        masked = without_passwords(message)
        if masked != message:
            record.msg, record.args = masked, None
        return record

    return make


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {shown_message(message)}", err=True)
    sys.exit(2)
