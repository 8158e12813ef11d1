"""User regexes, run with a time limit.

A regex a user writes (a target's ``allow``/``deny``, an event's scope, a phrase row) is run
on text a web page chose: a URL, a page's text.  Python's ``re`` cannot be stopped, and a
pattern with nested repeats such as ``(a|a)*$`` backtracks for ever on a long enough run of
``a``, so one pattern and one page would hang a crawl, a detection run or the viewer.  These
patterns are checked against ``re``'s syntax, compiled with the ``regex`` module (which
reads that syntax alike), and every search stops after `TIME_LIMIT` seconds with
`RunawayPattern`, which names the pattern, where it came from and the input, so the user
can simplify it.

>>> search(r"/news/\\d+", "http://x/news/12", "allow").group()
'/news/12'
>>> try:
...     search(r"^(a|a)*$", "a" * 64 + "!", "scope of event e")
... except RunawayPattern as exc:
...     print(exc.where, exc.pattern, str(exc).split(": ")[-1])
scope of event e ^(a|a)*$ nested repeats such as (a|a)* backtrack without end; simplify it
"""

from __future__ import annotations

import re
from functools import lru_cache

import regex

from snapshots.errors import TakedownError

TIME_LIMIT = 0.5  # seconds one search of one user regex may take
_SHOWN = 120  # characters of the input quoted in the message

Pattern = regex.Pattern
Match = regex.Match


class RunawayPattern(TakedownError):
    """A user regex that ran past `TIME_LIMIT` on some input (catastrophic backtracking)."""

    def __init__(self, where: str, pattern: str, text: str) -> None:
        shown = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
        super().__init__(
            f"{where}: regex {pattern!r} takes more than {TIME_LIMIT:g} s on {shown!r} "
            f"({len(text)} characters): nested repeats such as (a|a)* backtrack without end; "
            "simplify it")
        self.where, self.pattern = where, pattern


def problem(pattern: str, flags: int = 0) -> str | None:
    """Why *pattern* does not compile, or None when it does.

    >>> problem("[a-")
    'unterminated character set at position 0'
    >>> problem("a{99999999999}"), problem("(" * 5000 + ")" * 5000)
    ('the repetition number is too large', 'nested too deep')
    >>> problem(r"(?:x|y)+\\d{2,}") is None
    True
    """
    try:
        re.compile(pattern, flags)  # re's syntax, and its error positions
        compile_(pattern, flags)
    except (re.error, regex.error) as exc:
        return str(exc)
    except RecursionError:
        return "nested too deep"
    except (OverflowError, ValueError, MemoryError) as exc:
        return str(exc) or type(exc).__name__
    return None


@lru_cache(maxsize=1024)
def compile_(pattern: str, flags: int = 0) -> Pattern:
    """*pattern* compiled (cached); raises ``regex.error``, RecursionError, OverflowError."""
    return regex.compile(pattern, flags)


def search(pattern: str | Pattern, text: str, where: str, pos: int = 0,
           endpos: int | None = None) -> Match | None:
    """The first match of *pattern* in ``text[pos:endpos]``; RunawayPattern past the limit."""
    compiled = compile_(pattern) if isinstance(pattern, str) else pattern
    try:
        return compiled.search(text, pos, len(text) if endpos is None else endpos,
                               timeout=TIME_LIMIT)
    except TimeoutError:
        raise RunawayPattern(where, compiled.pattern, text[pos:endpos]) from None


def match(pattern: Pattern, text: str, where: str, pos: int = 0) -> Match | None:
    """A match of *pattern* starting at *pos*; RunawayPattern past the limit."""
    try:
        return pattern.match(text, pos, timeout=TIME_LIMIT)
    except TimeoutError:
        raise RunawayPattern(where, pattern.pattern, text[pos:]) from None
