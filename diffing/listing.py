"""Listings and sub-page items: what vanished from the middle of a list.

An entry that is no longer listed anywhere on the target, while an older entry listed
after it still is, was taken out of the list (``delisted``, or a removed item).  An entry
that fell off the end (everything after it went too: newer entries pushed it to a page we
no longer see) or that moved to another page of the same target is not.  Pure.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit, urlunsplit

from diffing.extract import Page, is_boilerplate_name

# A link on this share of a target's pages (and on at least SITEWIDE_MIN pages) is
# navigation, not an entry of a listing.
SITEWIDE_SHARE = 0.3
SITEWIDE_MIN = 3
# A page is a listing when it holds at least this many entry links.
LISTING_MIN_LINKS = 5
# The highest page number `paged_listings` believes: an article URL ending in a long
# number (content_5123456.htm) is no page of a list.
MAX_PAGE_NUMBER = 999
# A list (its pages chained) delists when it held at least this many entries: an entry
# gone with one listed before it and one after it still there.
DELIST_MIN_ENTRIES = 3


def entry_links(page: Page, host: str | None,
                normalize: Callable[[str], str | None]) -> list[tuple[str, str]]:
    """The page's main-content links to *host*: (normalised URL, list it belongs to), in
    page order, once each."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for link in page.links:
        if not link.in_main:
            continue
        url = normalize(link.url)
        if url is None or url in seen:
            continue
        if urlsplit(url).hostname != host:
            continue
        seen.add(url)
        out.append((url, list_key(link.path)))
    return out


_ITEM = re.compile(r"^(?:li|tr|dd|dt|article)(?:[.#]|$)")


def list_key(path: str) -> str:
    """Which list of a page a link sits in: its container path up to the list item.

    Pages hold several lists (news, featured, most read): an entry that fell off the end
    of one is followed by entries of the next, so each list is judged on its own.

    >>> list_key("body>div#main>ul.news>li>a"), list_key("body>div.box>div.item>a")
    ('body>div#main>ul.news', 'body>div.box>div.item>a')
    """
    parts = path.split(">")
    for i in range(len(parts) - 1, -1, -1):
        if _ITEM.match(parts[i]):
            return ">".join(parts[:i])
    return path


def sitewide(link_lists: Iterable[Sequence[str]]) -> set[str]:
    """Links found on many of the pages (navigation, sidebars): never listing entries.

    >>> sorted(sitewide([["a", "x"], ["b", "x"], ["c", "x"], ["d"]]))
    ['x']
    """
    lists = [set(links) for links in link_lists]
    counts = Counter(link for links in lists for link in links)
    floor = max(SITEWIDE_MIN, SITEWIDE_SHARE * len(lists))
    return {link for link, n in counts.items() if n >= floor}


def listing_pages(entries: Mapping[str, Sequence[Sequence[str]]],
                  links_of: Callable[[str], Iterable[str]] = lambda _url: ()) -> set[str]:
    """The pages of *entries* (page URL -> its [url, list key] entries) that are listings:
    ``LISTING_MIN_LINKS`` entries or more, or the later pages of such a page's list (its
    tail, however short), or the pages of a short list that is paged (`paged_listings`;
    *links_of* gives every link of a page, its pager's included).

    >>> sorted(listing_pages({"h/a": [["1", "k"]] * 5, "h/a_2": [["6", "k"]],
    ...                       "h/b": [["7", "k"]]}))
    ['h/a', 'h/a_2']
    """
    out = {url for url, seq in entries.items() if len(seq) >= LISTING_MIN_LINKS}
    series = {series_key(u)[0] for u in out}
    out |= {url for url, seq in entries.items() if seq and series_key(url)[0] in series}
    return out | paged_listings(entries, links_of)


