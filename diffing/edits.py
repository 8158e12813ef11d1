"""``edited``: substantive text scrubbed from a page that still serves.

``EditMemory`` keeps, per URL, what the page's history says about volatility: how many ok
captures held each block (by masked key), and which structural slots keep changing.  A
removal counts only if the block was stable (seen in two or more captures, or this is the
page's first comparison) and its slot is not one that changes round after round (rotating
ads, shuffled sidebars, tickers).  Pure: the memory is a dict the detector stores.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence

from diffing.extract import Page
from diffing.results import Change
from diffing.text import blocks_diff, substantive_removals
from diffing.volatile import mask

MAX_KEYS = 4000          # blocks remembered per URL
STABLE_SEEN = 2          # captures a block must have been in before its removal counts
VOLATILE_CHANGES = 2     # changes of a slot after which the slot is volatile


def _h(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


class EditMemory:
    def __init__(self, memory: dict) -> None:
        self.m = memory
        self.keys: dict[str, int] = memory.setdefault("keys", {})
        self.vpaths: dict[str, int] = memory.setdefault("vpaths", {})
        self.changed: set[str] = set()

    @staticmethod
    def key_of(change: Change) -> str:
        return _h(mask(change.old or ""))

    @staticmethod
    def key_of_text(masked: str) -> str:
        """The key of a block whose text is already masked (``Block.key``)."""
        return _h(masked)

    def learn(self, page: Page) -> None:
        """One more ok capture of the page."""
        self.m["oks"] = self.m.get("oks", 0) + 1
        for key in {_h(b.key) for b in page.blocks}:
            self.keys[key] = self.keys.get(key, 0) + 1
        if len(self.keys) > MAX_KEYS:
            keep = sorted(self.keys.items(), key=lambda kv: -kv[1])[: MAX_KEYS // 2]
            self.m["keys"] = self.keys = dict(keep)

    def removals(self, old: Page, new: Page,
                 gone_entries: Sequence[tuple[str, str]] = ()) -> list[Change]:
        """Substantive blocks of *old* missing from *new*, history's noise set apart.

        Text inside the page's sub-page items is left to the item rules (a reply that was
        screened is an item takedown, not an edit of the thread), and so is the text of
        entries that left the page (*gone_entries*: a card's title and its
        excerpt go with it; *gone_entries* holds (link text, link's container path) pairs)
        — the listing rules and the entries' own pages judge those.
        ``self.changed`` keeps the paths where anything changed, so the detector can tell
        lists whose entries come and go (comment boxes) across the target's pages."""
        result = blocks_diff(old.blocks, new.blocks)
        # a block read as chrome in one layout and as content in the other (class names
        # that change between A/B variants) did not leave the page
        chrome = {b.key for b in new.boilerplate}
        first = self.m.get("oks", 0) <= 1
        items = [it.key for it in old.items]
        keep = [ch for ch in substantive_removals(result)
                if self.vpaths.get(ch.path, 0) < VOLATILE_CHANGES
                and (first or self.keys.get(self.key_of(ch), 0) >= STABLE_SEEN)
                and mask(ch.old or "") not in chrome
                and not _inside_items(mask(ch.old or ""), items)
                and not _about_entry(ch.old or "", ch.path, gone_entries)]
        self.changed = {ch.path for ch in result.changes}
        for ch in result.changes:
            if ch.op in ("removed", "changed"):
                self.vpaths[ch.path] = self.vpaths.get(ch.path, 0) + 1
        return keep

    def open_ids(self) -> list[int]:
        return list(self.m.get("edited_open", []))

    def opened(self, takedown_id: int) -> None:
        self.m.setdefault("edited_open", []).append(takedown_id)

    def close(self, takedown_id: int) -> None:
        self.m["edited_open"] = [i for i in self.open_ids() if i != takedown_id]

    @staticmethod
    def back(evidence: dict, page: Page) -> bool:
        """Whether every removed block of an ``edited`` takedown is on *page* again."""
        keys = evidence.get("removed_keys") or []
        now = {_h(b.key) for b in page.blocks}
        return bool(keys) and all(k in now for k in keys)


def _inside_items(key: str, item_keys: list[str]) -> bool:
    return bool(key) and any(key in item for item in item_keys)


def _about_entry(text: str, path: str, entries: Sequence[tuple[str, str]]) -> bool:
    """Whether *text*, a block at *path*, is (or quotes a good part of) the link text of an
    entry that left, inside that entry's card: the block and the link share the link's
    container's parent (a card's title and its excerpt).  A paragraph of the article that
    shares a phrase with a title gone from a sidebar box is not about that entry.

    >>> card = ("Council approves the spring budget", "body>ul>li>h3")
    >>> _about_entry("Council approves the spring budget after a long debate", "body>ul>li>p",
    ...              [card])
    True
    >>> _about_entry("Council approves the spring budget after a long debate",
    ...              "body>div.art>p", [card])
    False
    """
    for anchor, where in entries:
        if len(anchor) < 6 or not _near(path, where):
            continue
        m = difflib.SequenceMatcher(None, anchor, text, autojunk=False)
        size = m.find_longest_match(0, len(anchor), 0, len(text)).size
        if size >= min(12, int(0.6 * len(anchor))):
            return True
    return False


def _near(path: str, link_path: str) -> bool:
    """Whether a block at *path* sits in the card of a link whose container is *link_path*:
    their common ancestry reaches the link container's parent (or two levels at least)."""
    a, b = path.split(">"), link_path.split(">")
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= max(2, len(b) - 1)
