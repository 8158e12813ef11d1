"""What changed between two captures, for the side-by-side viewer: a word-level text diff
over the pages' main blocks, the links diff and the items diff.

`compare_pages` extracts both pages with `diffing.extract` and aligns their main blocks
with difflib; within a run of differing blocks, an old and a new block are shown as one
*changed* row (words diffed) exactly when `diffing.text.blocks_diff` pairs them, so the
viewer agrees with detection: a block detection calls removed is shown removed, whole, and
flagged *substantive* when `substantive_removals` would report it in an ``edited``
takedown.  Long unchanged runs are folded.  Compute here, render in templates.

>>> old, new = words_diff("the cat sat on the mat", "the dog sat on the mat")
>>> [(s.op, s.text) for s in old if s.op != "equal"], [(s.op, s.text) for s in new][1]
([('del', 'cat')], ('ins', 'dog'))

Pure; imports the standard library, diffing and ``snapshots.urls``.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from diffing.extract import extract
from diffing.results import Block, Item, Page, PageLink
from diffing.text import blocks_diff, substantive_removals
from snapshots.urls import normalize_url

_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
                    r"|[^\W_]+|\s+|[^\w\s]|_")
MAX_WORD_PAIRS = 4_000_000   # tokens(old) × tokens(new) above which a block is shown whole
CONTEXT = 2                  # unchanged blocks kept around each change


@dataclass(frozen=True)
class Segment:
    op: str        # equal | del | ins
    text: str


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side text diff.  ``op``: equal, removed, added, changed, or
    skip (``count`` unchanged blocks folded).  ``moved``: detection does not count this
    removal or addition (the block moved or merged); ``volatile``: only masked spans
    (dates, counters) changed; ``substantive``: detection reports it as an edit."""

    op: str
    old: tuple[Segment, ...] = ()
    new: tuple[Segment, ...] = ()
    count: int = 0
    moved: bool = False
    volatile: bool = False
    substantive: bool = False


@dataclass(frozen=True)
class LinkChange:
    url: str
    text: str
    position: int


@dataclass(frozen=True)
class ItemChange:
    id: str
    text: str


@dataclass(frozen=True)
class Comparison:
    title_old: str
    title_new: str
    rows: tuple[Row, ...]
    links_removed: tuple[LinkChange, ...]
    links_added: tuple[LinkChange, ...]
    items_removed: tuple[ItemChange, ...]
    items_added: tuple[ItemChange, ...]
    removed_blocks: tuple[str, ...]      # whole blocks gone (detection's removals)
    added_blocks: tuple[str, ...]
    substantive: tuple[str, ...]         # what an ``edited`` takedown would report

    @property
    def changed(self) -> bool:
        return any(r.op not in ("equal", "skip") for r in self.rows) or bool(
            self.links_removed or self.links_added or self.items_removed or self.items_added)


def _merge(segments: list[Segment]) -> tuple[Segment, ...]:
    out: list[Segment] = []
    for seg in segments:
        if not seg.text:
            continue
        if out and out[-1].op == seg.op:
            out[-1] = Segment(seg.op, out[-1].text + seg.text)
        else:
            out.append(seg)
    return tuple(out)