def paged_listings(entries: Mapping[str, Sequence[Sequence[str]]],
                   links_of: Callable[[str], Iterable[str]]) -> set[str]:
    """Pages of a paginated list that shows fewer than ``LISTING_MIN_LINKS`` entries a page
    (a small portal's section, three items a page): read this round are its first page and
    a later one, one of them links to another (*links_of* a page: all its links, for a
    pager is seldom main content), and they list that many entries between them.  Paging
    is what makes them a list; a page number above ``MAX_PAGE_NUMBER`` is an article's id.

    >>> pager = {"h/l.html": ["h/l_2.html"], "h/l_2.html": ["h/l.html"]}
    >>> sorted(paged_listings({"h/l.html": [["1", "k"], ["2", "k"], ["3", "k"]],
    ...                        "h/l_2.html": [["4", "k"], ["5", "k"]]}, pager.get))
    ['h/l.html', 'h/l_2.html']
    >>> paged_listings({"h/c_51234.htm": [["1", "k"]] * 3, "h/c_51299.htm": [["2", "k"]] * 3},
    ...                lambda _url: ["h/c_51234.htm", "h/c_51299.htm"])
    set()
    """
    groups: dict[str, dict[int, str]] = {}
    for url, seq in entries.items():
        key, number = series_key(url)
        if seq and number <= MAX_PAGE_NUMBER:
            groups.setdefault(key, {})[number] = url
    out: set[str] = set()
    for pages in groups.values():
        if len(pages) < 2 or 1 not in pages:
            continue
        urls = set(pages.values())
        listed = {u for page in urls for u, _k in entries[page] if u not in urls}
        if len(listed) >= LISTING_MIN_LINKS and any(
                u in urls and u != page for page in urls for u in links_of(page) or ()):
            out |= urls
    return out


def vanished_from_middle(old: Sequence[str], present: set[str]) -> list[tuple[str, int]]:
    """Entries of *old* missing from *present* while a later (older) entry of *old* is
    still present, with their positions in *old*.

    >>> vanished_from_middle(["n1", "a", "b", "c", "d"], {"n1", "a", "c"})
    [('b', 2)]
    >>> vanished_from_middle(["a", "b", "c"], {"a"})       # fell off the end
    []
    """
    last_present = max((i for i, e in enumerate(old) if e in present), default=-1)
    return [(e, i) for i, e in enumerate(old[:last_present]) if e not in present]


_PAGE_PARAMS = frozenset({"page", "p", "pg", "pn", "pageno", "page_no", "pagenum", "start",
                          "offset", "from", "cursor", "paged"})
_PAGE_IN_PATH = re.compile(r"(?:[_-](\d+)(?=\.[A-Za-z0-9]+$)|/page/(\d+)/?$|[_-](\d+)$)")


def series_key(url: str) -> tuple[str, int]:
    """The listing a paginated page belongs to, and its page number (1 for the first).

    >>> series_key("http://h/gov/list_3.html"), series_key("http://h/gov/list.html")
    (('http://h/gov/list.html', 3), ('http://h/gov/list.html', 1))
    >>> series_key("http://h/f.php?fid=5&page=2")
    ('http://h/f.php?fid=5', 2)
    """
    parts = urlsplit(url)
    number = 1
    query = []
    for pair in parts.query.split("&") if parts.query else []:
        name, _, value = pair.partition("=")
        if name.lower() in _PAGE_PARAMS and value.isdigit():
            number = max(number, int(value))
        else:
            query.append(pair)
    path = parts.path
    found = _PAGE_IN_PATH.search(path)
    if found:
        number = max(number, int(next(g for g in found.groups() if g)))
        path = path[: found.start()] + ("" if found.group(2) else "") + path[found.end():]
    return urlunsplit((parts.scheme, parts.netloc, path, "&".join(query), "")), number


def series_sequences(listings: dict[str, list[list[str]]]) -> dict[str, list[str]]:
    """Each list of each listing, its pages chained in page order: one sequence of entries
    per (listing, list).  *listings* maps a page URL to its [url, list key] pairs."""
    groups: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for page, entries in listings.items():
        key, number = series_key(page)
        for pos, (url, lkey) in enumerate(entries):
            groups.setdefault((key, lkey), []).append((number, pos, url))
    out: dict[str, list[str]] = {}
    for (key, lkey), rows in groups.items():
        # in page order, each entry once (a dict keeps the order: a page of 50,000 links
        # made a list's `in` test quadratic)
        out[f"{key} {lkey}"] = list(dict.fromkeys(url for _n, _p, url in sorted(rows)))
    return out


