"""Checking a TOML input file and saying where it goes wrong: the one kit the watchlist
(``crawler.watchlist``) and the events file (``reports.events``) use; it lives in the bottom
layer, which both may import.

tomllib reports no positions, so `KeyLines` finds keys in the text:
``KeyLines(text).line(("target", 1, "depth"))`` is the line of the key ``depth`` in the
second ``[[target]]`` table.  `load_toml` turns a syntax error into a located error at its
line; `TomlChecker` turns a bad key or value into one at the key's line, rejecting unknown
keys and running one check per key.  The error raised is the caller's subclass of
`snapshots.errors.LocatedError`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from snapshots.errors import LocatedError

Where = tuple[str | int, ...]
Check = Callable[[Any], Any]
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


def load_toml(text: str, path: str, error: type[LocatedError]) -> dict[str, Any]:
    """The TOML data of *text*; a syntax error is *error* at its line, and values nested
    deeper than tomllib's recursion goes are one at the line where they nest deepest.

    >>> load_toml('a = 1\\nb = [1,', "x.toml", LocatedError)
    Traceback (most recent call last):
    ...
    snapshots.errors.LocatedError: x.toml:2: TOML syntax error: Invalid value
    """
    try:
        return tomllib.loads(text)
    except RecursionError:
        message = "TOML syntax error: values nested too deeply"
        raise error(path, _deepest_line(text), None, message) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r" \(at line (\d+), column \d+\)$| \(at end of document\)$", message)
        line = text.rstrip().count("\n") + 1
        if match is not None:
            message = message[: match.start()]
            line = int(match[1]) if match[1] else line
        raise error(path, line, None, f"TOML syntax error: {message}") from None


def _deepest_line(text: str) -> int:
    """The line where brackets and braces (counted even inside strings) nest deepest."""
    depth = deepest = 0
    line = where = 1
    for char in text:
        line += char == "\n"
        depth += (char in "[{") - (char in "]}")
        if depth > deepest:
            deepest, where = depth, line
    return where


class Invalid(Exception):
    """A bad value, raised by a key's check; ``sub`` is the key inside a table value, when
    one is to blame."""

    def __init__(self, message: str, sub: str | None = None) -> None:
        super().__init__(message)
        self.sub = sub


@dataclass(frozen=True)
class TomlChecker:
    """What turns a problem in one TOML file into a located error of type *error*."""

    path: str
    lines: KeyLines
    error_type: type[LocatedError]

    def error(self, where: Where, key: str | None, message: str,
              sub: str | None = None) -> LocatedError:
        """The error for *key* of the table at *where* (the table itself when None)."""
        keys = () if key is None else (key,) if sub is None else (key, sub)
        return self.error_type(self.path, self.lines.line(where + keys), key, message)

    def reject_unknown(self, table: Mapping[str, Any], known: Mapping[str, Any] | set[str],
                       where: Where, place: str) -> None:
        """An error at the first unknown key of *table* (by line), naming the known ones."""
        unknown = [key for key in table if key not in known]
        if unknown:
            key = min(unknown, key=lambda k: self.lines.line((*where, k)) or 0)
            expected = ", ".join(sorted(known))
            raise self.error(where, key, f"unknown key {key!r} {place} (known keys: {expected})")

    def check_all(self, table: Mapping[str, Any], checks: Mapping[str, Check], where: Where,
                  label: str) -> dict[str, Any]:
        """Every key's value as its check returns it; an `Invalid` is an error at the key."""
        values = {}
        for key, value in table.items():
            try:
                values[key] = checks[key](value)
            except Invalid as exc:
                raise self.error(where, key, f"key {key!r} in {label} {exc}", exc.sub) from None
        return values
