"""Keyword lists, and tagging text with the terms it holds.

A list comes from a plain text file (one term per line; blank lines and lines starting
with ``#`` skipped) or from a CSV file with a header, such as the keyword lists published
by censorship studies (Citizen Lab's ``keyword``, ``Keyword``, ``keyword_combination``,
``keyword_added`` or ``word`` columns).  A term ``A+B+C`` is a combination, as in those
studies: it matches text that holds every part.  Matching is by substring, never by word
tokenisation (Chinese is not written with spaces), and ignores case.

>>> m = Matcher([Term.parse("军民融合"), Term.parse("section+closed")])
>>> m.match("本市军民融合产业…The section was CLOSED")
['军民融合', 'section+closed']

Bad files raise `InputFileError` (its subclass `KeywordsError`) naming file:line:key; it is a
`snapshots.errors.TakedownError`, printed by the command line as ``error: …``.
Imports the standard library, ``snapshots.errors`` and ``snapshots.inputs``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapshots.errors import LocatedError
from snapshots.inputs import read_input_file

__all__ = ["InputFileError", "KeywordList", "KeywordsError", "Matcher", "Term", "load_keywords"]

# Header names (lower-cased, stripped) of the keyword column in published CSV lists.
CSV_COLUMNS = ("keyword", "keyword_combination", "keyword_added", "keywords", "word", "term")


class InputFileError(LocatedError):
    """A bad report input file (events, keywords), located by file, line and key.

    >>> str(InputFileError("k.csv", 3, "keyword", "empty term"))
    'k.csv:3: empty term'
    """


class KeywordsError(InputFileError):
    """A keyword list that cannot be read."""


def read_input(path: str | Path, error: type[InputFileError],
               encoding: str = "utf-8") -> str:
    """The text of a report input file, or *error* naming it (unreadable, not UTF-8, or a
    name no file can have: one holding a NUL)."""
    try:
        return read_input_file(path).decode(encoding)
    except OSError as exc:
        raise error(str(path), None, None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise error(str(path), None, None, "not UTF-8 text") from exc
    except ValueError as exc:
        raise error(str(path), None, None, f"cannot read: {exc}") from exc


@dataclass(frozen=True)
class Term:
    """One listed term; ``parts`` are what must all occur (one part unless a combination)."""

    text: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Term:
        """*text* as a term: ``A+B`` is a combination; a leading or trailing ``+`` is
        literal (``C++``, ``+86``).  Raises ValueError on an empty term or an empty part
        between two ``+`` (``A++B``)."""
        text = text.strip()
        if not text:
            raise ValueError("empty term")
        core = text.strip("+")
        parts = tuple(p.strip().casefold() for p in core.split("+"))
        if not core or core != text:
            parts = (text.casefold(),)
        elif not all(parts):
            raise ValueError(f"empty part between '+' in term {text!r}")
        return cls(text, parts)


@dataclass(frozen=True)
class KeywordList:
    name: str
    terms: tuple[Term, ...]


class Matcher:
    """Which of many terms a text holds, without testing every term on every text.

    Parts are indexed by their first two characters (one-character parts by that
    character): a text is searched only for the parts whose opening pair it contains,
    found by one set intersection, so thousands of terms cost little per text.
    """

    def __init__(self, terms: Iterable[Term]) -> None:
        self.terms = tuple(dict.fromkeys(terms))
        self._by_pair: dict[str, list[str]] = {}
        self._singles: set[str] = set()
        self._terms_of: dict[str, list[int]] = {}  # part → indexes of the terms using it
        for index, term in enumerate(self.terms):
            for part in set(term.parts):
                self._terms_of.setdefault(part, []).append(index)
        for part in self._terms_of:
            if len(part) == 1:
                self._singles.add(part)
            else:
                self._by_pair.setdefault(part[:2], []).append(part)

    def __bool__(self) -> bool:
        return bool(self.terms)

    def match(self, text: str) -> list[str]:
        """The terms (as written in their list) that *text* holds, in list order."""
        if not self.terms or not text:
            return []
        folded = text.casefold()
        pairs = set(map(str.__add__, folded, folded[1:]))
        found = {part for pair in pairs.intersection(self._by_pair)
                 for part in self._by_pair[pair] if part in folded}
        found |= self._singles.intersection(folded)
        candidates = sorted({i for part in found for i in self._terms_of[part]})
        return [self.terms[i].text for i in candidates
                if all(p in found for p in self.terms[i].parts)]


def load_keywords(path: str | Path) -> KeywordList:
    """Read a keyword list: CSV (by its ``.csv`` suffix) or one term per line."""
    name = str(path)
    text = read_input(path, KeywordsError, encoding="utf-8-sig")
    terms = _csv_terms(text, name) if name.lower().endswith(".csv") else _line_terms(text, name)
    if not terms:
        raise KeywordsError(name, None, None, "no terms in the list")
    return KeywordList(Path(path).name, tuple(dict.fromkeys(terms)))


def _line_terms(text: str, path: str) -> list[Term]:
    terms = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        terms.append(_term(line, path, number, "term"))
    return terms


def _csv_terms(text: str, path: str) -> list[Term]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = _csv_rows(reader, path)
    header = next(rows, None)
    names = [h.strip().lower() for h in header or ()]
    column = next((names.index(c) for c in CSV_COLUMNS if c in names), None)
    if column is None:
        found = ", ".join(repr(h) for h in header or ()) or "none"
        raise KeywordsError(path, 1, "header", f"no keyword column in the CSV header "
                            f"(expected one of {', '.join(CSV_COLUMNS)}; found {found})")
    key = header[column].strip()
    terms = []
    for row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if column >= len(row) or not row[column].strip():
            raise KeywordsError(path, reader.line_num, key,
                                f"row without a term in column {key!r}")
        if "\n" in row[column] or "\r" in row[column]:
            raise KeywordsError(path, reader.line_num, key, "a term spans lines (a quote "
                                "left open above?): one term per row")
        terms.append(_term(row[column], path, reader.line_num, key))
    return terms


def _csv_rows(reader: Any, path: str) -> Iterator[list[str]]:  # a csv.reader
    """The rows of *reader*; what the csv module refuses (a field over its size limit) is a
    KeywordsError at its line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise KeywordsError(path, reader.line_num, None, f"bad CSV: {exc}") from None
        yield row


def _term(text: str, path: str, line: int, key: str) -> Term:
    try:
        return Term.parse(text)
    except ValueError as exc:
        raise KeywordsError(path, line, key, f"{exc} (column or field {key!r})") from None
