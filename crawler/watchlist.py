"""The watchlist: a TOML file of targets, read into frozen specs.

A minimal watchlist::

    [[target]]
    name  = "gov-news"                                 # unique, [a-z0-9_-]+
    url   = "http://127.0.0.1:8765/news/list.html"
    depth = 1              # 0: this page only; 1 or 2: also same-host links, that deep
    allow = ["/news/"]     # regexes (searched in the absolute URL) a followed link must match
    deny  = ["/ads/"]      # regexes; a matching link is never followed

Further ``[[target]]`` keys: ``items`` (CSS selector of the sub-page items of a listing),
``item_id`` (attribute name, or CSS selector relative to the item, giving an item's id),
``headers`` (table of extra request headers), ``robots`` (obey robots.txt, default true),
``retention_days`` (override of ``[crawl]``), ``every`` (schedule interval: ``45s``,
``30m``, ``6h``, ``1d``), ``proxy`` (http(s) proxy URL) and ``timezone`` (the zone of times
its pages write without an offset: ``Asia/Shanghai``, ``+08:00``; default ``[crawl]``'s).
Pages that need a browser: ``render = "browser"`` (Chromium renders each page; default
``"plain"``), with ``wait_for`` (CSS selector to wait for) and ``screenshot`` (a full-page PNG
per capture); ``cookies`` (path of a Netscape cookies.txt, relative to the watchlist's folder,
sent with the target's requests; :mod:`crawler.cookies`). Adaptive recheck: ``min_every`` and
``max_every`` bound how often one URL is fetched, ``budget`` caps the target's requests a day
(docs/recheck.md).
An optional top-level ``[crawl]`` table holds the fields of :class:`CrawlSpec` (its
``every`` is the interval of targets that name none), and an optional ``[notify]`` table
where ``takedown detect`` sends what it finds (:mod:`crawler.notify_table`).
:func:`select_targets` keeps the targets a round is asked for.

Everything is validated when the file is read, ranges included (``retention_days`` at most
36500, ``every`` at most 3650d: no date computed from them may leave the calendar). Each
problem raises :class:`~crawler.errors.WatchlistError` naming the file, line and key,
through the TOML kit the events file uses too (:mod:`snapshots.tomllines`). Unknown keys
are errors, never dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cssselect import SelectorError
from parsel.csstranslator import css2xpath

from crawler import notify_table
from crawler.errors import WatchlistError
from crawler.notify_table import NotifySpec
from snapshots.defaults import default
from snapshots.errors import without_passwords
from snapshots.inputs import UnreadableInput, read_input_file
from snapshots.patterns import problem, search
from snapshots.tomllines import Check, Invalid, KeyLines, TomlChecker, load_toml
from snapshots.zones import parse_zone

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "CrawlSpec",
    "TargetSpec",
    "Watchlist",
    "load_watchlist",
    "parse_interval",
    "parse_watchlist",
    "select_targets",
]

NAME_RE = re.compile(r"[a-z0-9_-]+")
INTERVAL_RE = re.compile(r"([0-9]+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Bounds that keep every date computed from them inside the calendar: a round's stamp less
# the retention window, the scheduler's clock plus an interval.
MAX_INTERVAL = timedelta(days=3650)
MAX_RETENTION_DAYS = 36500
# Bounds past which a value is a typo, not a wish (a billion retries of a dead host never
# end a round): parallel requests, retries, seconds of a delay or timeout, bytes of a body.
MAX_CONCURRENCY = 1024
MAX_RETRIES = 20
DAY_SECONDS = 86400.0
MAX_MAX_SIZE = 1 << 40
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class CrawlSpec:
    """Settings of the optional ``[crawl]`` table, shared by every target."""

    # what each is and its default: snapshots.defaults ("crawl.<field>")
    concurrency: int = default("crawl.concurrency")
    delay: float = default("crawl.delay")
    timeout: float = default("crawl.timeout")
    retries: int = default("crawl.retries")
    user_agent: str | None = default("crawl.user_agent")
    max_size: int = default("crawl.max_size")
    autothrottle: bool = default("crawl.autothrottle")
    retention_days: int = default("crawl.retention_days")
    every: str | None = default("crawl.every")
    timezone: str | None = default("crawl.timezone")


@dataclass(frozen=True)
class TargetSpec:
    """One ``[[target]]`` of the watchlist."""

    name: str
    url: str
    depth: int = 0
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    items: str | None = None
    item_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    robots: bool = True
    retention_days: int | None = None
    every: str | None = None
    proxy: str | None = None
    timezone: str | None = None   # of times its pages write without an offset; [crawl]'s
    render: str = "plain"          # "plain": Scrapy's download; "browser": Chromium renders it
    wait_for: str | None = None    # browser: CSS selector to wait for, else the network settling
    screenshot: bool = False       # browser: a full-page PNG per capture
    cookies: str | None = None     # path of a Netscape cookies.txt sent with its requests
    min_every: str | None = None   # adaptive recheck: a URL is never fetched more often
    max_every: str | None = None   # adaptive recheck: nor less often
    budget: int | None = None      # adaptive recheck: requests a day at most

    def allows(self, url: str) -> bool:
        """Whether a link found while crawling this target may be followed.

        Same host as the target URL, matching some ``allow`` regex (if any) and no
        ``deny`` regex, both searched in the absolute URL.

        >>> t = TargetSpec("n", "http://example.org/news/", allow=("/news/",), deny=("/ads/",))
        >>> t.allows("http://example.org/news/1.html")
        True
        >>> t.allows("http://example.org/news/ads/1.html")
        False
        >>> t.allows("http://example.org/about.html")
        False
        >>> t.allows("http://other.example/news/1.html")
        False
        """
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or host != urlsplit(self.url).hostname:
            return False
        if self.allow and not any(search(p, url, f"target {self.name}: allow")
                                  for p in self.allow):
            return False
        return not any(search(p, url, f"target {self.name}: deny") for p in self.deny)

    @property
    def interval(self) -> timedelta | None:
        """The ``every`` schedule as a timedelta, or None when unscheduled."""
        return None if self.every is None else parse_interval(self.every)


@dataclass(frozen=True)
class Watchlist:
    """A parsed watchlist file."""

    path: str
    crawl: CrawlSpec
    targets: tuple[TargetSpec, ...]
    notify: NotifySpec | None = None   # the [notify] table, when there is one


def parse_interval(text: str) -> timedelta:
    """Read a schedule interval: a positive integer and one of s, m, h, d; at most 3650d.

    >>> parse_interval("6h")
    datetime.timedelta(seconds=21600)
    >>> parse_interval("1d") == timedelta(days=1)
    True
    >>> parse_interval("6 hours")
    Traceback (most recent call last):
    ...
    ValueError: not an interval like '45s', '30m', '6h' or '1d': '6 hours'
    >>> parse_interval("3651d")
    Traceback (most recent call last):
    ...
    ValueError: interval '3651d' is longer than 3650d
    """
    match = INTERVAL_RE.fullmatch(text)
    if match is None or int(match[1]) == 0:
        raise ValueError(f"not an interval like '45s', '30m', '6h' or '1d': {text!r}")
    seconds = int(match[1]) * _UNITS[match[2]]
    if seconds > MAX_INTERVAL.total_seconds():
        raise ValueError(f"interval {text!r} is longer than {MAX_INTERVAL.days}d")
    return timedelta(seconds=seconds)


def interval_text(seconds: int) -> str:
    """The shortest spelling of an interval (`parse_interval` reads it back).

    >>> interval_text(21600), interval_text(90), interval_text(86400)
    ('6h', '90s', '1d')
    """
    size, unit = max((n, u) for u, n in _UNITS.items() if seconds % n == 0)
    return f"{seconds // size}{unit}"


def select_targets(watchlist: Watchlist, names: Iterable[str]) -> Watchlist:
    """The watchlist cut down to the targets *names* (all of them when none is given).

    >>> wl = parse_watchlist('[[target]]\\nname = "a"\\nurl = "http://x.test/"\\n', "wl.toml")
    >>> select_targets(wl, ["a"]) == wl
    True
    >>> select_targets(wl, ["b"])
    Traceback (most recent call last):
    ...
    crawler.errors.WatchlistError: wl.toml: unknown target 'b' (targets: a)
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return watchlist
    known = [t.name for t in watchlist.targets]
    for name in wanted:
        if name not in known:
            message = f"unknown target {name!r} (targets: {', '.join(known)})"
            raise WatchlistError(watchlist.path, None, "target", message)
    kept = tuple(t for t in watchlist.targets if t.name in wanted)
    return replace(watchlist, targets=kept)