def in_widget(list_path: str) -> bool:
    """Whether a list sits in a container the page itself names as a widget or as page
    chrome (``aside``, ``div.sidebar``, ``div.widget-3``, ``div.hot``, ``div.related``):
    a box of such a name shows a selection of entries, and an entry leaving it is no
    evidence of a delisting, however orderly the box looked so far.

    >>> in_widget("body>div.0>div.side-myh>div.widget-gnq>ul"), in_widget("body>div#main>ul.news")
    (True, False)
    """
    for part in list_path.split(">"):
        tag, *names = re.split(r"[.#]", part)
        if tag == "aside" or any("widget" in n.lower() or is_boilerplate_name(n)
                                 for n in names):
            return True
    return False


def series_pages(listings: dict[str, list[list[str]]]) -> dict[str, frozenset[int]]:
    """The page numbers each list of each listing (keyed as `series_sequences`) was read on.

    >>> series_pages({"http://x/l": [["a", "ul.n"]], "http://x/l?page=2": [["b", "ol.m"]]})
    {'http://x/l ul.n': frozenset({1}), 'http://x/l ol.m': frozenset({2})}
    """
    out: dict[str, set[int]] = {}
    for page, entries in listings.items():
        key, number = series_key(page)
        for lkey in {lkey for _url, lkey in entries}:
            out.setdefault(f"{key} {lkey}", set()).add(number)
    return {key: frozenset(numbers) for key, numbers in out.items()}


