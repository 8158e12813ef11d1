"""Block diff: which text blocks of a page were removed, added or changed between captures.

`blocks_diff` follows the differs' shared signature, ``f(old, new, **opts) -> DiffResult``:

1. ``difflib.SequenceMatcher`` aligns the two block sequences by their masked keys (common
   head and tail trimmed first, then anchored on the keys found once on each side, as the
   patience diff does; difflib's autojunk heuristic only on long stretches). It aligns
   their shapes (`shape`: digits written 0) first, and keys only where shapes differ: equal
   shapes have equal keys, so of two captures only the blocks whose words or digit counts
   changed are masked.
2. **Moved** blocks are neither removed nor added. Counted as multisets: a key that occurs
   n more times in ``old`` than in ``new`` yields at most n removals (so one of 24 identical
   "View this Dataset" links can be removed, while a paragraph that merely moved cannot).
3. **Changed**: each removed block is paired with the most similar added block nearby
   (difflib ratio on the keys — over characters, or over words once a key passes
   `CHAR_RATIO_MAX` characters — after the ``real_quick_ratio``/``quick_ratio`` filters,
   among the `NEARBY` added blocks closest in page order, at most ``max_pairs`` full ratios
   in all, so 1 MB pages stay fast). Pairs scoring ≥ ``fuzzy`` become ``changed``; each
   block pairs at most once, best pairs first.
4. **Contained**: a removed block whose key is part of a nearby added or changed block (two
   paragraphs merged, a caption folded into its paragraph) is not removed.
5. **Rotation** (carousels, featured stories, card lists, news tickers, a listing that
   pushed new items in at the top and old ones off the bottom): removed blocks that sit in a
   repeated sibling structure (``Block.repeated``: an ``li``/``div``/``article``/``tr``…
   with same-signature siblings on its path) are grouped by their structural ``path``; if
   the same path gained blocks and the group is *balanced* — block counts and total text
   length of what went and what came within a factor `ROTATION_SIZE` of each other — the
   slots were refilled: each removed block is reported as ``changed`` (with its low ratio)
   against the added block of the same rank. Otherwise nothing is rotation: a list that
   shrinks without gaining is a delisting, five items replaced by one short one is a purge,
   and a paragraph of a plain article is never "repeated", so rewriting it stays a removal
   while other blocks stay at its path. A place redrawn *whole* (every block at its path
   went, as many came, of balanced length, at most `WHOLE_SLOT_MAX` of them, beside other
   blocks of the page: a one-line news ticker, an advert slot, a box of random quotes) is
   rotation too. Known blind spots: a whole card rewritten in place by a
   card of similar size; an article of which every paragraph was replaced at once.

`substantive_removals` then keeps the removed blocks that matter (see there): that is what
becomes an ``edited`` takedown with its removed text.

>>> from diffing.extract import Block
>>> old = [Block.of("Title"), Block.of("Views: 12"),
...        Block.of("A paragraph that the editors later removed from the page.")]
>>> new = [Block.of("Title"), Block.of("Views: 40")]
>>> [c.old for c in substantive_removals(blocks_diff(old, new))]
['A paragraph that the editors later removed from the page.']

Pure; imports the standard library and diffing only.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache

from diffing.extract import Block
from diffing.results import Change, DiffResult
from diffing.volatile import mask, shape

ROTATION_SIZE = 2.0
WHOLE_SLOT_MAX = 5  # blocks of a place redrawn whole that can be rotation (see 5. above)
CHAR_RATIO_MAX = 80
NEARBY = 64  # added blocks considered for pairing with one removed block (nearest first)
ENTRY_LINK_SHARE = 0.5  # a list entry opens with a link (a title): half its first block
QUICK_PER_PAIR = 4  # quick_ratio checks allowed per full ratio of the max_pairs budget
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+|[^\w\s]")
_PLACEHOLDERS = re.compile(r"[#0\s]+")
_WORD = re.compile(r"[^\W\d_]")  # a letter: CJK or alphabetic
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def blocks_diff(old: Sequence[Block], new: Sequence[Block], *, min_chars: int = 20,
                fuzzy: float = 0.6, max_pairs: int = 20000) -> DiffResult:
    """Removed, added and changed blocks from ``old`` to ``new`` (see module docstring).

    ``min_chars`` is accepted for the shared differ signature and for callers that pass
    their `substantive_removals` options through; the diff itself reports every block.
    """
    del min_chars
    old_shapes, new_shapes = [shape(b.text) for b in old], [shape(b.text) for b in new]
    removed, added, anchor = _aligned(old, new, old_shapes, new_shapes)
    old_surplus, new_surplus = _surplus(old_shapes, new_shapes)
    removed = _unmoved(removed, old, old_surplus)
    added = _unmoved(added, new, new_surplus)
    pairs, ratios = _pair(old, new, removed, added, anchor, fuzzy, max_pairs)
    paired = set(pairs.values())
    free_added = [j for j in added if j not in paired]
    removed = [i for i in removed
               if i in pairs or not _contained(old[i].key, new, added, anchor[i])]
    rotated = _rotation(old, new, [i for i in removed if i not in pairs], free_added)
    pairs.update(rotated)
    for i, j in rotated.items():
        ratios[i] = _ratio(old[i].key, new[j].key)
    return DiffResult.of(_changes(old, new, removed, added, pairs, ratios, anchor))


def _aligned(old: Sequence[Block], new: Sequence[Block], a: list[str], b: list[str]
             ) -> tuple[list[int], list[int], dict[int, int]]:
    """Indices of old blocks not matched, of new blocks not matched, and for each unmatched
    old block the position in ``new`` where it would have been.  *a* and *b* are the blocks'
    shapes (`shape`): equal shapes have equal keys, so the blocks are aligned on shapes, and
    only where shapes differ (a counter that gained a digit, a relative time reworded) on
    their keys: most keys are never computed."""
    head = 0
    while head < len(a) and head < len(b) and (a[head] == b[head]
                                               or old[head].key == new[head].key):
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and (
            a[-1 - tail] == b[-1 - tail] or old[-1 - tail].key == new[-1 - tail].key):
        tail += 1
    removed: list[int] = []
    added: list[int] = []
    anchor: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in _opcodes(a[head:len(a) - tail], b[head:len(b) - tail]):
        i1, i2, j1, j2 = head + i1, head + i2, head + j1, head + j2
        if tag == "replace":
            keyed = _opcodes([old[i].key for i in range(i1, i2)],
                             [new[j].key for j in range(j1, j2)])
            spans = [(i1 + x1, i1 + x2, j1 + y1, j1 + y2) for _tag, x1, x2, y1, y2 in keyed]
        else:
            spans = [(i1, i2, j1, j2)]
        for k1, k2, l1, l2 in spans:
            for i in range(k1, k2):
                removed.append(i)
                anchor[i] = l1
            added.extend(range(l1, l2))
    return removed, added, anchor


def _surplus(a: list[str], b: list[str]) -> tuple[Counter[str], Counter[str]]:
    """By key, how many more blocks *a* has than *b*, and *b* than *a* (the sides' shapes):
    a shape found as often on both sides adds as many of one key to each, so only the
    shapes found more often on one side are masked."""
    balance = Counter(a)
    balance.subtract(b)
    keys: Counter[str] = Counter()
    for text_shape, n in balance.items():
        if n:
            keys[mask(text_shape)] += n
    return (Counter({k: n for k, n in keys.items() if n > 0}),
            Counter({k: -n for k, n in keys.items() if n < 0}))


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    """difflib opcodes (without ``equal``) of *a* → *b*, anchored first on the keys that
    occur once on each side (the patience diff's anchors: their longest run in the same
    order), then `SequenceMatcher` on each stretch between two anchors.  A 1 MB page has
    thousands of blocks; difflib over all of them at once costs far more than over the
    short stretches between paragraphs that did not change."""
    once_a, once_b = Counter(a), Counter(b)
    where_b = {key: j for j, key in enumerate(b) if once_b[key] == 1}
    pairs = [(i, where_b[key]) for i, key in enumerate(a)
             if once_a[key] == 1 and key in where_b]
    out: list[tuple[str, int, int, int, int]] = []
    i0 = j0 = 0
    for i, j in [*_increasing(pairs), (len(a), len(b))]:
        if i > i0 or j > j0:
            gap_a, gap_b = a[i0:i], b[j0:j]
            matcher = SequenceMatcher(None, gap_a, gap_b, autojunk=len(gap_b) > 2000)
            out.extend((tag, i0 + x1, i0 + x2, j0 + y1, j0 + y2)
                       for tag, x1, x2, y1, y2 in matcher.get_opcodes() if tag != "equal")
        i0, j0 = i + 1, j + 1
    return out


def _increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of *pairs* (sorted by their first member) whose second members
    increase too (patience sorting, O(n log n))."""
    tops: list[int] = []     # the smallest second member ending a run of each length
    ends: list[int] = []     # index in pairs of that run's last pair
    back = [-1] * len(pairs)
    for n, (_i, j) in enumerate(pairs):
        k = bisect.bisect_left(tops, j)
        back[n] = ends[k - 1] if k else -1
        if k == len(tops):
            tops.append(j)
            ends.append(n)
        else:
            tops[k], ends[k] = j, n
    run: list[tuple[int, int]] = []
    n = ends[-1] if ends else -1
    while n >= 0:
        run.append(pairs[n])
        n = back[n]
    return run[::-1]


def _unmoved(indices: list[int], blocks: Sequence[Block], surplus: Counter[str]) -> list[int]:
    """The unmatched blocks that are not moves: of a key that occurs n more times on this
    side than on the other, at most n blocks (the first unmatched ones) are kept."""
    kept = []
    for i in indices:
        key = blocks[i].key
        if surplus[key] > 0:
            surplus[key] -= 1
            kept.append(i)
    return kept


def _pair(old: Sequence[Block], new: Sequence[Block], removed: list[int], added: list[int],
          anchor: dict[int, int], fuzzy: float, max_pairs: int
          ) -> tuple[dict[int, int], dict[int, float]]:
    """Best-first one-to-one pairing of removed with added blocks scoring ≥ ``fuzzy``;
    the pairs and their ratios."""
    candidates: list[tuple[float, int, int]] = []
    budget, quick_budget = max_pairs, QUICK_PER_PAIR * max_pairs
    for i in removed:
        a = old[i].key
        for j in _nearest(added, anchor[i], NEARBY):
            if budget <= 0 or quick_budget <= 0:
                break
            b = new[j].key
            if 2 * min(len(a), len(b)) < fuzzy * (len(a) + len(b)):
                continue  # real_quick_ratio on characters, without building a matcher
            words = max(len(a), len(b)) > CHAR_RATIO_MAX
            quick_budget -= 1
            if _quick_ratio(a, b, words) < fuzzy:
                continue
            budget -= 1
            matcher = SequenceMatcher(None, _units(a, words), _units(b, words), autojunk=False)
            if (ratio := matcher.ratio()) >= fuzzy:
                candidates.append((ratio, i, j))
    pairs: dict[int, int] = {}
    ratios: dict[int, float] = {}
    taken: set[int] = set()
    for ratio, i, j in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if i not in pairs and j not in taken:
            pairs[i], ratios[i] = j, ratio
            taken.add(j)
    return pairs, ratios


@lru_cache(maxsize=65536)
def _tokens(key: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(key))


@lru_cache(maxsize=65536)
def _bag(key: str, words: bool) -> Counter[str]:
    return Counter(_units(key, words))


def _quick_ratio(a: str, b: str, words: bool) -> float:
    """difflib's ``quick_ratio`` (shared units, ignoring order) with cached unit counts."""
    bag_a, bag_b = _bag(a, words), _bag(b, words)
    if len(bag_a) > len(bag_b):
        bag_a, bag_b = bag_b, bag_a
    shared = sum(min(n, bag_b[u]) for u, n in bag_a.items() if u in bag_b)
    total = sum(bag_a.values()) + sum(bag_b.values())
    return 2.0 * shared / total if total else 1.0


def _units(key: str, words: bool) -> Sequence[str]:
    """What similarity is measured in: characters for short texts ("ok" → "xok" is a small
    edit); once either text passes `CHAR_RATIO_MAX` characters, words, CJK characters and
    punctuation marks, which is much faster and not fooled by two texts sharing an alphabet."""
    return _tokens(key) if words else key


def _ratio(a: str, b: str) -> float:
    words = max(len(a), len(b)) > CHAR_RATIO_MAX
    return SequenceMatcher(None, _units(a, words), _units(b, words), autojunk=False).ratio()


def _nearest(positions: list[int], at: int, count: int) -> list[int]:
    """Up to ``count`` of the sorted ``positions`` closest to ``at``."""
    mid = bisect.bisect_left(positions, at)
    lo, hi = max(0, mid - count // 2), min(len(positions), mid + count // 2)
    return positions[lo:hi]


def _contained(key: str, new: Sequence[Block], added: list[int], at: int) -> bool:
    """Whether ``key`` is part of one of the added (or changed) blocks near ``at``."""
    return bool(key) and any(key in new[j].key for j in _nearest(added, at, NEARBY))


def _rotation(old: Sequence[Block], new: Sequence[Block], removed: list[int],
              added: list[int]) -> dict[int, int]:
    """Removed blocks whose repeated slot was refilled, or whose place was redrawn whole
    (every block at that path went and as many came: a one-line ticker, an advert, a box of
    random text): ``{old index: new index}``."""
    lost: dict[str, list[int]] = defaultdict(list)
    gained: dict[str, list[int]] = defaultdict(list)
    for i in removed:
        lost[old[i].path].append(i)
    for j in added:
        if new[j].path in lost:
            gained[new[j].path].append(j)
    old_at = Counter(b.path for b in old)
    new_at = Counter(b.path for b in new)
    rotated: dict[int, int] = {}
    for path, olds in lost.items():
        news = gained.get(path, [])
        if not news:
            continue
        # a small place beside others, not the page's whole text (that is a rewrite)
        whole = (len(olds) == old_at[path] and len(news) == new_at[path] == len(olds)
                 and len(olds) <= WHOLE_SLOT_MAX and len(old) > len(olds))
        if not whole and not any(old[i].repeated for i in olds):
            continue
        olds = olds if whole else [i for i in olds if old[i].repeated]
        if _within(len(olds), len(news), ROTATION_SIZE) and _within(
                sum(len(old[i].text) for i in olds), sum(len(new[j].text) for j in news),
                ROTATION_SIZE):
            for k, i in enumerate(olds):
                rotated[i] = news[min(k, len(news) - 1)]
    return rotated


def _within(a: float, b: float, factor: float) -> bool:
    return a > 0 and b > 0 and max(a, b) <= factor * min(a, b)


def _changes(old: Sequence[Block], new: Sequence[Block], removed: list[int],
             added: list[int], pairs: dict[int, int], ratios: dict[int, float],
             anchor: dict[int, int]) -> list[Change]:
    """Changes in page order: each removed/changed block at its place in ``new``."""
    new_links = {h for b in new for h in b.hrefs}
    paired = set(pairs.values())
    entries = _gone_entries(old, {i for i in removed if i not in pairs})
    events: list[tuple[int, int, Change]] = []
    for i in removed:
        block = old[i]
        if i in pairs:
            partner = new[pairs[i]]
            change = Change("changed", block.text, partner.text, block.path,
                            round(ratios[i], 3), block.link_share)
        else:
            lost = tuple(h for h in block.hrefs if h not in new_links)
            change = Change("removed", block.text, None, block.path, None, block.link_share,
                            lost, block.slot in entries)
        events.append((anchor[i], 0, change))
    for j in added:
        if j not in paired:
            events.append((j, 1, Change("added", None, new[j].text, new[j].path, None,
                                        new[j].link_share)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [change for _pos, _kind, change in events]


def _gone_entries(old: Sequence[Block], gone: set[int]) -> set[int]:
    """Slots of list entries that left whole: every block with words in it removed (date
    lines do not count), the first of them mostly a link: a title."""
    slots = {old[i].slot for i in gone if old[i].slot >= 0}  # no other slot can be gone
    lead: dict[int, int] = {}
    alive: set[int] = set()
    for i, block in enumerate(old):
        if block.slot not in slots:
            continue
        if not _WORD.search(block.key):
            continue  # dates and counters: identical keys, no telling which one went
        lead.setdefault(block.slot, i)
        if i not in gone:
            alive.add(block.slot)
    return {slot for slot, i in lead.items() if slot not in alive
            and old[i].hrefs and old[i].link_share >= ENTRY_LINK_SHARE}


def substantive_removals(result: DiffResult, *, min_chars: int = 20, cjk_min_chars: int = 8,
                         max_link_share: float = 0.6, min_link_chars: int = 10,
                         cjk_min_link_chars: int = 4) -> tuple[Change, ...]:
    """The removed blocks that matter: what an ``edited`` takedown reports.

    A removed block counts when, once volatile spans (dates, counters, numbers) are masked
    out, its text is at least ``min_chars`` long or holds ``cjk_min_chars`` CJK characters.
    A block that is mostly links (``link_share`` > ``max_link_share``) is navigation, not
    prose: it counts only when a link target it carried is linked nowhere on the new page
    (``lost_links``: a dataset, document or article withdrawn, not a relabelled menu) and
    its text reaches ``min_link_chars`` (or ``cjk_min_link_chars`` CJK characters).
    No block of a list entry that left the page whole (``entry_gone``: a row or card opened
    by its title link) counts: an entry leaving a listing is delisting or pagination, which
    the link and item differs judge; a link scrubbed from an entry that stays is an edit.
    Rotation, moves, merges and rewrites never reach here: they are not ``removed``.

    >>> gone = Change("removed", "View this Dataset", None, "body>div", None, 1.0,
    ...               ("http://catalog.data.gov/dataset/radar",))
    >>> relabelled = Change("removed", "Energy Systems Integration", None, "body>li", None, 1.0)
    >>> row = Change("removed", "市统计局发布一季度国民经济运行情况", None, "body>ul>li", None, 0.9,
    ...              ("http://gov/art_1.html",), entry_gone=True)
    >>> [c.old for c in substantive_removals(DiffResult.of([gone, relabelled, row]))]
    ['View this Dataset']
    """
    kept = []
    for change in result.removed:
        core = _PLACEHOLDERS.sub(" ", mask(change.old or "")).strip()
        cjk = len(_CJK.findall(core))
        if change.entry_gone:
            continue
        if change.link_share > max_link_share:
            if change.lost_links and (len(core) >= min_link_chars or cjk >= cjk_min_link_chars):
                kept.append(change)
        elif len(core) >= min_chars or cjk >= cjk_min_chars:
            kept.append(change)
    return tuple(kept)
