"""Where keys stand in a TOML file: tomllib reports no positions, so find them in the text.

``KeyLines(text).line(("target", 1, "depth"))`` is the line of the key ``depth`` in the
second ``[[target]]`` table.  Used for file:line:key errors by ``crawler.watchlist`` and
``reports.events`` (it lives in the bottom layer, which both may import).  Imports only the
standard library.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

Where = tuple[str | int, ...]
_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEY_PATH = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_KEY_PATH})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_KEY_PATH})\s*\]")
_KEY_VALUE = re.compile(rf"\s*({_KEY_PATH})\s*=")


class KeyLines:
    """The line of every table header and key of a TOML text that already parsed.

    Places are tuples of keys, with the 0-based index after an array of tables:
    ``("target", 1, "depth")`` is the ``depth`` key of the second ``[[target]]``.

    >>> kl = KeyLines('[crawl]\\ndelay = 1\\n[[target]]\\n[[target]]\\n "depth" = [\\n 1]\\n')
    >>> kl.line(("crawl", "delay")), kl.line(("target", 1, "depth")), kl.line(("target", 1, "x"))
    (2, 5, 4)
    """

    def __init__(self, text: str) -> None:
        self.lines: dict[Where, int] = {}
        self._arrays: dict[Where, int] = {}
        self._table: Where = ()
        self._read(text)

    def line(self, where: Where) -> int | None:
        """The line of ``where``, else of its nearest enclosing key or header found."""
        for end in range(len(where), 0, -1):
            if where[:end] in self.lines:
                return self.lines[where[:end]]
        return None

    def _read(self, text: str) -> None:
        depth, quote = 0, None
        for number, line in enumerate(text.split("\n"), start=1):
            start = 0
            if quote is not None:
                start = _string_end(line, 0, quote)
                if start < 0:
                    continue
                quote = None
            elif depth == 0:
                start = self._statement(line, number)
            depth, quote = _scan(line, start, depth)

    def _statement(self, line: str, number: int) -> int:
        """Record a header or key starting this line; return where its value starts."""
        if match := _ARRAY_HEADER.match(line):
            names = _decode_keys(match[1])
            array = self._resolve(names[:-1]) + names[-1:]
            self._arrays[array] = self._arrays.get(array, 0) + 1
            self._table = (*array, self._arrays[array] - 1)
            self._record(self._table, number)
        elif match := _TABLE_HEADER.match(line):
            self._table = self._resolve(_decode_keys(match[1]))
            self._record(self._table, number)
        elif match := _KEY_VALUE.match(line):
            self._record(self._table + _decode_keys(match[1]), number)
            return match.end()
        return len(line)

    def _resolve(self, names: tuple[str, ...]) -> Where:
        """Place of a ``[a.b]`` header: into the last element of any array of tables."""
        place: Where = ()
        for name in names:
            place += (name,)
            if place in self._arrays:
                place += (self._arrays[place] - 1,)
        return place

    def _record(self, where: Where, number: int) -> None:
        for end in range(1, len(where) + 1):
            self.lines.setdefault(where[:end], number)


def _decode_keys(text: str) -> tuple[str, ...]:
    """The keys of a (dotted, maybe quoted) TOML key path: ``a."b.c"`` → ('a', 'b.c')."""
    node: Any = tomllib.loads(f"{text} = 0")
    keys = []
    while isinstance(node, dict):
        ((key, node),) = node.items()
        keys.append(key)
    return tuple(keys)


def _scan(line: str, start: int, depth: int) -> tuple[int, str | None]:
    """Skip a value from ``start``: the bracket depth after it, and any unclosed quote."""
    index = start
    while index < len(line):
        char = line[index]
        if char == "#":
            break
        if char in "\"'":
            quote = char * 3 if line.startswith(char * 3, index) else char
            index = _string_end(line, index + len(quote), quote)
            if index < 0:
                return depth, quote
            continue
        depth += (char in "[{") - (char in "]}")
        index += 1
    return depth, None


def _string_end(line: str, index: int, quote: str) -> int:
    """Index just past the string closed by ``quote`` from ``index``; -1 if not closed."""
    while index < len(line):
        if quote[0] == '"' and line[index] == "\\":
            index += 2
        elif line.startswith(quote, index):
            end = index + len(quote)
            while len(quote) == 3 and end < index + 5 and line[end : end + 1] == quote[0]:
                end += 1  # up to two quotes before the closing three belong to the string
            return end
        else:
            index += 1
    return -1