def load_watchlist(path: str | Path) -> Watchlist:
    """Read and validate the watchlist file at ``path``."""
    try:
        text = read_input_file(path).decode("utf-8")
    except OSError as exc:
        raise WatchlistError(str(path), None, None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise WatchlistError(str(path), None, None, "not UTF-8 text") from exc
    except UnreadableInput as exc:
        raise WatchlistError(str(path), None, None, f"cannot read: {exc}") from exc
    return parse_watchlist(text, str(path))


def parse_watchlist(text: str, path: str = "<string>") -> Watchlist:
    """Validate watchlist TOML ``text``; ``path`` only names it in errors.

    >>> wl = parse_watchlist('[[target]]\\nname = "a"\\nurl = "http://x.test/"\\n')
    >>> wl.targets[0].depth, wl.crawl.concurrency
    (0, 8)
    >>> parse_watchlist('[[target]]\\nname = "a"\\nurl = "http://x.test/"\\ncolour = 1\\n')
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    crawler.errors.WatchlistError: <string>:4: unknown key 'colour' in [[target]] 'a' (known...)
    """
    data = load_toml(text, path, WatchlistError)
    ctx = TomlChecker(path, KeyLines(text), WatchlistError)
    ctx.reject_unknown(data, {"crawl": None, "target": None, "notify": None}, (), "at top level")
    crawl = _crawl_spec(data.get("crawl", {}), ctx)
    targets = tuple(t if t.timezone or not crawl.timezone else replace(t, timezone=crawl.timezone)
                    for t in _target_specs(data.get("target"), ctx))
    notify = None if "notify" not in data else _notify_spec(data["notify"], targets, ctx)
    return Watchlist(path, crawl, targets, notify)


# -- building the specs ------------------------------------------------------------------


def _crawl_spec(raw: Any, ctx: TomlChecker) -> CrawlSpec:
    if not isinstance(raw, dict):
        raise ctx.error((), "crawl", "'crawl' must be a table: [crawl]")
    ctx.reject_unknown(raw, _CRAWL_CHECKS, ("crawl",), "in [crawl]")
    return CrawlSpec(**ctx.check_all(raw, _CRAWL_CHECKS, ("crawl",), "[crawl]"))


def _notify_spec(raw: Any, targets: tuple[TargetSpec, ...], ctx: TomlChecker) -> NotifySpec:
    if not isinstance(raw, dict):
        raise ctx.error((), "notify", "'notify' must be a table: [notify]")
    ctx.reject_unknown(raw, _NOTIFY_CHECKS, ("notify",), "in [notify]")
    if "urls" not in raw:
        raise ctx.error(("notify",), "urls", "missing key 'urls' in [notify]")
    values = ctx.check_all(raw, _NOTIFY_CHECKS, ("notify",), "[notify]")
    known = [t.name for t in targets]
    for name in values.get("targets", ()):
        if name not in known:
            raise ctx.error(("notify",), "targets", f"key 'targets' in [notify] names unknown "
                            f"target {name!r} (targets: {', '.join(known)})")
    return NotifySpec(**values)


def _target_specs(raw: Any, ctx: TomlChecker) -> tuple[TargetSpec, ...]:
    if not raw:
        raise ctx.error((), "target", "no [[target]] tables: nothing to watch")
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise ctx.error((), "target", "'target' must be an array of tables: [[target]]")
    specs: list[TargetSpec] = []
    first: dict[str, int] = {}
    for index, table in enumerate(raw):
        spec = _target_spec(index, table, ctx)
        if spec.name in first:
            line = ctx.lines.line(("target", first[spec.name], "name"))
            message = f"duplicate target name {spec.name!r} in key 'name' (first on line {line})"
            raise ctx.error(("target", index), "name", message)
        first[spec.name] = index
        specs.append(spec)
    return tuple(specs)


def _target_spec(index: int, table: dict[str, Any], ctx: TomlChecker) -> TargetSpec:
    where = ("target", index)
    name = table.get("name")
    label = f"[[target]] {name!r}" if _is_name(name) else f"[[target]] #{index + 1}"
    ctx.reject_unknown(table, _TARGET_CHECKS, where, f"in {label}")
    for key in ("name", "url"):
        if key not in table:
            raise ctx.error(where, key, f"missing key {key!r} in {label}")
    values = ctx.check_all(table, _TARGET_CHECKS, where, label)
    if "item_id" in values and "items" not in values:
        raise ctx.error(where, "item_id", f"key 'item_id' in {label} needs 'items' too")
    _check_browser_keys(where, label, values, ctx)
    _check_recheck_keys(where, label, values, ctx)
    if "cookies" in values:
        values["cookies"] = _cookies_path(values["cookies"], where, label, ctx)
    return TargetSpec(**values)


def _check_browser_keys(where: tuple, label: str, values: dict[str, Any],
                        ctx: TomlChecker) -> None:
    """``wait_for`` and ``screenshot`` need ``render = "browser"``."""
    if values.get("render", "plain") == "browser":
        return
    for key in ("wait_for", "screenshot"):
        if key in values and values[key] is not False:
            raise ctx.error(where, key, f"key {key!r} in {label} needs render = \"browser\"")


def _check_recheck_keys(where: tuple, label: str, values: dict[str, Any],
                        ctx: TomlChecker) -> None:
    """``min_every`` may not exceed ``max_every``."""
    low, high = values.get("min_every"), values.get("max_every")
    if low is not None and high is not None and parse_interval(low) > parse_interval(high):
        raise ctx.error(where, "min_every", f"key 'min_every' in {label} is longer than "
                        f"max_every ({low} > {high})")


def _cookies_path(value: str, where: tuple, label: str, ctx: TomlChecker) -> str:
    """The cookies file's path, relative to the watchlist's folder, checked readable and in
    the Netscape cookies.txt format (its values are read at each crawl, never stored)."""
    from crawler.cookies import CookieFileError, read_cookie_file

    try:
        path = Path(value).expanduser()
        if not path.is_absolute() and ctx.path not in ("<string>", "-"):
            path = Path(ctx.path).resolve().parent / path
        read_cookie_file(path)
    except CookieFileError as exc:   # (a ValueError: caught first)
        raise ctx.error(where, "cookies", f"key 'cookies' in {label}: {exc}") from None
    except (RuntimeError, ValueError, OSError) as exc:   # ~nobody/…, a NUL, a loop
        message = f"key 'cookies' in {label}: cannot use the path {value!r}: {exc}"
        raise ctx.error(where, "cookies", message) from None
    return str(path)


# -- value checks: return the value to store, or raise Invalid ----------------------------


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and NAME_RE.fullmatch(value) is not None


def _name(value: Any) -> str:
    if not _is_name(value):
        raise Invalid(f"must match [a-z0-9_-]+, got {value!r}")
    return value


def _http_url(value: Any) -> str:
    if isinstance(value, str) and any(not c.isprintable() for c in value.replace(" ", "")):
        raise Invalid(f"must not contain control characters, got {_shown(value)}")
    if not _is_http_url(value):
        raise Invalid(f"must be an http(s) URL with a host, got {_shown(value)}")
    if "@" in urlsplit(value).netloc:
        # Fetching with them fails on most sites, and every capture, log line and report
        # would carry them: a watched page is a public page.
        raise Invalid("must not carry a user name or password (user:password@), got "
                       f"{_shown(value)}")
    return value


def _shown(value: Any) -> str:
    """*value* for an error message: a URL's password masked."""
    return without_passwords(repr(value))


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str) or any(c.isspace() or not c.isprintable() for c in value):
        return False
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and port != 0