def words_diff(old: str, new: str) -> tuple[tuple[Segment, ...], tuple[Segment, ...]]:
    """Both texts cut into equal/deleted (old side) and equal/inserted (new side) runs of
    words (a CJK character is a word)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) * len(b) > MAX_WORD_PAIRS:
        return (Segment("del", old),), (Segment("ins", new),)
    left: list[Segment] = []
    right: list[Segment] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            left.append(Segment("equal", "".join(a[i1:i2])))
            right.append(Segment("equal", "".join(b[j1:j2])))
            continue
        left.append(Segment("del", "".join(a[i1:i2])))
        right.append(Segment("ins", "".join(b[j1:j2])))
    return _merge(left), _merge(right)


def _group_rows(old: Sequence[Block], new: Sequence[Block], pairs: set[tuple[str, str]],
                removed: set[str], added: set[str], substantive: set[str]) -> list[Row]:
    """Rows of one run of differing blocks: pairs detection made are changed rows."""
    rows: list[Row] = []
    used: set[int] = set()
    # each old block takes the first unused new block it is paired with: new blocks'
    # positions by text, so a run of thousands of blocks costs no product of its sides
    partners: dict[str, list[str]] = {}
    for o, n in pairs:
        partners.setdefault(o, []).append(n)
    free: dict[str, deque[int]] = {}
    for j, nb in enumerate(new):
        free.setdefault(nb.text, deque()).append(j)
    for ob in old:
        j = min((free[n][0] for n in partners.get(ob.text, ()) if free.get(n)), default=None)
        if j is None:
            rows.append(Row("removed", (Segment("del", ob.text),), moved=ob.text not in removed,
                            substantive=ob.text in substantive))
            continue
        free[new[j].text].popleft()
        used.add(j)
        left, right = words_diff(ob.text, new[j].text)
        rows.append(Row("changed", left, right))
    rows += [Row("added", (), (Segment("ins", nb.text),), moved=nb.text not in added)
             for j, nb in enumerate(new) if j not in used]
    return rows


def _same(old: str, new: str) -> Row:
    if old == new:
        return Row("equal", (Segment("equal", old),), (Segment("equal", new),))
    left, right = words_diff(old, new)
    return Row("changed", left, right, volatile=True)


def block_rows(old: Sequence[Block], new: Sequence[Block]) -> tuple[list[Row], Counter, set]:
    """The text diff of two block sequences, unfolded; also detection's removed texts
    (a multiset) and its substantive ones."""
    result = blocks_diff(old, new)
    pairs = {(c.old, c.new) for c in result.changed}
    removed = {c.old for c in result.removed}
    added = {c.new for c in result.added}
    substantive = {c.old for c in substantive_removals(result)}
    # aligned on the masked keys, as detection does: a block whose date or counter
    # changed is the same block, shown changed and marked volatile
    a, b = [x.key for x in old], [x.key for x in new]
    sm = difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 2000)
    rows: list[Row] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            rows += [_same(ob.text, nb.text)
                     for ob, nb in zip(old[i1:i2], new[j1:j2], strict=True)]
        else:
            rows += _group_rows(old[i1:i2], new[j1:j2], pairs, removed, added, substantive)
    return rows, Counter(c.old for c in result.removed), substantive


def fold(rows: Sequence[Row], context: int = CONTEXT) -> list[Row]:
    """Runs of unchanged rows longer than the context around changes become one skip row."""
    near = [False] * len(rows)
    for i, row in enumerate(rows):
        if row.op != "equal":
            for k in range(max(0, i - context), min(len(rows), i + context + 1)):
                near[k] = True
    out: list[Row] = []
    for keep, row in zip(near, rows, strict=True):
        if keep:
            out.append(row)
        elif out and out[-1].op == "skip":
            out[-1] = Row("skip", count=out[-1].count + 1)
        else:
            out.append(Row("skip", count=1))
    return out


def links_diff(old: Sequence[PageLink], new: Sequence[PageLink], drop: Iterable[str] = ()
               ) -> tuple[tuple[LinkChange, ...], tuple[LinkChange, ...]]:
    """Links whose target is on one side only, in page order (counted as multisets: one
    of two identical links can go).  Targets are compared normalised (`normalize_url`,
    without the session parameters in *drop* either): a link whose session token changed
    is the same link."""
    drop = frozenset(drop)

    def key(url: str) -> str:
        if not url.startswith(("http://", "https://")):
            return url
        try:
            return normalize_url(url, drop)
        except ValueError:   # malformed (``http://[::1``, ``http://x:99999/``): as written
            return url

    def side(mine: Sequence[PageLink], other: Sequence[PageLink]) -> tuple[LinkChange, ...]:
        left = Counter(key(lk.url) for lk in other)
        out = []
        for lk in mine:
            if left[key(lk.url)]:
                left[key(lk.url)] -= 1
            else:
                out.append(LinkChange(lk.url, lk.text, lk.position))
        return tuple(out)
    return side(old, new), side(new, old)


def items_diff(old: Sequence[Item], new: Sequence[Item]
               ) -> tuple[tuple[ItemChange, ...], tuple[ItemChange, ...]]:
    """Items (by id) on one side only, in page order."""
    old_ids, new_ids = {i.id for i in old}, {i.id for i in new}
    return (tuple(ItemChange(i.id, i.text) for i in old if i.id not in new_ids),
            tuple(ItemChange(i.id, i.text) for i in new if i.id not in old_ids))


def compare_extracted(old: Page, new: Page, context: int = CONTEXT,
                      drop: Iterable[str] = ()) -> Comparison:
    rows, removed, substantive = block_rows(old.blocks, new.blocks)
    links_removed, links_added = links_diff(old.links, new.links, drop)
    items_removed, items_added = items_diff(old.items, new.items)
    added = tuple(r.new[0].text for r in rows if r.op == "added" and not r.moved)
    return Comparison(old.title, new.title, tuple(fold(rows, context)), links_removed,
                      links_added, items_removed, items_added, tuple(removed), added,
                      tuple(t for t in removed if t in substantive))


def compare_pages(old_html: str, new_html: str, old_url: str, new_url: str, *,
                  items: str | None = None, item_id: str | None = None,
                  context: int = CONTEXT, drop: Iterable[str] = ()) -> Comparison:
    """Compare two captured pages (decoded text; URLs they were fetched from).  *items* and
    *item_id* are the target's item selectors, if any; *drop* the session parameters
    learned for the site.  A bad selector raises ValueError."""
    return compare_extracted(extract(old_html, old_url, items, item_id),
                             extract(new_html, new_url, items, item_id), context, drop)
