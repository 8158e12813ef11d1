"""The listing and date rules on their own: their documented examples run, and the cases
that once produced false delistings (a board that bumps threads, its list moved on the page
by a template change) or a crash (a date with an offset no clock has) stay fixed."""

from __future__ import annotations

import random

import pytest

from diffing.dates import find_date
from diffing.listing import (
    matched_lists,
    overtaken,
    series_sequences,
    time_ordered,
    vanished_from_middle,
)


def test_a_thread_sunk_below_the_board_is_seen_as_a_bump_not_a_delisting() -> None:
    before = ["sticky", "t1", "t2", "t3", "t4"]
    now = ["sticky", "t4", "n1", "t1"]          # t4 bumped, t2 and t3 sank off the board
    assert vanished_from_middle(before, set(now)) == [("t2", 2), ("t3", 3)]
    assert time_ordered(before, now)            # what makes the list look like a feed
    assert overtaken(before, now)               # and what says it bumps: never delists


def test_a_list_moved_by_a_template_change_is_compared_with_itself() -> None:
    before = {"L body>ul.old": ["a", "b", "c", "d"]}
    now = {"L body>div.new>ol": ["d", "a", "c"], "L body>div.hot": ["x", "a"]}
    assert matched_lists(before, now) == {"L body>ul.old": ["d", "a", "c"]}
    assert overtaken(before["L body>ul.old"], matched_lists(before, now)["L body>ul.old"])


def test_a_news_list_with_an_article_taken_out_does_not_bump() -> None:
    before = ["a5", "a4", "a3", "a2", "a1"]
    now = ["a6", "a5", "a3", "a2", "a1"]
    assert not overtaken(before, now)
    assert vanished_from_middle(before, set(now)) == [("a4", 1)]


@pytest.mark.parametrize("text", ["2021-03-15T10:00:00+99:00", "2021-03-15 10:00 +2460"])
def test_a_date_with_an_impossible_offset_is_no_date(text: str) -> None:
    assert find_date(text) is None


class _Counted(str):
    """A URL that counts the comparisons made with it."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _Counted.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_page_of_many_links_is_chained_in_linear_comparisons() -> None:
    """A hostile page of 50,000 links made detection's chaining of a listing's pages
    quadratic (86 s on its second round, hours at a million links)."""
    n = 20_000
    page1 = [[_Counted(f"http://h/m/{i}"), "ul"] for i in range(n)]
    page2 = [[_Counted(f"http://h/m/{i}"), "ul"] for i in range(n - 10, n + 10)]
    _Counted.compared = 0
    chained = series_sequences({"http://h/list.html": page1, "http://h/list_2.html": page2})
    assert chained["http://h/list.html ul"] == [f"http://h/m/{i}" for i in range(n + 10)]
    assert _Counted.compared < 10 * n


def test_a_page_of_a_feed_that_lost_an_entry_is_still_time_ordered() -> None:
    """A fixed-size page of a paginated feed shows the next page's first entries at its foot
    when entries above went; that pull-up once marked the list as a rotating widget for
    good, and every later delisting from it was missed.  Random feeds and deletions."""
    rng = random.Random(20241206)
    for _ in range(500):
        size = rng.randint(3, 12)
        feed = [f"a{i}" for i in range(100, 0, -1)]
        prev = feed[:size]
        for victim in rng.sample(prev[1:-1], rng.randint(1, max(1, size // 3))):
            feed.remove(victim)                     # taken out above the page's last entry
        fresh = rng.randint(0, 1)
        feed[:0] = [f"n{k}" for k in range(fresh)]
        assert time_ordered(prev, feed[:size]), (prev, feed[:size])


def test_a_widget_redrawn_at_random_is_caught_within_a_few_rounds() -> None:
    """The pull-up rule must not hide a widget: redrawn from a pool at random, nearly every
    one shows a reading that is no time-ordered list within five redraws."""
    rng = random.Random(7)
    caught = 0
    for _ in range(300):
        pool = [f"w{i}" for i in range(24)]
        prev, hit = rng.sample(pool, 8), False
        for _redraw in range(5):
            cur = rng.sample(pool, 8)
            if not time_ordered(prev, cur):
                hit = True
                break
            prev = cur
        caught += hit
    assert caught >= 0.97 * 300