def matched_lists(before: dict[str, list[str]],
                  now: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each list of *before* (keyed ``"listing-URL list-key"``, as `series_sequences`) with
    the list of the same listing *now* that shares most entries with it: the same list,
    also where a template change gave it another place (key) on the page.

    >>> matched_lists({"L ul.a": ["x", "y", "z"]}, {"L div.b": ["n", "x", "z"], "L ul.c": ["q"]})
    {'L ul.a': ['n', 'x', 'z']}
    """
    out: dict[str, list[str]] = {}
    for key, seq in before.items():
        if key in now:
            out[key] = now[key]
            continue
        listing, old = key.split(" ", 1)[0], set(seq)
        rivals = [(len(old.intersection(cur)), cur) for k, cur in now.items()
                  if k.split(" ", 1)[0] == listing]
        best = max(rivals, key=lambda r: r[0], default=(0, []))
        out[key] = best[1] if best[0] else []
    return out


def time_ordered(prev: Sequence[str], cur: Sequence[str]) -> bool:
    """Whether a list read twice behaves as a time-ordered listing (a feed, a board, a news
    list): what is new sits above what was already listed.  Entries pinned at the top
    (stickies) and entries that moved up (a bumped thread) are set apart first; a few new
    entries may take the place of entries that went (a moved page relinked where it was);
    more new entries below ones that stayed in place are what a rotating widget
    (recommendations, "more from this account", hot topics: drawn without time order) does.

    >>> time_ordered(["a", "b", "c", "d"], ["n", "a", "b", "d"])      # new on top, c gone
    True
    >>> time_ordered(["s", "a", "b", "c"], ["s", "c", "n", "a", "b"])  # sticky, c bumped
    True
    >>> time_ordered(list("abcdefghij"), list("abcdeFghij"))           # f relinked as F
    True
    >>> time_ordered(["a", "b", "c", "d"], ["b", "x", "d", "y"])       # drawn at random
    False

    A page of fixed size that lost entries shows as many of the next page's at its foot:
    new entries below every kept one, no more than went from above them, nothing else new
    or moved, is that pull-up, not a redraw.

    >>> time_ordered(["a", "b", "c", "d"], ["a", "b", "d", "e"])       # c gone, e pulled up
    True
    >>> time_ordered(["a", "b", "c", "d"], ["a", "b", "d", "e", "f"])  # two below, one gone
    False
    """
    pinned = 0
    while pinned < min(len(prev), len(cur)) and prev[pinned] == cur[pinned]:
        pinned += 1
    where = {u: i for i, u in enumerate(prev)}
    rest = list(cur[pinned:])
    steady = _in_order([where[u] for u in rest if u in where])
    now = set(cur)
    allowed = max(1, len(prev) // 10)
    replaced = 0
    last = None          # position in prev of the last entry that stayed in place
    for k, u in enumerate(rest):
        if u in where and where[u] in steady:
            last = where[u]
        elif u not in where and last is not None:
            after = next((where[v] for v in rest[k + 1:] if v in where and where[v] in steady),
                         len(prev))
            if after == len(prev) and not replaced and _pulled_up(prev, rest, k, last, now):
                return True
            if allowed == 0 or all(v in now for v in prev[last + 1:after]):
                return False
            allowed -= 1     # in the place of one that went
            replaced += 1
    return True


def _pulled_up(prev: Sequence[str], rest: list[str], k: int, last: int,
               now: set[str]) -> bool:
    """Whether ``rest[k:]``, new entries below every kept one (the last of them at *last*
    in *prev*), are the next page's first entries moved up into the places of entries that
    went from above them: all new, no more of them than went, and no entry of *prev* moved
    out of order before them."""
    where = {u: i for i, u in enumerate(prev)}
    if any(u in where for u in rest[k:]):
        return False
    kept = [where[u] for u in rest[:k] if u in where]
    if kept != sorted(kept):
        return False
    gone = sum(1 for v in prev[:last] if v not in now)
    return len(rest) - k <= gone


def overtaken(prev: Sequence[str], cur: Sequence[str]) -> bool:
    """Whether an entry listed in both readings now stands above one that stood above it:
    a list ordered by last activity (a forum board bumping threads with new replies), where
    an entry that went may have sunk below the entries shown, as well as have been taken
    out — the list alone cannot tell which, so such a list never delists.

    >>> overtaken(["s", "a", "b", "c"], ["s", "c", "a", "b"])      # c bumped above a
    True
    >>> overtaken(["a", "b", "c", "d"], ["n", "a", "c", "d"])      # new on top, b gone
    False
    """
    where = {u: i for i, u in enumerate(cur)}
    positions = [where[u] for u in prev if u in where]
    return any(a > b for a, b in zip(positions, positions[1:], strict=False))


def _in_order(positions: list[int]) -> set[int]:
    """The positions of a longest increasing run through *positions* (entries that kept
    their order; the others moved)."""
    tails: list[int] = []
    index: list[int] = []
    back: list[int] = [-1] * len(positions)
    for i, p in enumerate(positions):
        k = bisect.bisect_left(tails, p)
        if k == len(tails):
            tails.append(p)
            index.append(i)
        else:
            tails[k], index[k] = p, i
        back[i] = index[k - 1] if k else -1
    out: set[int] = set()
    i = index[-1] if index else -1
    while i >= 0:
        out.add(positions[i])
        i = back[i]
    return out


def template_widgets(pages: dict[str, list[list[str]]], min_series: int = 3) -> set[str]:
    """List keys (places in a page template) that hold a widget: found on *min_series*
    listings or more (pages of different series), sharing entries between them — a "more
    from this account", "related" or "latest" box draws on the same entries everywhere,
    while a forum's boards each list threads of their own.  *pages* maps a page URL to its
    [url, list key] entries.

    >>> more = {f"http://h/a/{i}.html": [[f"http://h/a/{(i + j) % 9}.html", "div.more>ul"]
    ...                                  for j in (1, 2, 3)] for i in range(6)}
    >>> boards = {f"http://h/forum-{b}.html": [[f"http://h/t-{b}-{t}.html", "table.th"]
    ...                                        for t in range(5)] for b in range(4)}
    >>> sorted(template_widgets({**more, **boards}))
    ['div.more>ul']
    """
    groups: dict[str, dict[str, set[str]]] = {}
    for page, entries in pages.items():
        series = series_key(page)[0]
        for url, key in entries:
            groups.setdefault(key, {}).setdefault(series, set()).add(url)
    out: set[str] = set()
    for key, by_series in groups.items():
        if len(by_series) < min_series:
            continue
        seen = Counter(u for urls in by_series.values() for u in urls)
        if sum(n >= 2 for n in seen.values()) >= 2:
            out.add(key)
    return out
