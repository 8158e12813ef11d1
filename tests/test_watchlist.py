"""Tests of crawler.watchlist: valid files, every class of error with its line and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from crawler.errors import TakedownCrawlError, WatchlistError
from crawler.watchlist import (
    CrawlSpec,
    TargetSpec,
    load_watchlist,
    parse_interval,
    parse_watchlist,
)

# A valid [[target]] on lines 1-3; cases add lines after it, so line N is easy to count.
TARGET = ("[[target]]", 'name = "a"', 'url = "http://x.test/"')


def toml(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def parse(*lines: str):
    return parse_watchlist(toml(*lines), "wl.toml")


# (lines, line of the error, key, words the message must contain)
ERRORS = {
    "render-unknown": ((*TARGET, 'render = "chrome"'), 4, "render", 'must be "plain" or'),
    "wait-for-without-browser": ((*TARGET, 'wait_for = "#story"'), 4, "wait_for",
                                 'needs render = "browser"'),
    "screenshot-without-browser": ((*TARGET, "screenshot = true"), 4, "screenshot",
                                   'needs render = "browser"'),
    "wait-for-bad-css": ((*TARGET, 'render = "browser"', 'wait_for = "p[["'), 5, "wait_for",
                         "not a valid CSS selector"),
    "cookies-missing-file": ((*TARGET, 'cookies = "no-such-cookies.txt"'), 4, "cookies",
                             "does not exist"),
    "cookies-a-device": ((*TARGET, 'cookies = "/dev/zero"'), 4, "cookies",
                         "is not a regular file"),
    "min-every-over-max": ((*TARGET, 'min_every = "2h"', 'max_every = "1h"'), 4, "min_every",
                           "longer than max_every"),
    "budget-zero": ((*TARGET, "budget = 0"), 4, "budget", "must be an integer >= 1"),
    "toml-syntax": (
        (*TARGET, "depth = ", 'deny = ["x"]'), 4, None, "TOML syntax error"),
    "toml-invalid-value-in-array": (
        (*TARGET, "allow = [", '  "x",', "  x"), 6, None, "TOML syntax error: Invalid value"),
    "unknown-target-key": (
        (*TARGET, "colour = 1"), 4, "colour", "unknown key 'colour' in [[target]] 'a'"),
    "unknown-target-key-second-block": (
        (*TARGET, "", "[[target]]", 'name = "b"', 'url = "http://x.test/"', "Depth = 1"),
        8, "Depth", "unknown key 'Depth' in [[target]] 'b'"),
    "unknown-crawl-key": (
        ("[crawl]", "delay = 1", "threads = 4", *TARGET), 3, "threads",
        "unknown key 'threads' in [crawl]"),
    "unknown-top-level-key": (
        ("verbose = true", *TARGET), 1, "verbose", "unknown key 'verbose' at top level"),
    "unknown-top-level-table": (
        (*TARGET, "[settings]", "x = 1"), 4, "settings", "unknown key 'settings'"),
    "unknown-crawl-subtable": (
        (*TARGET, "[crawl.extra]", "x = 1"), 4, "extra", "unknown key 'extra' in [crawl]"),
    "missing-name": (
        (*TARGET, "", "[[target]]", 'url = "http://x.test/"'), 5, "name",
        "missing key 'name' in [[target]] #2"),
    "missing-url": (
        (*TARGET, "", "[[target]]", 'name = "b"'), 5, "url", "missing key 'url' in [[target]] 'b'"),
    "bad-name": (
        ("[[target]]", 'name = "Gov News"', 'url = "http://x.test/"'), 2, "name",
        "must match [a-z0-9_-]+"),
    "name-not-string": (
        ("[[target]]", "name = 5", 'url = "http://x.test/"'), 2, "name", "got 5"),
    "duplicate-name": (
        (*TARGET, "", "[[target]]", 'url = "http://y.test/"', 'name = "a"'), 7, "name",
        "duplicate target name 'a' in key 'name' (first on line 2)"),
    "url-not-http": (
        ("[[target]]", 'name = "a"', 'url = "ftp://x.test/"'), 3, "url", "http(s) URL"),
    "url-without-host": (
        ("[[target]]", 'name = "a"', 'url = "http:///news"'), 3, "url", "with a host"),
    "url-with-a-password": (
        ("[[target]]", 'name = "a"', 'url = "http://ana:s3cret@x.test/"'), 3, "url",
        "must not carry a user name or password (user:password@), got 'http://ana:***@x.test/'"),
    "url-with-a-user": (
        ("[[target]]", 'name = "a"', 'url = "http://ana@x.test/"'), 3, "url", "user name"),
    "url-with-a-nul": (
        ("[[target]]", 'name = "a"', 'url = "http://x.test/a\\u0000b"'), 3, "url",
        "must not contain control characters"),
    "url-with-a-delete": (
        ("[[target]]", 'name = "a"', 'url = "http://x.test/a\\u007fb"'), 3, "url",
        "must not contain control characters"),
    "url-port-zero": (
        ("[[target]]", 'name = "a"', 'url = "http://x.test:0/"'), 3, "url", "http(s) URL"),
    "url-relative": (
        ("[[target]]", 'name = "a"', 'url = "/news/list.html"'), 3, "url", "http(s) URL"),
    "depth-too-big": ((*TARGET, "depth = 3"), 4, "depth", "must be 0, 1 or 2, got 3"),
    "depth-negative": ((*TARGET, "depth = -1"), 4, "depth", "got -1"),
    "depth-bool": ((*TARGET, "depth = true"), 4, "depth", "got True"),
    "depth-string": ((*TARGET, 'depth = "1"'), 4, "depth", "got '1'"),
    "depth-float": ((*TARGET, "depth = 1.0"), 4, "depth", "got 1.0"),
    "allow-not-list": ((*TARGET, 'allow = "/news/"'), 4, "allow", "list of regex strings"),
    "deny-list-of-int": ((*TARGET, "deny = [1]"), 4, "deny", "list of regex strings"),
    "allow-bad-regex": (
        (*TARGET, 'allow = ["/news/", "(unclosed"]'), 4, "allow",
        "regex '(unclosed' that does not compile: missing ), unterminated subpattern"),
    "deny-bad-regex-multiline": (
        (*TARGET, "deny = [", '  "/ads/",', '  "[z-a]",', "]"), 4, "deny",
        "regex '[z-a]' that does not compile: bad character range"),
    "crawl-concurrency-string": (
        ("[crawl]", 'concurrency = "8"', *TARGET), 2, "concurrency",
        "key 'concurrency' in [crawl] must be an integer >= 1 and <= 1024, got '8'"),
    "crawl-concurrency-zero": (("[crawl]", "concurrency = 0", *TARGET), 2, "concurrency", ">= 1"),
    "crawl-delay-string": (("[crawl]", 'delay = "1"', *TARGET), 2, "delay", "must be a number"),
    "crawl-delay-negative": (("[crawl]", "delay = -0.5", *TARGET), 2, "delay", "got -0.5"),
    "crawl-timeout-zero": (("[crawl]", "timeout = 0", *TARGET), 2, "timeout", "> 0"),
    "crawl-timeout-inf": (("[crawl]", "timeout = inf", *TARGET), 2, "timeout", "got inf"),
    "crawl-timeout-bool": (("[crawl]", "timeout = true", *TARGET), 2, "timeout", "got True"),
    "crawl-retries-negative": (("[crawl]", "retries = -1", *TARGET), 2, "retries", ">= 0"),
    "crawl-max-size-float": (("[crawl]", "max_size = 1.5", *TARGET), 2, "max_size", "integer"),
    "crawl-user-agent-int": (("[crawl]", "user_agent = 5", *TARGET), 2, "user_agent", "string"),
    "crawl-autothrottle-string": (
        ("[crawl]", 'autothrottle = "yes"', *TARGET), 2, "autothrottle", "true or false"),
    "crawl-retention-negative": (
        ("[crawl]", "retention_days = -1", *TARGET), 2, "retention_days", ">= 0"),
    "crawl-not-a-table": (("crawl = 5", *TARGET), 1, "crawl", "must be a table"),
    "crawl-array-of-tables": (("[[crawl]]", "delay = 1", *TARGET), 1, "crawl", "must be a table"),
    "target-retention-negative": (
        (*TARGET, "retention_days = -7"), 4, "retention_days", "got -7"),
    "robots-int": ((*TARGET, "robots = 1"), 4, "robots", "true or false"),
    "every-no-unit": ((*TARGET, 'every = "6"'), 4, "every", "interval like"),
    "every-zero": ((*TARGET, 'every = "0h"'), 4, "every", "got '0h'"),
    "every-int": ((*TARGET, "every = 6"), 4, "every", "got 6"),
    "proxy-not-http": (
        (*TARGET, 'proxy = "socks5://127.0.0.1:9050"'), 4, "proxy", "http(s) proxy URL"),
    "items-bad-css": ((*TARGET, 'items = "li[["'), 4, "items", "not a valid CSS selector"),
    "items-empty": ((*TARGET, 'items = ""'), 4, "items", "non-empty"),
    "item-id-without-items": ((*TARGET, 'item_id = "data-tid"'), 4, "item_id", "needs 'items'"),
    "headers-not-table": ((*TARGET, 'headers = "Accept: */*"'), 4, "headers", "table"),
    "headers-value-not-string": (
        (*TARGET, "headers = { Accept = 1 }"), 4, "headers", "header 'Accept'"),
    "headers-bad-name-in-subtable": (
        (*TARGET, "[target.headers]", 'Accept = "*/*"', '"Bad Name" = "x"'), 6, "headers",
        "invalid header name 'Bad Name'"),
    "headers-dotted-key": (
        (*TARGET, 'headers.Accept = "*/*"', "headers.Referer = 2"), 5, "headers",
        "header 'Referer'"),
    "target-not-array": (("[target]", 'name = "a"', 'url = "http://x.test/"'), 1, "target",
                         "array of tables"),
    "empty-target-list": (("target = []",), 1, "target", "no [[target]]"),
    # Locating keys: comments, quoting, spacing, multi-line values, order of tables.
    "quoted-key-spaced": (
        (*TARGET, "  'depth'   =   5   # five"), 4, "depth", "got 5"),
    "double-quoted-key": ((*TARGET, '"depth"=5'), 4, "depth", "got 5"),
    "key-after-tricky-array": (
        (*TARGET, "allow = [  # a [ in a comment", '  "depth = 1",', "  'x]', \"y\\\"]\",", "]",
         "depth = 7"), 8, "depth", "got 7"),
    "key-after-multiline-string": (
        ("[crawl]", 'user_agent = """\\', "  retries = 1 \\", '  """', "retries = -1", *TARGET),
        5, "retries", "got -1"),
    "same-key-in-earlier-target": (
        (*TARGET, "depth = 1", "[[target]]", 'name = "b"', 'url = "http://x.test/"', "depth = 4"),
        8, "depth", "in [[target]] 'b'"),
    "crawl-after-targets": ((*TARGET, "", "[crawl]", "retries = 1.5"), 6, "retries", "got 1.5"),
    "error-in-second-target-reported-with-its-label": (
        (*TARGET, "[[target]]", 'name = "b"', 'url = "mailto:x@y.test"'), 6, "url", "'b'"),
}


@pytest.mark.parametrize(
    ("lines", "line", "key", "words"), list(ERRORS.values()), ids=list(ERRORS)
)
def test_error_names_file_line_and_key(lines, line, key, words):
    with pytest.raises(WatchlistError) as info:
        parse(*lines)
    error = info.value
    assert (error.path, error.line, error.key) == ("wl.toml", line, key)
    assert str(error) == f"wl.toml:{line}: {error.message}"
    assert words in error.message
    if key is not None:
        assert key in error.message


@pytest.mark.parametrize(
    ("lines", "last", "message"),
    [
        (("allow = [", '  "x"', "", ""), 5, "Unclosed array"),
        (("items = \"\"\"li", "", "# end"), 6, "Unterminated string"),
    ],
    ids=["unclosed-array", "unterminated-string"],
)
def test_syntax_error_at_end_of_document_points_at_last_line(lines, last, message):
    with pytest.raises(WatchlistError) as info:
        parse(*TARGET, *lines)
    assert (info.value.line, info.value.key) == (last, None)
    assert info.value.message == f"TOML syntax error: {message}"


@pytest.mark.parametrize(
    "lines",
    [(), ("# nothing here",), ("[crawl]", "delay = 1")],
    ids=["empty-file", "only-comments", "only-crawl"],
)
def test_no_targets_is_an_error_without_a_line(lines):
    with pytest.raises(WatchlistError) as info:
        parse(*lines)
    assert (info.value.line, info.value.key) == (None, "target")
    assert str(info.value) == "wl.toml: no [[target]] tables: nothing to watch"


def test_unknown_key_message_lists_known_keys():
    with pytest.raises(WatchlistError) as info:
        parse(*TARGET, "dept = 1")
    assert str(info.value).startswith("wl.toml:4: unknown key 'dept' in [[target]] 'a' (known")
    assert "depth" in info.value.message


def test_first_unknown_key_in_source_order_is_reported():
    with pytest.raises(WatchlistError) as info:
        parse(*TARGET, "zeta = 1", "alpha = 2")
    assert (info.value.line, info.value.key) == (4, "zeta")


def test_watchlist_error_is_a_crawl_error():
    assert issubclass(WatchlistError, TakedownCrawlError)


def test_minimal_watchlist_gets_defaults():
    wl = parse(*TARGET)
    assert wl.path == "wl.toml"
    assert wl.crawl == CrawlSpec()
    assert wl.targets == (TargetSpec(name="a", url="http://x.test/"),)
    target = wl.targets[0]
    assert (target.depth, target.allow, target.robots, target.interval) == (0, (), True, None)


FULL = toml(
    "# every key there is",
    "[crawl]",
    "concurrency = 2",
    "delay = 1            # seconds",
    "timeout = 2.5",
    "retries = 0",
    'user_agent = "takedown-test/1"',
    "max_size = 0",
    "autothrottle = false",
    "retention_days = 30",
    "",
    "[[target]]",
    'name  = "gov-news"',
    'url   = "http://127.0.0.1:8765/news/list.html"',
    "depth = 2",
    'allow = ["/news/",',
    "         '/notice/']",
    'deny  = ["/ads/"]',
    'items = "ul.list > li"',
    'item_id = "a::attr(href)"',
    'headers = { Accept-Language = "zh-CN", "X-Test" = "1" }',
    "robots = false",
    "retention_days = 7",
    'every = "6h"',
    'proxy = "http://127.0.0.1:3128"',
    "",
    "[[target]]",
    'name = "bbs_2"',
    'url = "HTTPS://bbs.example/forum.php?mod=forumdisplay&fid=2"',
)


def test_full_watchlist_keeps_every_key():
    wl = parse_watchlist(FULL, "full.toml")
    assert wl.crawl == CrawlSpec(
        concurrency=2, delay=1.0, timeout=2.5, retries=0, user_agent="takedown-test/1",
        max_size=0, autothrottle=False, retention_days=30,
    )
    assert isinstance(wl.crawl.delay, float)
    assert wl.targets[0] == TargetSpec(
        name="gov-news", url="http://127.0.0.1:8765/news/list.html", depth=2,
        allow=("/news/", "/notice/"), deny=("/ads/",), items="ul.list > li",
        item_id="a::attr(href)", headers=(("Accept-Language", "zh-CN"), ("X-Test", "1")),
        robots=False, retention_days=7, every="6h", proxy="http://127.0.0.1:3128",
    )
    assert wl.targets[0].interval == timedelta(hours=6)
    assert [t.name for t in wl.targets] == ["gov-news", "bbs_2"]


def test_crawl_table_may_follow_targets_and_headers_may_be_a_subtable():
    wl = parse(*TARGET, "[target.headers]", 'Referer = "http://x.test/"', "[crawl]", "delay = 2")
    assert wl.crawl.delay == 2.0
    assert wl.targets[0].headers == (("Referer", "http://x.test/"),)


def test_specs_are_frozen():
    wl = parse(*TARGET)
    with pytest.raises(AttributeError):
        wl.targets[0].depth = 1  # type: ignore[misc]


def test_load_watchlist_reads_a_file_and_names_it(tmp_path):
    path = tmp_path / "watch.toml"
    path.write_text(toml(*TARGET, "depth = 5"), encoding="utf-8")
    with pytest.raises(WatchlistError) as info:
        load_watchlist(path)
    assert str(info.value).startswith(f"{path}:4: ")
    path.write_text(toml(*TARGET), encoding="utf-8")
    assert load_watchlist(str(path)).targets[0].name == "a"


def test_load_watchlist_missing_file(tmp_path):
    with pytest.raises(WatchlistError) as info:
        load_watchlist(tmp_path / "absent.toml")
    assert info.value.line is None
    assert "cannot read" in str(info.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://x.test/news/1.html", True),
        ("https://x.test/news/1.html", True),
        ("http://X.TEST/news/1.html", True),
        ("http://x.test/about.html", False),  # no allow regex matches
        ("http://x.test/news/ads/1.html", False),  # a deny regex matches
        ("http://y.test/news/1.html", False),  # other host
        ("http://sub.x.test/news/1.html", False),  # a subdomain is another host
        ("ftp://x.test/news/1.html", False),
        ("http://[bad/news/", False),
    ],
)
def test_allows_same_host_allow_and_deny(url, expected):
    target = TargetSpec("a", "http://x.test/news/", allow=("/news/",), deny=("/ads/",))
    assert target.allows(url) is expected


def test_allows_searches_the_absolute_url():
    target = TargetSpec("a", "http://x.test/", allow=(r"^http://x\.test/(?:news|notice)/",))
    assert target.allows("http://x.test/notice/7")
    assert not target.allows("http://x.test/other/news/7")
    query = TargetSpec("a", "http://x.test/", allow=(r"[?&]mod=viewthread\b",))
    assert query.allows("http://x.test/forum.php?mod=viewthread&tid=1")


def test_allows_any_same_host_link_without_allow():
    target = TargetSpec("a", "http://x.test/")
    assert target.allows("http://x.test/anything?at=all")
    assert not target.allows("http://elsewhere.test/")


@pytest.mark.parametrize(
    ("text", "seconds"), [("45s", 45), ("30m", 1800), ("6h", 21600), ("1d", 86400)]
)
def test_parse_interval(text, seconds):
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "6", "h", "6 h", "6H", "1.5h", "-1h", "0m", "6hours"])
def test_parse_interval_rejects(text):
    with pytest.raises(ValueError):
        parse_interval(text)


@pytest.mark.parametrize(("lines", "line", "words"), [
    ((*TARGET, 'timezone = "Mars/Olympus"'), 4, "unknown time zone 'Mars/Olympus'"),
    ((*TARGET, 'timezone = "+25:00"'), 4, "out of range"),
    ((*TARGET, "timezone = 8"), 4, "must be a time zone"),
    (("[crawl]", 'timezone = "../../etc/passwd"', *TARGET), 2, "unknown time zone"),
], ids=["unknown-name", "offset-out-of-range", "not-a-string", "path-like"])
def test_a_bad_timezone_is_named_at_its_line(lines, line, words):
    with pytest.raises(WatchlistError) as caught:
        parse(*lines)
    assert (caught.value.line, caught.value.key) == (line, "timezone")
    assert words in str(caught.value)


def test_targets_take_the_crawl_timezone_unless_they_name_their_own():
    wl = parse("[crawl]", 'timezone = "Asia/Shanghai"', *TARGET,
               "[[target]]", 'name = "b"', 'url = "http://y.test/"', 'timezone = "-05:00"')
    assert [t.timezone for t in wl.targets] == ["Asia/Shanghai", "-05:00"]
    assert parse(*TARGET).targets[0].timezone is None


def test_a_cookies_file_is_found_beside_the_watchlist_and_checked(tmp_path: Path) -> None:
    """A relative ``cookies`` path is the watchlist folder's; a file not in the Netscape
    format is refused at its line, and no message quotes a cookie's value."""
    (tmp_path / "jar.txt").write_text("# Netscape HTTP Cookie File\n"
                                      "x.test\tFALSE\t/\tFALSE\t0\tsid\tSeCrEtVaLuE\n")
    (tmp_path / "bad.txt").write_text("x.test\tFALSE\t/\tMAYBE\t0\tsid\tSeCrEtVaLuE\n")
    wl = tmp_path / "wl.toml"
    wl.write_text(toml(*TARGET, 'cookies = "jar.txt"'))
    assert load_watchlist(wl).targets[0].cookies == str(tmp_path / "jar.txt")
    wl.write_text(toml(*TARGET, 'cookies = "bad.txt"'))
    with pytest.raises(WatchlistError) as info:
        load_watchlist(wl)
    assert (info.value.line, info.value.key) == (4, "cookies")
    assert "secure field is 'MAYBE'" in str(info.value) and "SeCrEt" not in str(info.value)
    (tmp_path / "bad.txt").write_text("x.test\tFALSE\t/\tFALSE\t0\tsid\t秘密SeCrEt\n")
    with pytest.raises(WatchlistError) as info:    # a header cannot carry it
        load_watchlist(wl)
    assert "cannot be sent" in str(info.value) and "SeCrEt" not in str(info.value)
