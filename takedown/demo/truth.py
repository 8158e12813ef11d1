"""What the demo site knows about itself: expected takedowns, noise cases, watch targets.

`Expected` is one takedown the crawler + diff engine should report (URL as the crawler
stores it: absolute, query parameters sorted by name, session parameters removed, no
fragment). `Noise` is one change that must *not* become a takedown. `TargetSpec` is one
`[[target]]` of the demo watchlist, and `watchlist_text` renders them in the
watchlist format. Imports the stdlib and ``snapshots.vocab`` (the kinds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from snapshots.vocab import Kind

KINDS = frozenset(Kind)


@dataclass(frozen=True)
class Expected:
    """One takedown in the ground truth; `day` is the first simulated day it is visible."""

    url: str
    kind: str
    day: int
    target: str
    item: str | None = None
    restored_day: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown takedown kind {self.kind!r}")


@dataclass(frozen=True)
class Noise:
    """A change on `url` during `days` that is not a takedown (`what` names the case)."""

    url: str
    what: str
    days: tuple[int, ...]
    note: str = ""


@dataclass(frozen=True)
class TargetSpec:
    """One watchlist target; `path` is root-relative and joined to the server's base URL."""

    name: str
    path: str
    depth: int = 0
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    items: str | None = None
    item_id: str | None = None


def absolute(base_url: str, path: str, query: Mapping[str, object] | None = None) -> str:
    """The URL as the crawler stores it: absolute, query sorted by name.

    >>> absolute("http://127.0.0.1:1", "/f.php", {"tid": 3, "fid": 2})
    'http://127.0.0.1:1/f.php?fid=2&tid=3'
    """
    url = base_url.rstrip("/") + path
    if query:
        url += "?" + urlencode(sorted((k, str(v)) for k, v in query.items()))
    return url


def _toml_str(value: str) -> str:
    """A TOML string: a literal string when possible (regexes stay readable)."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    return json.dumps(value, ensure_ascii=False)


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _target_lines(base_url: str, spec: TargetSpec) -> list[str]:
    lines = [
        "[[target]]",
        f"name = {_toml_str(spec.name)}",
        f"url = {_toml_str(base_url.rstrip('/') + spec.path)}",
        f"depth = {spec.depth}",
    ]
    if spec.allow:
        lines.append(f"allow = {_toml_list(spec.allow)}")
    if spec.deny:
        lines.append(f"deny = {_toml_list(spec.deny)}")
    if spec.items:
        lines.append(f"items = {_toml_str(spec.items)}")
    if spec.item_id:
        lines.append(f"item_id = {_toml_str(spec.item_id)}")
    return lines


def watchlist_text(base_url: str, targets: Iterable[TargetSpec],
                   crawl: Mapping[str, int | str]) -> str:
    """Render a watchlist: a `[crawl]` table, then one `[[target]]` per spec."""
    lines = [
        "# Demo watchlist for the bundled demo site (takedown.demo.site.DemoSite).",
        "# Generated; the base URL is the loopback server the demo runs on.",
        "",
        "[crawl]",
        *(f"{key} = {json.dumps(value)}" for key, value in crawl.items()),
    ]
    for spec in targets:
        lines += ["", *_target_lines(base_url, spec)]
    return "\n".join(lines) + "\n"
