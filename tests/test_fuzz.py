"""Fuzzing: the project's parsers and readers fed random and hostile input.

Each property hands one reader what a user or a watched site could hand it (random text,
random bytes, and documents built from the keys, tags and URLs the reader knows, mixed
with garbage keys, values and types) and holds it to its documented contract:

* watchlists (`crawler.watchlist`): a `Watchlist`, or a `WatchlistError` whose message
  starts with the file and, when the problem has a place in the file, its line;
* events files and keyword lists (`reports.events`, `reports.keywords`): an
  `InputFileError` (`EventsError`, `KeywordsError`) and nothing else;
* phrase files (`diffing.phrases`): `PhrasebookError` only; matching never raises;
* extraction and classification (`diffing.extract`, `diffing.classify`): never raise, and
  a verdict's state and kind are known ones;
* URL normalisation (`snapshots.urls`): ValueError only, and idempotent;
* block diffs (`diffing.text`): never raise;
* the viewer's routes (`reports.viewer`), over a store of hostile captures: any path and
  query answers under 500.

Budget: the hypothesis profile ``fuzz-<TAKEDOWN_FUZZ_PROFILE>`` registered in
tests/conftest.py: ``ci`` (the default, `make test`) runs 50 inputs a property, ``fuzz``
(`make fuzz`) runs ``TAKEDOWN_FUZZ_EXAMPLES`` a property (default 10 000, over 10^5 in
all).  Every property counts the inputs it ran and those it failed on (a crash: anything
its contract does not allow); the counts are printed at the end of the session.  A crash
found once stays as an ``@example``.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import traceback
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from hostile_store import HUGE, hostile_viewer
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

from crawler.errors import WatchlistError
from crawler.watchlist import _CRAWL_CHECKS, _TARGET_CHECKS, load_watchlist, parse_watchlist
from diffing.classify import Fetch, classify
from diffing.extract import extract
from diffing.phrases import (
    COLUMNS,
    MATCH_TYPES,
    PHRASE_STATES,
    PhrasebookError,
    load_phrasebook,
)
from diffing.results import Block
from diffing.text import blocks_diff, substantive_removals
from reports.events import EVENT_KEYS, parse_events
from reports.keywords import CSV_COLUMNS, InputFileError, load_keywords
from snapshots.urls import normalize_url
from snapshots.vocab import NOTICE_KINDS

FUZZ = settings.get_profile("fuzz-" + os.environ.get("TAKEDOWN_FUZZ_PROFILE", "ci"))
BOOK = load_phrasebook()
AT = datetime(2021, 3, 22, tzinfo=UTC)
CAPTURE_STATES = {"ok", "gone", "notice", "moved", "restricted", "failed"}

# -- counting inputs and crashes -----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
TRIED: Counter[str] = Counter()
CRASHED: Counter[str] = Counter()
KINDS: dict[str, Counter[str]] = {}  # property -> crash signature -> inputs


def signature(exc: BaseException) -> str:
    """The exception's type and the last line of project code it went through."""
    ours = [frame for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename.startswith(str(ROOT)) and "/tests/" not in frame.filename
            and "/.venv/" not in frame.filename]
    where = f" at {Path(ours[-1].filename).relative_to(ROOT)}:{ours[-1].lineno}" if ours else ""
    return f"{type(exc).__name__}{where}"


def counted(test):
    """Count every input *test* runs, and every one it fails on (by signature), before
    re-raising."""
    name = test.__name__.removeprefix("test_")

    @functools.wraps(test)
    def run(*args, **kwargs):
        TRIED[name] += 1
        try:
            test(*args, **kwargs)
        except HypothesisException:
            raise
        except Exception as exc:
            CRASHED[name] += 1
            KINDS.setdefault(name, Counter())[signature(exc)] += 1
            raise

    return run


