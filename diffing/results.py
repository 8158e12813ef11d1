"""The frozen value types of diffing: pages as extracted (`Page` and its `Block`, `PageLink`
and `Item`), and what every differ returns (a `DiffResult` of `Change` records).

Differs share one signature, ``f(old, new, **opts) -> DiffResult``: they
compute; rendering and classification happen elsewhere. A `Change` is plain data (strings
and numbers) so it can go straight into a takedown's evidence.

>>> r = DiffResult.of([Change("removed", "a paragraph", None, "body>p"),
...                    Change("added", None, "another", "body>p")])
>>> r.change_count, len(r.removed), len(r.added), r.changed
(2, 1, 1, ())

Imports only the standard library and `diffing.volatile`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from diffing.volatile import mask

OPS = ("removed", "added", "changed")


@dataclass(frozen=True)
class Change:
    """One difference between two versions.

    ``op`` is ``removed`` (``old`` only), ``added`` (``new`` only) or ``changed`` (both: a
    block rewritten in place, or a slot whose content rotated, see `diffing.text`).
    ``path`` locates it (for blocks: the structural path of the container). ``ratio`` is the
    similarity of ``old`` and ``new`` for ``changed``. ``link_share`` is the share of the
    text that sat inside links; ``lost_links`` the block's link targets that no longer
    appear anywhere on the other side, and ``entry_gone`` whether it belonged to a list
    entry that left the page whole: a repeated slot (row, card) led by a link, every block
    of which was removed (both for ``removed``).
    """

    op: str
    old: str | None
    new: str | None
    path: str
    ratio: float | None = None
    link_share: float = 0.0
    lost_links: tuple[str, ...] = ()
    entry_gone: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown change op {self.op!r}; expected one of {OPS}")


@dataclass(frozen=True)
class DiffResult:
    """The changes found by one differ, in the order of the versions they came from."""

    change_count: int
    changes: tuple[Change, ...]

    @classmethod
    def of(cls, changes: Iterable[Change]) -> DiffResult:
        found = tuple(changes)
        return cls(len(found), found)

    @property
    def removed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "removed")

    @property
    def added(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "added")

    @property
    def changed(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "changed")


@dataclass(frozen=True)
class Block:
    """One block of text: ``hrefs`` are the link targets inside it (absolute), in order.
    ``slot`` numbers the innermost *repeated* element around it — one of several
    same-structure siblings: list items, cards, slides, table rows with the same tag, id and
    classes (see `diffing.extract`) — and is -1 outside any; blocks of one list entry share
    a slot. ``repeated`` (slot ≥ 0) is what a rotating slot looks like. ``key``, the
    comparison key, is `mask`\\ (text), computed on first use: a diff of two captures
    needs the keys of the few blocks whose text changed, not of all of them."""

    text: str
    path: str
    link_share: float
    heading: bool
    hrefs: tuple[str, ...] = ()
    slot: int = -1

    @cached_property
    def key(self) -> str:
        return mask(self.text)

    @property
    def repeated(self) -> bool:
        return self.slot >= 0

    @classmethod
    def of(cls, text: str, path: str = "body>p", link_share: float = 0.0,
           heading: bool = False, hrefs: tuple[str, ...] = (), slot: int = -1) -> Block:
        """A block from its text (tests, and texts that are not HTML)."""
        return cls(text, path, link_share, heading, hrefs, slot)


@dataclass(frozen=True)
class PageLink:
    """An ``<a href>`` or ``<area href>``: ``url`` made absolute against ``<base>`` and the
    page URL (not otherwise normalised), its text, its rank among the page's links, whether
    it sits in main content, and the structural path of its block."""

    url: str
    text: str
    position: int
    in_main: bool
    path: str


@dataclass(frozen=True)
class Item:
    """A sub-page item (post, list entry) picked by the target's CSS selector: its id (from
    an attribute, an inner link or text, else ``h:`` + a hash of its masked text), text,
    masked key, links and rank."""

    id: str
    text: str
    key: str
    links: tuple[str, ...]
    position: int
    published: datetime | None = None   # the first date its own text shows


@dataclass(frozen=True)
class Page:
    """One capture as extracted: main ``blocks`` and ``boilerplate`` blocks in page order,
    every link, the items, the ``<meta http-equiv=refresh>`` target, the publication time
    shown (naive unless the page states an offset) and the main text, blocks joined by
    newlines."""

    title: str
    blocks: tuple[Block, ...]
    boilerplate: tuple[Block, ...]
    links: tuple[PageLink, ...]
    items: tuple[Item, ...]
    refresh_url: str | None
    published: datetime | None
    main_text: str
    password_form: bool = False   # it asks for a password (a login form)