def _depth(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in (0, 1, 2):
        raise Invalid(f"must be 0, 1 or 2, got {value!r}")
    return value


def _integer(minimum: int, maximum: int | None = None) -> Check:
    wanted = f">= {minimum}" + ("" if maximum is None else f" and <= {maximum}")

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum \
                or (maximum is not None and value > maximum):
            raise Invalid(f"must be an integer {wanted}, got {value!r}")
        return value

    return check


def _number(minimum: float, maximum: float, strict: bool = False) -> Check:
    wanted = f"{'>' if strict else '>='} {minimum:g} and <= {maximum:g}"

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not _finite(value) or value < minimum or value > maximum \
                or (strict and value == minimum):
            raise Invalid(f"must be a number {wanted}, got {value!r}")
        return float(value)

    return check


def _finite(value: int | float) -> bool:
    """Whether *value* is a finite float or an integer a float can hold (not 10**400)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\r" in value or "\n" in value:
        raise Invalid(f"must be a non-empty one-line string, got {value!r}")
    return value


def _regexes(value: Any) -> tuple[str, ...]:
    """Regexes that compile; one nested too deep or repeated past the limit does not."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"must be a list of regex strings, got {value!r}")
    for pattern in value:
        if (why := problem(pattern)) is not None:
            raise Invalid(f"has regex {pattern!r} that does not compile: {why}")
    return tuple(value)


def _css(value: Any) -> str:
    _text(value)
    try:
        css2xpath(value)
    except SelectorError as exc:
        raise Invalid(f"is not a valid CSS selector: {value!r}: {exc}") from None
    return value


def _headers(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise Invalid(f"must be a table of header names to strings, got {value!r}")
    for name, text in value.items():
        if _HEADER_NAME_RE.fullmatch(name) is None:
            raise Invalid(f"has an invalid header name {name!r}", sub=name)
        if not isinstance(text, str) or "\r" in text or "\n" in text:
            raise Invalid(f"has header {name!r} whose value is not a one-line string", sub=name)
    return tuple(value.items())


def _interval(value: Any) -> str:
    try:
        parse_interval(value if isinstance(value, str) else "")
    except ValueError:
        raise Invalid(f"must be an interval like '45s', '30m', '6h' or '1d' (at most "
                       f"{MAX_INTERVAL.days}d), got {value!r}") from None
    return value


def _timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be a time zone such as 'Asia/Shanghai' or '+08:00', got "
                      f"{_shown(value)}")
    try:
        parse_zone(value)
    except ValueError as exc:
        raise Invalid(f"names {exc}") from None
    return value.strip()


def _render(value: Any) -> str:
    if value not in ("plain", "browser"):
        raise Invalid(f"must be \"plain\" or \"browser\", got {_shown(value)}")
    return value


def _proxy(value: Any) -> str:
    if not _is_http_url(value):
        raise Invalid(f"must be an http(s) proxy URL, got {_shown(value)}")
    return value


_CRAWL_CHECKS: dict[str, Check] = {
    "concurrency": _integer(1, MAX_CONCURRENCY),
    "delay": _number(0.0, DAY_SECONDS),
    "timeout": _number(0.0, DAY_SECONDS, strict=True),
    "retries": _integer(0, MAX_RETRIES),
    "user_agent": _text,
    "max_size": _integer(0, MAX_MAX_SIZE),
    "autothrottle": _boolean,
    "retention_days": _integer(0, MAX_RETENTION_DAYS),
    "every": _interval,
    "timezone": _timezone,
}

_TARGET_CHECKS: dict[str, Check] = {
    "name": _name,
    "url": _http_url,
    "depth": _depth,
    "allow": _regexes,
    "deny": _regexes,
    "items": _css,
    "item_id": _css,
    "headers": _headers,
    "robots": _boolean,
    "retention_days": _integer(0, MAX_RETENTION_DAYS),
    "every": _interval,
    "proxy": _proxy,
    "timezone": _timezone,
    "render": _render,
    "wait_for": _css,
    "screenshot": _boolean,
    "cookies": _text,
    "min_every": _interval,
    "max_every": _interval,
    "budget": _integer(1, 10_000_000),
}

_NOTIFY_CHECKS: dict[str, Check] = {
    "urls": notify_table.apprise_urls,
    "kinds": notify_table.kinds,
    "targets": notify_table.names,
    "digest": _interval,
    "viewer_url": _http_url,
}