class _Tally:
    """Prints the counts in pytest's terminal summary."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        write = terminalreporter.write_line
        terminalreporter.section("fuzz: inputs tried and crashes, per property")
        for name in sorted(TRIED):
            kinds = KINDS.get(name, Counter())
            write(f"{name:<62}{TRIED[name]:>9} tried{CRASHED[name]:>6} crashed"
                  f"{len(kinds):>3} kinds")
            for kind, count in kinds.most_common():
                write(f"    {count:>6} x {kind}")
        write(f"{'total':<62}{sum(TRIED.values()):>9} tried{sum(CRASHED.values()):>6} crashed")


@pytest.fixture(scope="module", autouse=True)
def _tally(request: pytest.FixtureRequest) -> None:
    manager = request.config.pluginmanager
    if not manager.has_plugin("takedown-fuzz-tally"):
        manager.register(_Tally(), "takedown-fuzz-tally")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where inputs are written as files; holds keyword lists an events file may name."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "terms.txt").write_text("军民融合\nsection+closed\n", encoding="utf-8")
    (root / "bad.csv").write_text("colour\nred\n", encoding="utf-8")
    (root / "empty.txt").write_text("# nothing\n", encoding="utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    (root / "dir").mkdir()
    return root


# -- building blocks -----------------------------------------------------------------------

RANDOM_BYTES_TEXT = st.binary(max_size=400).map(lambda b: b.decode("utf-8", "replace"))
MOJIBAKE = st.text(max_size=60).map(lambda s: s.encode("utf-8").decode("latin-1"))
ANY_TEXT = st.one_of(st.text(max_size=200), RANDOM_BYTES_TEXT, MOJIBAKE)


def nested(opener: str, closer: str) -> st.SearchStrategy[str]:
    """Brackets nested 1 to 3000 deep: the depth that breaks recursive parsers."""
    return st.integers(1, 3000).map(lambda n: opener * n + closer * n)


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of *choices* (weight, strategy), drawn by weight: `st.one_of` drops repeats.
    Heaviest first, since hypothesis draws the first one more often than its share."""
    ranked = sorted(choices, key=lambda choice: -choice[0])
    pool = [strategy for weight, strategy in ranked for _ in range(weight)]
    return st.integers(0, len(pool) - 1).flatmap(pool.__getitem__)


def odds(yes: int, no: int) -> st.SearchStrategy[bool]:
    """True *yes* times in *yes* + *no*."""
    return weighted((yes, st.just(True)), (no, st.just(False)))


def joined(tokens: list[str], max_size: int = 8) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=max_size).map("".join)


SEGMENTS = st.one_of(st.sampled_from(
    ["", ".", "..", "%2e", "%2E%2e", "a;jsessionid=1", "b;sid=2;x", "新闻", "%zz", "%7e", "%2F",
     "a b", "~", "100%", "index.html", "thread-1.html", "\t", "é"]), st.text(max_size=5))
QUERY_NAMES = st.sampled_from(["a", "b", "tid", "sid", "PHPSESSID", "%73id", "utm_x", "formhash",
                               "k", "", "=", "标题"])
QUERY_FIELDS = st.tuples(QUERY_NAMES, st.sampled_from(["", "=", "=1", "=a=b", "=%7E", "=a b"]))
HOSTS = st.one_of(st.sampled_from(
    ["example.org", "EXAMPLE.org", "127.0.0.1", "[::1]", "[::1", "[v1.x]", "例子.测试",
     "xn--bcher-kva.example", "xn--", "a..b", "", "%41", "ß.de", "\u3002", "a b", "0x7f.1",
     "[::ffff:127.0.0.1]"]), st.text(max_size=6))


@st.composite
def built_urls(draw) -> str:
    scheme = draw(st.sampled_from(["http://", "https://", "HTTP://", "hTTps://", "ftp://", "",
                                   "//", "javascript:", "http:", "http:///", "data:,"]))
    userinfo = draw(st.sampled_from(["", "user@", "u:p@", "@", "a@b@", "a#b@", "%40@"]))
    port = draw(st.sampled_from(["", ":", ":80", ":443", ":8080", ":65536", ":-1", ":x", ":0",
                                 ":99999999999999999999"]))
    path = "/".join(draw(st.lists(SEGMENTS, max_size=5)))
    fields = draw(st.lists(QUERY_FIELDS.map("".join), max_size=4))
    query = draw(st.sampled_from(["", "?"])) + "&".join(fields) if fields else ""
    fragment = draw(st.sampled_from(["", "#", "#top", "#a?b"]))
    return f"{scheme}{userinfo}{draw(HOSTS)}{port}/{path}{query}{fragment}"


URLS = st.one_of(built_urls(), st.sampled_from(
    ["http://127.0.0.1:8/thread-1.html", "http://127.0.0.1:8/", "http://127.0.0.1:8/index.html",
     "http://[::1", "http://a:99999/", "/root/relative", "../../up", "?q=1", "#frag",
     "mailto:x@y", " http://a/ ", "", "http://a/\x00", "http://a\tb/c"]), st.text(max_size=20))

# -- TOML documents --------------------------------------------------------------------------

_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def toml_string(text: str) -> str:
    return '"' + "".join(_TOML_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if ord(c) < 32 or c == "\x7f"
                                                  else c) for c in text) + '"'


