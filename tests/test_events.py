"""The events file and keyword lists: what they load, and bad files named by file:line:key."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import REALDATA

from crawler.watchlist import load_watchlist
from reports.correlate import event_window
from reports.events import Event, EventsError, load_events, load_events_file
from reports.keywords import KeywordsError, Matcher, Term, load_keywords

ROOT = Path(__file__).resolve().parents[1]
GOOD = """title = "t"

[[event]]
id = "a"
date = 2018-06-20
title = "Day event"
summary = \"\"\"two
lines\"\"\"
sources = ["https://example.org/x"]
keywords = ["军民融合", "section+closed"]
scope = ["forum", "/gov/"]

[[event]]
id = "b"
date = "2018-06"
title = "Month event"

[[event]]
id = "c"
start = "2021-03"
end = 2021-04-02
title = "Range event"

[[event]]
id = "d"
date = "2015"
title = "Year event"
"""


def write(tmp_path: Path, text: str, name: str = "events.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads_with_every_precision(tmp_path: Path) -> None:
    events = load_events(write(tmp_path, GOOD))
    assert [(e.id, e.precision, e.start, e.end) for e in events] == [
        ("a", "day", date(2018, 6, 20), date(2018, 6, 20)),
        ("b", "month", date(2018, 6, 1), date(2018, 6, 30)),
        ("c", "range", date(2021, 3, 1), date(2021, 4, 2)),
        ("d", "year", date(2015, 1, 1), date(2015, 12, 31)),
    ]
    a = events[0]
    assert a.summary == "two lines" and a.sources == ("https://example.org/x",)
    assert a.keywords == ("军民融合", "section+closed") and a.scope == ("forum", "/gov/")
    assert a.applies_to("forum", "http://h/x") and a.applies_to("news", "http://h/gov/1")
    assert not a.applies_to("news", "http://h/news/1")
    assert events[1].applies_to("anything", "http://h/")


def test_event_window_defaults_and_options() -> None:
    e = Event("m", "t", date(2021, 3, 1), date(2021, 3, 31), "month")
    assert event_window(e) == (date(2021, 2, 22), date(2021, 4, 30))
    assert event_window(e, before_days=0, after_days=1) == (date(2021, 3, 1), date(2021, 4, 1))


BAD = [
    ("unknown-key", '[[event]]\nid = "a"\ndate = 2018-06-20\ntitle = "t"\ncolour = 1\n',
     5, "colour", "unknown key 'colour'"),
    ("missing-title", '[[event]]\nid = "a"\ndate = 2018-06-20\n', 1, "title",
     "missing key 'title'"),
    ("bad-id", '[[event]]\nid = "A b"\ndate = 2018-06-20\ntitle = "t"\n', 2, "id",
     "must match"),
    ("bad-date", '[[event]]\nid = "a"\ntitle = "t"\n\ndate = "June 2018"\n', 5, "date",
     "must be a date"),
    ("bad-month", '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018-13"\n', 4, "date",
     "must be a date"),
    ("no-date", '[[event]]\nid = "a"\ntitle = "t"\n', 1, "date", "missing key 'date'"),
    ("half-range", '[[event]]\nid = "a"\ntitle = "t"\nstart = 2018-01-01\n', 1, "end",
     "missing key 'end'"),
    ("date-and-start", '[[event]]\nid = "a"\ntitle = "t"\ndate = 2018-01-01\n'
     'start = 2018-01-01\n', 5, "start", "not both"),
    ("end-before-start", '[[event]]\nid = "a"\ntitle = "t"\nstart = 2018-02-01\n'
     'end = "2018-01"\n', 5, "end", "before its start"),
    ("bad-source", '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\n'
     'sources = ["ftp://x/y"]\n', 5, "sources", "not an http(s) URL"),
    ("bad-regex", '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\nkeywords = [\n  "x",\n]\n'
     'scope = ["forum", "/gov/(("]\n', 8, "scope", "does not compile"),
    ("duplicate", '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\n\n[[event]]\n'
     'summary = """x\nid = 1"""\nid = "a"\ntitle = "t"\ndate = "2019"\n', 9, "id",
     "duplicate event id"),
    ("multiline-title", '[[event]]\nid = "a"\ndate = "2018"\ntitle = """x\ny"""\n', 4,
     "title", "one-line string"),
    ("keywords-type", '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\nkeywords = "x"\n',
     5, "keywords", "must be a list"),
    ("top-level", 'titel = "x"\n[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\n', 1,
     "titel", "unknown key 'titel' at top level"),
    ("no-events", 'title = "x"\n', None, "event", "no [[event]] tables"),
    ("syntax", '[[event]]\nid = "a"\ntitle = \n', 3, None, "TOML syntax error"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_events_name_file_line_key(tmp_path: Path, text: str, line: int | None,
                                       key: str | None, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(EventsError) as info:
        load_events(path)
    err = info.value
    assert (err.path, err.line, err.key) == (str(path), line, key)
    assert message in str(err)
    assert str(err).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_keyword_files_of_an_event_are_read_relative_to_it(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    write(tmp_path, "# comment\n军民融合\n\nA+B\nC++\n", "lists/terms.txt")
    path = write(tmp_path, '[[event]]\nid = "a"\ntitle = "t"\ndate = "2018"\n'
                           'keywords = ["x"]\nkeyword_files = ["lists/terms.txt"]\n')
    assert load_events(path)[0].keywords == ("x", "军民融合", "A+B", "C++")
    write(tmp_path, "ok\n \nA++B\n", "lists/terms.txt")
    with pytest.raises(EventsError) as info:       # where the events file names the list,
        load_events(path)
    assert (info.value.line, info.value.key) == (6, "keyword_files")
    inner = info.value.__cause__                   # and where in the list the term is
    assert isinstance(inner, KeywordsError) and (inner.line, inner.key) == (3, "term")
    assert f": {tmp_path / 'lists/terms.txt'}:3: " in str(info.value)


def test_bad_keyword_csv_names_file_line_column(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Keyword\n2016,退出中共\n2017,\n", "k.csv")
    with pytest.raises(KeywordsError) as info:
        load_keywords(path)
    assert (info.value.path, info.value.line, info.value.key) == (str(path), 3, "Keyword")
    path = write(tmp_path, "date,translation\n2016,x\n", "h.csv")
    with pytest.raises(KeywordsError) as info:
        load_keywords(path)
    assert (info.value.line, info.value.key) == (1, "header")
    assert "no keyword column" in str(info.value)
    with pytest.raises(KeywordsError, match="no terms"):
        load_keywords(write(tmp_path, "# only a comment\n", "empty.txt"))
    with pytest.raises(KeywordsError, match="cannot read"):
        load_keywords(tmp_path / "missing.txt")


@pytest.mark.parametrize(("name", "column", "first"), [
    ("june-4_june-4-censored-keywords.csv", "word", "陆肆"),
    ("wechat_709crackdown_all-keywords.csv", "Keyword", "退出中共"),
    ("coronavirus_wechat.csv", "keyword_combination", "菲律宾总统府感谢中国捐赠菲律宾"),
    ("coronavirus_yy.csv", "keyword_added", "武汉不明肺炎"),
    ("wechat_ncpc19_ncpc19_wechat.csv", "keyword", "十九大争夺战"),
])
def test_citizen_lab_keyword_lists_load(name: str, column: str, first: str) -> None:
    path = REALDATA / "citizenlab-chat-censorship" / "keywords" / name
    if not path.exists():
        pytest.skip(f"real data not present: {path}")
    terms = load_keywords(path).terms
    assert terms[0].text == first and len(terms) > 40


def test_matcher_substrings_combinations_and_case() -> None:
    m = Matcher([Term.parse(t) for t in ("六四", "华春莹+华盛顿", "Liu Xiaobo", "C++", "武汉")])
    assert m.match("纪念六四，liu xiaobo 与 C++") == ["六四", "Liu Xiaobo", "C++"]
    assert m.match("华盛顿的消息") == []             # a combination needs every part
    assert m.match("华盛顿…华春莹说") == ["华春莹+华盛顿"]
    assert m.match("") == [] and not Matcher([])


def test_example_files_load() -> None:
    wl = load_watchlist(ROOT / "examples" / "watchlists" / "military-civil-fusion.toml")
    names = {t.name for t in wl.targets}
    ev = load_events_file(ROOT / "examples" / "events" / "military-civil-fusion.toml")
    assert len(ev.events) == 21 and ev.title
    assert {e.precision for e in ev.events} == {"day", "month", "year"}
    anshan = next(e for e in ev.events if e.id == "anshan-deletes-30-items")
    assert (anshan.start, anshan.precision) == (date(2018, 6, 20), "day")
    # every named scope is a target of the example watchlist
    scoped = {s for e in ev.events for s in e.scope}
    assert scoped and scoped <= names
    demo = load_events_file(ROOT / "takedown" / "demo" / "events.toml").events
    assert all(e.start.year == 2021 for e in demo)