def toml_value(value) -> str:
    """*value* written as TOML (strings always as basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else toml_string(key)


GARBAGE_KEYS = st.one_of(st.sampled_from(["colour", "Name", "URL", "", " ", "a.b", "target"]),
                         st.text(max_size=8))
SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 3), st.integers(), st.integers(-(10**400), 10**400),
    st.floats(), st.text(max_size=12), st.dates(), st.datetimes(timezones=st.none() | st.just(UTC)),
    st.times())
_ODD_SYNTAX = st.sampled_from(
    ['"unterminated', "[1, 2", "{a=}", "0x", "1979-13-45", "'''", "+nan", '"""\nmulti\nline\n"""',
     "'''\n[[target]]\n'''", "[\n1,\n2,\n]", '{ a = 1, "b.c" = [2, { d = 3 }] }', "1_000",
     "0o777", "-0.0", "''"])
RAW_VALUES = weighted(  # written as is: bad syntax, multi-line strings, deep nesting (rarer)
    (7, _ODD_SYNTAX), (1, st.one_of(nested("[", "]"), nested("{a=", "}").map(
        lambda s: s.replace("{a=}", "{a=1}")))))
REGEXES = st.one_of(
    st.sampled_from(["/news/", ".*", "(", "[", "a{4294967296}", "(?P<a>x)(?P=b)", "\\", "(?x) a",
                     "\\N{foo}", "[a-", "a**", "(?<=a+)b"]),
    joined(["(", ")", "[", "]", "*", "+", "?", "{2,1}", "{99999999999}", "(?P<", ">", "\\", "a",
            "|", "(?<=", "^", "$", "(?i)", "\\p", "删除"]),
    nested("(", ")"))
CSS = st.one_of(
    st.sampled_from(["div.post", "a[", ">>", "::before", "li:nth-child(2n+1)", ":not(:not(a))",
                     "a:lang()", "*|*", "\\", "", "  ", "div\npost", ":contains('x')"]),
    joined(["div", ".a", "#b", "[x=", "]", ":nth-child(", "2n+1", ")", ">", "~", "+", " ", "*",
            "::x", ":not(", "'", '"', "|", "ns|a", ":has(", "@", "0", "\\"]))


def toml_values(strings: st.SearchStrategy[str]) -> st.SearchStrategy:
    leaves = st.one_of(SCALARS, strings)
    return st.recursive(leaves, lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.one_of(strings, GARBAGE_KEYS), kids,
                                                    max_size=3)), max_leaves=6)


@st.composite
def toml_lines(draw, fields: dict[str, st.SearchStrategy], strings: st.SearchStrategy[str],
               taken: tuple[str, ...] = ()) -> list[str]:
    """``key = value`` lines: mostly known keys with values made for them (*fields*), some
    garbage keys, and values of every type and of broken syntax."""
    known = st.sampled_from(sorted(fields))
    typed = toml_values(strings).map(toml_value)
    anything = weighted((5, typed), (1, RAW_VALUES))
    keys = draw(st.lists(weighted((8, known), (1, GARBAGE_KEYS)), max_size=6,
                         unique=True))  # a key twice is a TOML error: seen often enough anyway
    lines = []
    for key in (k for k in keys if k not in taken):
        fitting = fields[key].map(toml_value) if key in fields else anything
        lines.append(f"{toml_key(key)} = {draw(weighted((3, fitting), (1, anything)))}")
    return lines


@dataclass(frozen=True)
class TomlShape:
    """A reader's TOML: its main table header (``[[target]]``), the keys each table header
    it knows holds (with values made for them), the lines a main table opens with (the keys
    it must have), the top-level keys, and strings to put anywhere."""

    main: str
    tables: dict[str, dict[str, st.SearchStrategy]]
    opening: dict[str, st.SearchStrategy]
    top: dict[str, st.SearchStrategy]
    strings: st.SearchStrategy[str]


@st.composite
def toml_documents(draw, shape: TomlShape) -> str:
    """A TOML text: mostly main tables, most of them opening with their required keys (so
    validation gets past them), other and garbage tables, comments, either line end."""
    lines = draw(toml_lines(shape.top, shape.strings)) if draw(odds(1, 3)) else []
    main, known = st.just(shape.main), st.sampled_from(sorted(shape.tables))
    garbage = GARBAGE_KEYS.map(lambda k: f"[{toml_key(k)}]")
    for _ in range(draw(st.sampled_from([1, 2, 3, 1, 2, 4, 3, 0]))):
        header = draw(weighted((8, main), (2, known), (1, garbage)))
        lines.append(header + draw(st.sampled_from(["", "  # comment", " "])))
        opened = tuple(k for k in shape.opening if header == shape.main and draw(odds(9, 1)))
        lines += [f"{key} = {toml_value(draw(shape.opening[key]))}" for key in opened]
        lines += draw(toml_lines(shape.tables.get(header, shape.top), shape.strings, opened))
        lines += draw(st.lists(st.sampled_from(["", "# note", "   ", "\t# x = 1"]), max_size=1))
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


# -- watchlists ------------------------------------------------------------------------------

NAMES = st.one_of(st.sampled_from(["a", "b", "gov-news", "A", "", "a b", "名"]),
                  st.text(max_size=5))
INTERVALS = st.one_of(
    st.sampled_from(["6h", "0s", "45s", "1d", "6 hours", "1D", "-1h", "1.5h", ""]),
    st.integers(0, 10**30).map(lambda n: f"{n}{'smhd'[n % 4]}"))
NUMBERS = st.one_of(st.integers(-5, 100), st.integers(-(10**400), 10**400), st.floats(),
                    st.booleans())
HEADER_TABLES = st.dictionaries(
    st.one_of(st.sampled_from(["User-Agent", "Accept", "bad header", "", "X-Ä"]),
              st.text(max_size=5)),
    st.one_of(st.text(max_size=10), st.sampled_from(["line\nbreak", "x\r"]), SCALARS),
    max_size=3)
ZONES = st.one_of(
    st.sampled_from(["Asia/Shanghai", "+08:00", "UTC", "-0530", "UTC+8", "+25:00", "Mars/Base",
                     "../../etc/passwd", "Asia", "", "x" * 300, "Asia/\x00"]),
    st.text(max_size=12), NUMBERS)
TARGET_FIELDS = {
    "timezone": ZONES, "name": NAMES, "url": URLS, "proxy": URLS,
    "depth": st.one_of(st.integers(-1, 3), NUMBERS),
    "allow": st.lists(REGEXES, max_size=3), "deny": st.lists(REGEXES, max_size=3),
    "items": CSS, "item_id": CSS, "headers": HEADER_TABLES, "robots": st.booleans(),
    "retention_days": NUMBERS, "every": INTERVALS,
    "render": st.sampled_from(["plain", "browser", "Browser", "", 1]), "wait_for": CSS,
    "screenshot": st.one_of(st.booleans(), NUMBERS),
    "cookies": st.sampled_from(["cookies.txt", "/dev/null", "/dev/zero", "/", "", "\x00"]),
    "min_every": INTERVALS, "max_every": INTERVALS, "budget": NUMBERS}
CRAWL_FIELDS = {
    "autothrottle": st.booleans(), "retention_days": NUMBERS, "concurrency": NUMBERS,
    "retries": NUMBERS, "max_size": NUMBERS, "delay": NUMBERS, "timeout": NUMBERS,
    "every": INTERVALS, "user_agent": st.text(max_size=10), "timezone": ZONES}
WATCH_STRINGS = st.one_of(URLS, REGEXES, CSS, INTERVALS, NAMES)
WATCHLISTS = toml_documents(TomlShape(
    main="[[target]]",
    tables={"[[target]]": TARGET_FIELDS, '["target"]': TARGET_FIELDS, "[crawl]": CRAWL_FIELDS,
            "[ crawl ]": CRAWL_FIELDS, "[[crawl]]": CRAWL_FIELDS, "[target]": TARGET_FIELDS,
            "[crawl.x]": CRAWL_FIELDS, "[target.headers]": {"User-Agent": st.text(max_size=5)},
            "[[target.allow]]": TARGET_FIELDS},
    opening={"name": st.sampled_from(["a", "b", "c", "gov-news"]),
             "url": st.just("http://127.0.0.1:8/news/")},
    top={"crawl": st.just({}), "target": st.just([]), "depth": st.just(1)},
    strings=WATCH_STRINGS))


TARGET = '[[target]]\nname = "a"\nurl = "http://127.0.0.1:8/news/"\n'  # examples add to it
DEEP_REGEX = "(" * 2000 + ")" * 2000


def check_watchlist_error(exc: WatchlistError, path: str, text: str) -> None:
    """The error names the file, and the line when the problem has one."""
    assert str(exc).startswith(path), str(exc)
    if exc.line is None:
        assert exc.message.startswith(("no [[target]] tables", "not UTF-8")), str(exc)
    else:
        assert str(exc).startswith(f"{path}:{exc.line}: "), str(exc)
        assert 1 <= exc.line <= text.count("\n") + 1, str(exc)


@FUZZ
@given(text=weighted((3, WATCHLISTS), (1, ANY_TEXT)))
@example(text="[[target]]\nallow = " + "[" * 500 + "]" * 500)
@example(text=TARGET + f'allow = ["{DEEP_REGEX}"]')
@example(text=TARGET + 'deny = ["a{4294967296}"]')
@example(text="[crawl]\ndelay = 1" + "0" * 400 + "\n" + TARGET)
@counted
def test_watchlist_parser_raises_only_located_watchlist_errors(text: str) -> None:
    try:
        parse_watchlist(text, "wl/fuzz.toml")
    except WatchlistError as exc:
        check_watchlist_error(exc, "wl/fuzz.toml", text)


@FUZZ
@given(data=st.one_of(st.binary(max_size=400), WATCHLISTS.map(str.encode)))
@example(data=b"\r\x00")  # a lone CR ends a line, as read_text reads it
@counted
def test_watchlist_file_of_random_bytes_raises_only_watchlist_errors(
        workdir: Path, data: bytes) -> None:
    path = workdir / "watchlist.toml"
    path.write_bytes(data)
    try:
        load_watchlist(path)
    except WatchlistError as exc:
        text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        check_watchlist_error(exc, str(path), text)


# -- events files and keyword lists ----------------------------------------------------------

TERMS = st.one_of(st.sampled_from(["军民融合", "A+B", "C++", "+86", "a++b", "++", "+", "", " ",
                                   "#x", "a\nb", '"', 'say "hi", ok', "\ufeff"]),
                  st.text(max_size=10), st.integers(0, 140_000).map(lambda n: "x" * n))


FILES = st.one_of(  # keyword lists in `workdir`, and names that are not one
    st.sampled_from(["terms.txt", "bad.csv", "empty.txt", "latin1.txt", "dir", "missing.txt",
                     "..", "", "a\x00b", "x" * 300]),
    st.text(max_size=8).filter(lambda s: "/" not in s))
DATES = st.one_of(
    st.dates(), st.datetimes(), st.times(), st.integers(0, 10000), st.sampled_from(
        ["2018-06-20", "2018-06", "2015", "2018-13", "0000", "2018-02-30", "9999-12", "2018-6-1",
         "", "2018-06-20T10:00"]))
EVENT_FIELDS = {
    "id": NAMES, "title": st.one_of(st.text(max_size=10), st.just("two\nlines")),
    "summary": st.text(max_size=20), "date": DATES, "start": DATES, "end": DATES,
    "sources": st.lists(URLS, max_size=3), "keywords": st.lists(TERMS, max_size=3),
    "keyword_files": st.lists(FILES, max_size=2),
    "scope": st.lists(st.one_of(NAMES, REGEXES), max_size=3)}
EVENTS = toml_documents(TomlShape(
    main="[[event]]",
    tables={"[[event]]": EVENT_FIELDS, "[event]": EVENT_FIELDS, "[[title]]": EVENT_FIELDS,
            "[event.x]": EVENT_FIELDS},
    opening={"id": st.sampled_from(["a", "b", "c", "anshan"]), "title": st.just("t"),
             "date": st.just(date(2018, 6, 20))},
    top={"title": st.one_of(st.text(max_size=10), SCALARS), "event": st.just([])},
    strings=st.one_of(URLS, REGEXES, NAMES, TERMS, FILES)))


EVENT = '[[event]]\nid = "a"\ntitle = "t"\ndate = 2018-06-20\n'  # examples add to it


def test_documents_are_built_from_every_key_the_readers_know() -> None:
    """A key added to the watchlist or the events file gets values made for it here too."""
    assert set(TARGET_FIELDS) == set(_TARGET_CHECKS)
    assert set(CRAWL_FIELDS) == set(_CRAWL_CHECKS)
    assert set(EVENT_FIELDS) == set(EVENT_KEYS)


@FUZZ
@given(text=weighted((3, EVENTS), (1, ANY_TEXT)))
@example(text="title = " + "{a=" * 400 + "1" + "}" * 400)
@example(text=EVENT + 'scope = ["{99999999999}"]')
@example(text=EVENT + f'scope = ["{DEEP_REGEX}"]')
@example(text=EVENT + 'keyword_files = ["a\\u0000b"]')
@counted
def test_events_parser_raises_only_input_file_errors(workdir: Path, text: str) -> None:
    try:
        parse_events(text, "events.toml", base=workdir)
    except InputFileError as exc:  # EventsError, or KeywordsError from a keyword file
        assert str(exc).startswith(("events.toml", str(workdir))), str(exc)


@st.composite
def csv_texts(draw) -> str:
    header = draw(st.lists(st.one_of(st.sampled_from([*CSV_COLUMNS, " Keyword ", "KEYWORD"]),
                                     GARBAGE_KEYS), max_size=4))
    rows = draw(st.lists(st.lists(TERMS, max_size=4), max_size=5))
    if draw(st.booleans()):
        out = io.StringIO()
        csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(
            [header, *rows])
        return out.getvalue()
    return "\n".join(",".join(row) for row in [header, *rows])  # raw: quotes unbalanced


PLAIN_LISTS = st.lists(TERMS, max_size=8).map("\n".join)


@FUZZ
@given(suffix=st.sampled_from([".csv", ".CSV", ".txt", ""]),
       text=st.one_of(csv_texts(), PLAIN_LISTS, ANY_TEXT),
       bom=st.booleans(), raw=st.none() | st.binary(max_size=200))
@example(suffix=".csv", text='keyword\n"' + "x" * 140_000, bom=False, raw=None)
@counted
def test_keyword_list_reader_raises_only_keywords_errors(
        workdir: Path, suffix: str, text: str, bom: bool, raw: bytes | None) -> None:
    path = workdir / f"keywords{suffix}"
    path.write_bytes(raw if raw is not None else ("\ufeff" * bom + text).encode("utf-8"))
    try:
        found = load_keywords(path)
    except InputFileError as exc:
        assert str(exc).startswith(str(path)), str(exc)
    else:
        assert found.terms and all(t.parts and all(t.parts) for t in found.terms)


# -- phrase files ----------------------------------------------------------------------------

BUNDLED_PATTERNS = [p.pattern for p in BOOK.phrases]
PATTERNS = st.one_of(
    st.sampled_from(BUNDLED_PATTERNS), REGEXES, st.text(max_size=15),
    st.sampled_from(["\u200b", "\u200b\u200b\u200b\u200b", "\u00ad", " 。 ", "Ｔｈｉｓ",
                     "This account doesn’t exist", "删除", "(?x)removed   ", "[删除]{2}",
                     "removed|deleted", "\\N{DIGIT ONE}abcd", "(?i)ſtop", "İstanbul gone"]))


SOUND_STATES = st.sampled_from(  # (state, kind) pairs a phrase file may hold
    [("notice", kind) for kind in NOTICE_KINDS] + [("gone", "removed")]
    + [(state, "") for state in PHRASE_STATES if state not in ("notice", "gone")])
ODD_STATES = st.tuples(st.sampled_from([*PHRASE_STATES, "", "Failed", "ok"]),
                       st.sampled_from([*NOTICE_KINDS, "", "x"]))


@st.composite
def phrase_rows(draw) -> str:
    """A row: mostly sound but for its pattern, so patterns get compiled."""
    state, kind = draw(weighted((4, SOUND_STATES), (1, ODD_STATES)))
    match = draw(weighted((4, st.sampled_from(MATCH_TYPES)), (1, st.sampled_from(["Regex", ""]))))
    fields = [state, kind, draw(st.sampled_from(["generic", "", "WeChat"])),
              draw(st.sampled_from(["en", "zh"])), match, draw(PATTERNS),
              draw(weighted((4, st.just("src")), (1, st.sampled_from(["", " ", "a\tb"]))))]
    if draw(odds(1, 9)):
        fields = fields[: draw(st.integers(0, 6))]
    return "\t".join(fields)


PHRASES = "\t".join(COLUMNS) + "\n"  # a header, for examples to add rows to


@st.composite
def phrase_files(draw) -> str:
    header = draw(st.sampled_from(["\t".join(COLUMNS)] * 4 + ["state kind", "", "# only"]))
    lines = [header, *draw(st.lists(st.one_of(phrase_rows(), st.sampled_from(["", "# c"])),
                                    max_size=6))]
    return draw(st.sampled_from(["\n", "\r\n"])).join(lines)


@FUZZ
@given(text=weighted((3, phrase_files()), (1, ANY_TEXT)),
       raw=st.none() | st.binary(max_size=200), probe=st.text(max_size=16))
@example(text=PHRASES + "failed\t\tgeneric\ten\tsubstring\t\u200b\tsrc", raw=None, probe="")
@example(text=PHRASES + f"failed\t\tgeneric\ten\tregex\t{DEEP_REGEX}\tsrc", raw=None, probe="")
@example(text=PHRASES + "failed\t\tgeneric\ten\tregex\tabcd{4294967296}\tsrc", raw=None,
         probe="")
@example(text=PHRASES + "gone\tremoved\tgeneric\ten\tsubstring\t" + "removed " * 80 + "\tsrc",
         raw=None, probe="removed")
@counted
def test_phrasebook_loader_raises_only_phrasebook_errors(
        workdir: Path, text: str, raw: bytes | None, probe: str) -> None:
    path = workdir / "phrases.tsv"
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    try:
        book = load_phrasebook([path])
    except PhrasebookError as exc:
        assert str(exc).startswith(f"{path}:{exc.line}:{exc.column}: "), str(exc)
        return
    for found in book.match_all(probe):  # short: a user's regex may backtrack badly
        assert found.state in PHRASE_STATES


@FUZZ
@given(text=ANY_TEXT)
@counted
def test_phrasebook_matching_never_raises(text: str) -> None:
    found = BOOK.match(text)
    assert found is None or found.matched_text


# -- extraction and classification -----------------------------------------------------------

NOTICE_TEXTS = [p.pattern for p in BOOK.phrases if p.match == "substring"]
TAGS = ["html", "head", "body", "title", "meta", "base", "p", "div", "span", "a", "area", "li",
        "ul", "table", "tr", "td", "br", "hr", "time", "main", "article", "nav", "aside",
        "header", "footer", "form", "section", "h1", "script", "style", "noscript", "template",
        "svg", "math", "iframe", "embed", "wbr", "select", "img", "input", "frame", "x-y", "P",
        "DIV", "font", "center", "textarea", "title"]
ATTR_NAMES = ["href", "src", "class", "id", "style", "hidden", "type", "role", "http-equiv",
              "content", "name", "property", "itemprop", "datetime", "pubdate", "charset", "alt",
              "onload", "x", "HREF", "data-pid"]
ATTR_VALUES = st.one_of(URLS, st.text(max_size=10), st.sampled_from(
    ["nav", "main-nav", "sidebar", "sr-only hidden", "element-hidden", "post odd", "entry-header",
     "ad-1", "hot 推荐", "display:none", "visibility : hidden", "refresh", "0;url=http://[x",
     "5; URL='/home'", "0;url=", "article:published_time", "datePublished", "main", "navigation",
     "2018-06-20T10:00:00+08:00", "2018-13-45", "2018-06-20T10:00+99:00", "2018年06月20日",
     "99999-99-99", "0000-00-00T00:00:00Z", "1e309", "9999-12-31T23:59:59-23:59", "hidden",
     "gb2312", "x-bogus-charset"]))
ENTITIES = ["&amp;", "&nbsp;", "&#0;", "&#x110000;", "&#xD800;", "&#99999999999;", "&bogus;",
            "&#", "&lt;script&gt;", "&#x2028;", "&", "&#x0;"]
LEAVES = st.one_of(
    st.text(max_size=20), st.sampled_from(ENTITIES), st.sampled_from(NOTICE_TEXTS),
    st.sampled_from(["<!-- c -->", "<!--", "<![CDATA[x]]>", "<!DOCTYPE html>", "<?xml v?>",
                     "</p>", "<", ">", "</", "<p", "发布时间：2018-06-20 10:00", "2018年06月20日",
                     "Posted on March 3, 2021", "</script>", "<script>x=1</scr", "\x00", "\r"]),
    nested("<div>", "").map(lambda s: s + "deep"))


@st.composite
def elements(draw, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAGS))
    attrs = ""
    for name, value in draw(st.lists(st.tuples(st.sampled_from(ATTR_NAMES), ATTR_VALUES),
                                     max_size=3)):
        quote = draw(st.sampled_from(['"', "'", ""]))
        attrs += f" {name}" if draw(odds(1, 7)) else f" {name}={quote}{value}{quote}"
    inner = "".join(draw(st.lists(children, max_size=4)))
    close = draw(st.sampled_from([f"</{tag}>", f"</{tag}>", "", "</x>"]))
    return f"<{tag}{attrs}>{inner}{close}"


HTML_FRAGMENTS = st.recursive(LEAVES, elements, max_leaves=25)
HTML = st.one_of(HTML_FRAGMENTS, HTML_FRAGMENTS.map(
    lambda body: f"<html><head><title>t</title></head><body>{body}</body></html>"), ANY_TEXT)


@FUZZ
@given(html=HTML, url=URLS)
@counted
def test_extraction_never_raises(html: str, url: str) -> None:
    page = extract(html, url, None, None)
    assert page.main_text == "\n".join(b.text for b in page.blocks)


STATUSES = weighted(
    (1, st.none()), (2, st.integers(-1000, 10**6)),
    (7, st.sampled_from([200, 200, 200, 201, 202, 204, 301, 302, 308, 401, 403, 404, 410, 429,
                         451, 500, 503])))
HEADERS = st.dictionaries(
    weighted((1, st.sampled_from(["x-amzn-waf-action", "cf-mitigated", "cf-chl-bypass", "rimon",
                                  "x-datadome", "x-dd-b", "x-sucuri-block"])),
             (6, st.sampled_from(["server", "location", "content-type"])),
             (1, st.text(max_size=6))),
    st.one_of(st.sampled_from(["challenge", "CHALLENGE", "", "block", "captcha"]),
              st.text(max_size=8)), max_size=3)
NOTICE_PAGES = st.tuples(st.sampled_from(NOTICE_TEXTS), st.text(max_size=40)).map(
    lambda notice: "<html><head><title>提示信息</title></head><body><div class='nav'><a href='/'>"
                   f"首页</a></div><div id='msg'><p>{notice[0]}</p><p>{notice[1]}</p></div>"
                   "<div class='footer'>© 2013</div></body></html>")
PAGES = weighted((2, HTML), (1, NOTICE_PAGES))
MAYBE_PAGE = st.none() | st.tuples(PAGES, URLS)


@FUZZ
@given(html=PAGES, url=URLS, status=STATUSES, final_url=st.none() | URLS,
       error_kind=st.sampled_from([None, "dataloss", "timeout", "dns", ""]),
       redirects=st.lists(URLS, max_size=3).map(tuple), headers=HEADERS,
       probe=MAYBE_PAGE, probe_status=STATUSES, last=MAYBE_PAGE,
       homes=st.frozensets(URLS, max_size=2), no_page=st.booleans())
@example(html='<meta http-equiv=refresh content="0;url=http://[x"><p>hi</p>',
         url="http://127.0.0.1:8/thread-1.html", status=200, final_url=None, error_kind=None,
         redirects=(), headers={}, probe=None, probe_status=None, last=None,
         homes=frozenset(), no_page=False)
@example(html="<p>hi</p>", url="http://127.0.0.1:8/thread-1.html", status=200,
         final_url="http://[::1", error_kind=None, redirects=(), headers={}, probe=None,
         probe_status=None, last=None, homes=frozenset(), no_page=False)
@counted
def test_classification_never_raises_and_gives_a_known_state(
        html: str, url: str, status: int | None, final_url: str | None, error_kind: str | None,
        redirects: tuple, headers: dict, probe: tuple | None, probe_status: int | None,
        last: tuple | None, homes: frozenset[str], no_page: bool) -> None:
    page = None if no_page else extract(html, url, None, None)
    fetch = Fetch(1, url, AT, status, final_url, error_kind, redirects, None, headers)
    verdict = classify(fetch, page, BOOK, notfound=probe and extract(*probe),
                       notfound_status=probe_status, last_ok=last and extract(*last),
                       homes=homes)
    assert verdict.state in CAPTURE_STATES, verdict
    assert verdict.kind is None or verdict.kind in NOTICE_KINDS, verdict


# -- URL normalisation -----------------------------------------------------------------------


@FUZZ
@given(url=weighted((3, URLS), (1, st.text(max_size=30))),
       drop=st.lists(st.one_of(QUERY_NAMES, st.text(max_size=4)), max_size=3))
@counted
def test_url_normalisation_raises_only_value_error_and_is_idempotent(
        url: str, drop: list[str]) -> None:
    try:
        once = normalize_url(url, drop=drop)
    except ValueError:
        return
    assert normalize_url(once, drop=drop) == once, (url, once)


# -- block diffs ------------------------------------------------------------------------------

BLOCK_TEXTS = st.one_of(
    st.sampled_from(["Title", "Views: 12", "Views: 40", "A paragraph that the editors removed.",
                     "军民融合产业发展", "市统计局发布一季度国民经济运行情况", "2018-06-20 10:00",
                     "View this Dataset", "", " ", "Reply", "Reply"]),
    st.text(alphabet="ab 12中文.-", max_size=40), st.text(max_size=30))
BLOCKS = st.builds(
    Block, text=BLOCK_TEXTS,
    path=st.sampled_from(["body>p", "body>ul>li", "body>div.card", "body", ""]),
    link_share=st.floats(0, 1), heading=st.booleans(),
    hrefs=st.lists(st.sampled_from(["http://h/a", "http://h/b", ""]), max_size=2).map(tuple),
    slot=st.integers(-1, 4))


@FUZZ
@given(old=st.lists(BLOCKS, max_size=12), new=st.lists(BLOCKS, max_size=12),
       fuzzy=st.floats(0, 1), max_pairs=st.integers(0, 50), min_chars=st.integers(0, 40))
@counted
def test_block_diff_never_raises(old: list[Block], new: list[Block], fuzzy: float,
                                 max_pairs: int, min_chars: int) -> None:
    result = blocks_diff(old, new, fuzzy=fuzzy, max_pairs=max_pairs)
    kept = substantive_removals(result, min_chars=min_chars)
    assert result.change_count == len(result.changes)
    assert set(kept) <= set(result.removed)
    assert {c.old for c in result.removed} <= {b.text for b in old}


# -- the viewer's routes --------------------------------------------------------------------

VIEW_NUMBERS = st.one_of(st.integers(-10, 10), st.integers(-2**70, 2**70),
                         st.sampled_from([2**63 - 1, 2**63, 2**64, HUGE]))
VIEW_DATES = st.one_of(st.dates().map(lambda d: d.isoformat()),
                       st.sampled_from(["0001-01-01", "9999-12-31", "2024-02-30", "1-1-1"]))
VIEW_VALUES = st.one_of(st.text(max_size=30), VIEW_NUMBERS.map(str), VIEW_DATES)
VIEW_QUERY = st.lists(st.tuples(st.sampled_from(["kind", "target", "since", "until", "q",
                                                 "event", "page", "a", "b", "token"]),
                                VIEW_VALUES), max_size=4)
VIEW_SEGMENT = st.one_of(VIEW_NUMBERS.map(str), st.text(max_size=20))
VIEW_ROUTES = ("/", "/targets/{}", "/urls/{}", "/takedowns", "/takedowns/{}", "/compare/{}",
               "/captures/{}/raw", "/{}")


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory):
    """The viewer over a store of hostile captures (malformed links and final URLs,
    impossible date offsets), each with a takedown."""
    with hostile_viewer(tmp_path_factory.mktemp("viewer")) as (client, _rows):
        yield client


@FUZZ
@given(route=st.sampled_from(VIEW_ROUTES), segment=VIEW_SEGMENT, query=VIEW_QUERY)
@counted
def test_viewer_routes_never_answer_500(viewer, route: str, segment: str,
                                        query: list[tuple[str, str]]) -> None:
    """Any path and query on any route: an answer under 500 (ids beyond any database
    integer, dates at the ends of the calendar, text where a number goes)."""
    path = route.format(quote(segment, safe=""))
    r = viewer.get(path, params=query)
    assert r.status_code < 500, (path, query, r.status_code)
