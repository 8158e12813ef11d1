"""The notice phrasebook: known wordings of removal notices, not-found pages, walls and challenges.

A phrase says what a page whose main text contains it *is*: one of the capture states
(``notice`` with a takedown kind, ``gone``, ``moved``, ``restricted``, ``failed``) or ``benign``
(looks like a notice, is not a takedown: "Moved topic", "This topic is locked", held for
moderation). The caller extracts the main text; this module only matches.

Phrase files are UTF-8, tab-separated, one phrase a row; blank lines and lines starting with
``#`` are skipped; the first other line is the header ``state kind platform lang match pattern
source``. ``kind`` is one of `NOTICE_KINDS` for ``notice``, ``removed`` for ``gone``, empty
otherwise. ``match`` is ``substring`` (the text; a space matches any one space or line break,
and is optional next to CJK text or punctuation) or ``regex`` (Python syntax over the whole
normalised text with ``re.MULTILINE``: ``^``/``$`` anchor at line edges, ``.`` stays on its
line, a literal space also matches a line break; one search that runs past
`snapshots.patterns.TIME_LIMIT` raises `RunawayPattern` naming the row). Matching is
case-insensitive. Every row
needs a literal to be indexed by: a substring row at least 4 characters with CJK or 10
without, a regex row a top-level literal run of 2 CJK or 4 other characters, found within
`WINDOW` characters of the match (so ``删除`` or ``removed`` alone can never be a phrase). A
row with the same match and pattern as an earlier file's row replaces it; within one file it
is an error.

Text and patterns are normalised alike: NFKC (full-width forms to ASCII, "…" to "..."), curly
quotes to straight, zero-width characters dropped, runs of spaces to one space and runs holding
a line break to one ``\\n``. `PhraseMatch.start` counts in that normalised text.

Precedence, when several phrases match one text (`Phrasebook.match`): a false "censored" is
worse than a missed one, so the state decides first, ``failed > benign > restricted > moved >
notice > gone``: an anti-bot page that quotes a notice is a failed fetch, and a locked thread
that mentions a removal is not a takedown. Within a state the longest matched text wins; then
the kind, ``section_closed > account_suspended > author_deleted > removed > censored``
(the most damaging claim last); then the earliest start.

>>> book = load_phrasebook()
>>> book.match("抱歉，指定的主题不存在或已被删除或正在被审核").kind
'removed'
>>> book.match("Just a moment...\\nThis Tweet was deleted by the Tweet author.").state
'failed'
>>> book.match("The minister said the post was removed, then deleted.") is None
True

Imports the standard library and ``snapshots.errors`` (diffing/ may import snapshots/ and
itself).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

import regex

from snapshots.errors import LocatedError
from snapshots.inputs import UnreadableInput, read_input_file
from snapshots.patterns import Match, Pattern, compile_, match, search
from snapshots.vocab import NOTICE_KINDS, Kind, State

# the states a phrase can name, strongest first ("benign": a wording that looks like a notice
# and is not one, such as a post's own "deleted" in a discussion)
PHRASE_STATES = (State.FAILED, "benign", State.RESTRICTED, State.MOVED, State.NOTICE, State.GONE)
COLUMNS = ("state", "kind", "platform", "lang", "match", "pattern", "source")
MATCH_TYPES = ("substring", "regex")
WINDOW = 300  # characters around a literal hit in which its regex is looked for
MAX_NEEDLE = 200  # characters of a row's literal: the scanner regex nests a level a character

_ODD_CHARS = {**dict.fromkeys("‘’‚‛′ʼ", "'"), **dict.fromkeys("“”„‟″", '"'),
              **dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", "\n"),
              **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", "")}
_ODD = re.compile("[" + "".join(_ODD_CHARS) + "]")
_SPACE_RUN = re.compile(r" [^\S\n]+|[^\S\n ][^\S\n]*")  # any run of spaces but a lone " "
_NEWLINE_RUN = re.compile(r"\n\s*")
_PUNCT = frozenset(",.;:!?、。「」《》【】")
_Trie = dict[str, "_Trie"]  # needle characters; "" marks the end of a needle
_TOKEN = re.compile(  # one regex token: a literal character or something else
    r"(?P<literal>\\[^A-Za-z0-9]|[^\\\[\](){}|.^$*+?])|(?P<quantifier>(?:[*+?]|\{\d*,?\d*\})[?+]?)"
    r"|(?P<bar>\|)|(?P<open>\()|(?P<close>\))|\[\^?\]?(?:\\.|[^\]\\])*\]"
    r"|\\N\{[^}]*\}|\\x\w\w|\\u\w{4}|\\U\w{8}|\\.|.", re.DOTALL)


class PhrasebookError(LocatedError):
    """A phrase file (or phrase) that cannot be used; ``path:line:column: message`` (line
    and column 0 for the file as a whole)."""


@dataclass(frozen=True)
class Phrase:
    state: str
    kind: str
    platform: str
    lang: str
    match: str
    pattern: str
    source: str


@dataclass(frozen=True)
class PhraseMatch:
    phrase: Phrase
    matched_text: str
    start: int  # in the normalised text

    @property
    def state(self) -> str:
        return self.phrase.state

    @property
    def kind(self) -> str:
        return self.phrase.kind

    @property
    def end(self) -> int:
        return self.start + len(self.matched_text)


@dataclass(frozen=True)
class _Entry:
    """A phrase compiled: its regex, the literal that finds it, and which text view it reads."""

    phrase: Phrase
    regex: Pattern
    needle: str
    flat: bool  # substring rows read the text with line breaks as spaces
    origin: str = "phrase"  # file:line of its row, named when its regex runs away


def normalize_text(text: str) -> str:
    """The text phrases are matched against (see the module docstring).

    >>> normalize_text("Ｔｈｉｓ  account doesn’t\\r\\n\\n exist")
    "This account doesn't\\nexist"
    """
    if not text.isascii() and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = _ODD.sub(_odd_char, text.replace("\r\n", "\n"))
    text = _SPACE_RUN.sub(" ", text.replace("\r", "\n"))
    return _NEWLINE_RUN.sub("\n", text).replace(" \n", "\n").strip()


def _odd_char(found: re.Match[str]) -> str:
    return _ODD_CHARS[found.group()]


def _fold_char(char: str) -> str:
    """One pattern character as normalize_text() and matching see it."""
    folded = _ODD.sub(_odd_char, unicodedata.normalize("NFKC", char))
    return _lower(" " if folded.isspace() else folded)


def _lower(text: str) -> str:
    """Lower case without changing the length, so offsets stay valid."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _optional_space_at(text: str, i: int) -> bool:
    """Whether a substring phrase tolerates a space, or none, at (or right after) *i*."""
    char, nxt = text[i], text[i + 1 : i + 2]
    if char == " ":
        prev = text[i - 1 : i]
        return any(c and (_is_wide(c) or c in _PUNCT) for c in (prev, nxt))
    return char in _PUNCT and nxt not in ("", " ")


def _substring_regex(pattern: str) -> tuple[str, str]:
    """Regex source and longest fixed chunk (the needle) of a substring phrase."""
    text = _lower(normalize_text(pattern).replace("\n", " "))
    chunks, current = [], ""
    for i, char in enumerate(text):
        optional = _optional_space_at(text, i)
        if char != " " or not optional:
            current += char
        if optional:
            chunks.append(current)
            current = ""
    chunks.append(current)
    chunks = [chunk for chunk in chunks if chunk]
    return " ?".join(re.escape(chunk) for chunk in chunks), max(chunks, key=len).strip()


def _fold_regex(pattern: str) -> tuple[str, str]:
    """(needle source, regex source) of a regex row: literals lower-cased and NFKC-folded,
    escapes such as ``\\S`` kept; in the regex source a literal space also matches a line break
    (extractors often break lines at inline tags)."""
    plain: list[str] = []
    spaced: list[str] = []
    escaped = in_class = False
    for char in pattern:
        piece = char if escaped else char.lower()
        if not char.isascii() and _fold_char(char) != char:
            if escaped:
                del plain[-1], spaced[-1]
            piece = _fold_char(char)
            piece = piece if piece == " " else re.escape(piece)
        plain.append(piece)
        spaced.append("[ \\n]" if piece == " " and not (escaped or in_class) else piece)
        if not escaped:
            in_class = (in_class and char != "]") or (not in_class and char == "[")
        escaped = char == "\\" and not escaped
    return "".join(plain), "".join(spaced)


def _regex_needle(pattern: str) -> str:
    """The longest top-level literal run every match of *pattern* contains ('' if none)."""
    runs, current, depth = [], "", 0
    for token in _TOKEN.finditer(pattern):
        kind = token.lastgroup
        depth += (kind == "open") - (kind == "close")
        if kind == "bar" and depth == 0:
            return ""
        if kind == "literal" and depth == 0:
            current += token.group()[-1]
            continue
        # a quantifier makes the character before it optional or repeated; anything else ends
        # the run
        runs.append(current[:-1] if kind == "quantifier" else current)
        current = ""
    runs.append(current)
    return max(runs, key=len).strip()


def _long_enough(needle: str, cjk: int, other: int) -> bool:
    return len(needle) >= (cjk if any(_is_wide(c) for c in needle) else other)


def _compile(phrase: Phrase) -> _Entry:
    """Compile *phrase*; ValueError(offset in the pattern, message) when it cannot be used.
    A substring is measured before it is compiled: one that normalises to nothing (zero-width
    characters only) is too short, not a crash.  A literal longer than `MAX_NEEDLE`, and a
    regex that re cannot compile (nested too deep, a repeat past its limit), are errors."""
    if phrase.match == "substring":
        if not _long_enough(normalize_text(phrase.pattern).replace(" ", ""), 4, 10):
            raise ValueError(0, "substring too short to be specific (4 CJK or 10 other characters)")
        source, needle = _substring_regex(phrase.pattern)
        return _Entry(phrase, compile_(source), _indexable(needle), flat=True)
    try:
        re.compile(phrase.pattern)  # re's syntax and error positions; run by the regex module
        compile_(phrase.pattern)
    except (re.error, regex.error, OverflowError, RecursionError) as err:
        raise ValueError(getattr(err, "pos", None) or 0, f"bad regex: {_reason(err)}") from err
    if "(?x" in phrase.pattern:
        raise ValueError(0, "verbose regexes are not supported")
    plain, folded = _fold_regex(phrase.pattern)
    needle = _regex_needle(plain)
    if not _long_enough(needle, 2, 4):
        raise ValueError(0, "regex needs a top-level literal of 2 CJK or 4 other characters "
                            "(write alternatives as separate rows)")
    try:
        return _Entry(phrase, compile_(folded, regex.MULTILINE), _indexable(needle), flat=False)
    except (regex.error, OverflowError, RecursionError) as err:
        raise ValueError(0, f"bad regex once folded to lower case: {_reason(err)}") from err


def _indexable(needle: str) -> str:
    if len(needle) > MAX_NEEDLE:
        raise ValueError(0, f"literal of {len(needle)} characters, more than {MAX_NEEDLE}: "
                            "quote a distinctive part of the notice")
    return needle


def _reason(err: Exception) -> str:
    return err.msg if isinstance(err, (re.error, regex.error)) else str(err)


def _check_fields(fields: list[str]) -> tuple[str, str] | None:
    """(column name, problem) of the first bad field of a row, None if the row is sound."""
    state, kind, _platform, _lang, match, pattern, source = fields
    if state not in PHRASE_STATES:
        return "state", f"unknown state {state!r} (one of {', '.join(PHRASE_STATES)})"
    wanted = (NOTICE_KINDS if state == State.NOTICE else (Kind.REMOVED,) if state == State.GONE
              else ("",))
    if kind not in wanted:
        return "kind", f"kind {kind!r} does not go with state {state!r} (one of {wanted})"
    if match not in MATCH_TYPES:
        return "match", f"unknown match {match!r} (one of {', '.join(MATCH_TYPES)})"
    if not pattern.strip():
        return "pattern", "empty pattern"
    if not source.strip():
        return "source", "say where the phrase comes from"
    return None


def _parse_row(path: str, lineno: int, line: str) -> _Entry:
    fields = line.split("\t")
    starts = [sum(len(f) + 1 for f in fields[:n]) + 1 for n in range(len(fields))]
    if len(fields) != len(COLUMNS):
        column = starts[len(COLUMNS)] if len(fields) > len(COLUMNS) else len(line) + 1
        raise PhrasebookError(path, lineno, None, f"expected {len(COLUMNS)} tab-separated "
                              f"columns, found {len(fields)}", column=column)
    problem = _check_fields(fields)
    if problem:
        name, message = problem
        raise PhrasebookError(path, lineno, name, f"{name}: {message}",
                              column=starts[COLUMNS.index(name)])
    try:
        return replace(_compile(Phrase(*fields)), origin=f"phrase at {path}:{lineno}")
    except ValueError as err:
        offset, message = err.args
        raise PhrasebookError(path, lineno, "pattern", f"pattern: {message}",
                              column=starts[5] + offset) from err


def _lines(path: str | Path) -> list[str]:
    try:
        data = read_input_file(path)
    except OSError as err:
        raise PhrasebookError(path, 0, None, f"cannot read: {err.strerror}", column=0) from err
    except UnreadableInput as err:
        raise PhrasebookError(path, 0, None, f"cannot read: {err}", column=0) from err
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        column = err.start - data.rfind(b"\n", 0, err.start)
        raise PhrasebookError(path, line, None, "not UTF-8", column=column) from err


def _read_file(path: str | Path) -> list[_Entry]:
    """The checked, compiled rows of one phrase file; PhrasebookError names file:line:column."""
    entries: list[_Entry] = []
    seen: dict[tuple[str, str], int] = {}
    header = False
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if not header:
            if line.rstrip("\r").split("\t") != list(COLUMNS):
                raise PhrasebookError(path, lineno, None, "header must be: " + " ".join(COLUMNS),
                                      column=1)
            header = True
            continue
        entry = _parse_row(str(path), lineno, line.rstrip("\r"))
        key = (entry.phrase.match, entry.regex.pattern)
        if key in seen:
            raise PhrasebookError(path, lineno, None, f"same pattern as line {seen[key]}", column=1)
        seen[key] = lineno
        entries.append(entry)
    if not header:
        raise PhrasebookError(path, 1, None, "no header line: " + " ".join(COLUMNS), column=1)
    return entries


def _rank(found: PhraseMatch) -> tuple[int, int, int, int]:
    kind = NOTICE_KINDS.index(found.kind) if found.kind in NOTICE_KINDS else 0
    return (-PHRASE_STATES.index(found.state), len(found.matched_text), -kind, -found.start)


class Phrasebook:
    """Compiled phrases. All literals go into one regex; each hit is confirmed by its phrase."""

    def __init__(self, entries: Iterable[_Entry]) -> None:
        unique = {(e.phrase.match, e.regex.pattern): e for e in entries}  # later files win
        self._entries = tuple(unique.values())
        self._by_needle: dict[str, list[_Entry]] = {}
        for entry in self._entries:
            self._by_needle.setdefault(entry.needle, []).append(entry)
        needles = sorted(self._by_needle)
        self._scanner = re.compile(_trie_regex(needles))
        self._prefixes = {n: [p for p in needles if n.startswith(p)] for n in needles}

    @property
    def phrases(self) -> tuple[Phrase, ...]:
        return tuple(entry.phrase for entry in self._entries)

    def match(self, text: str) -> PhraseMatch | None:
        """The phrase that decides what *text* is (precedence in the module docstring)."""
        return max(self.match_all(text), key=_rank, default=None)

    def match_all(self, text: str) -> list[PhraseMatch]:
        """Every phrase occurrence in *text*, by position (evidence for a classification)."""
        norm = normalize_text(text)
        lines = _lower(norm)
        flat = lines.replace("\n", " ")
        found: dict[tuple[int, int], PhraseMatch] = {}
        for pos, needle in self._hits(flat):
            for entry in self._by_needle[needle]:
                hit = _confirm(entry, flat if entry.flat else lines, pos, len(needle))
                if hit is not None:
                    key = (id(entry), hit.start())
                    text_found = norm[hit.start() : hit.end()]
                    found[key] = PhraseMatch(entry.phrase, text_found, hit.start())
        return sorted(found.values(), key=lambda m: (m.start, -len(m.matched_text)))

    def _hits(self, flat: str) -> Iterator[tuple[int, str]]:
        """(position, needle) for every needle occurrence, overlapping ones included."""
        pos = 0
        while (hit := self._scanner.search(flat, pos)) is not None:
            for needle in self._prefixes[hit.group()]:
                yield hit.start(), needle
            pos = hit.start() + 1


def _trie_regex(words: Iterable[str]) -> str:
    """One regex matching the longest of *words* at a position, shared prefixes factored out
    (a flat alternation is tried word by word at every position: far slower)."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_node(trie)


def _trie_node(node: _Trie) -> str:
    branches = [re.escape(char) + _trie_node(child) for char, child in node.items() if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def _confirm(entry: _Entry, text: str, pos: int, size: int) -> Match | None:
    """A match of *entry* that covers the needle found at *pos*, if there is one; a regex
    that backtracks past the time limit raises RunawayPattern naming its row."""
    start, end = max(0, pos - WINDOW), min(len(text), pos + size + WINDOW)
    while ((hit := search(entry.regex, text, entry.origin, start, end)) is not None
           and hit.start() <= pos):
        if hit.end() == end < len(text):  # the window may have cut a lookahead short
            whole = match(entry.regex, text, entry.origin, hit.start())
            if whole is None:
                start = hit.start() + 1
                continue
            hit = whole
        if hit.end() >= pos + size:
            return hit
        start = hit.start() + 1
    return None


@cache
def _bundled() -> Phrasebook:
    with resources.as_file(resources.files("diffing") / "phrases.tsv") as path:
        return Phrasebook(_read_file(path))


def load_phrasebook(extra: Iterable[str | Path] = ()) -> Phrasebook:
    """The bundled phrasebook plus user phrase files (same format; a user row with the same
    match and pattern as an earlier one replaces it)."""
    paths = list(extra)
    if not paths:
        return _bundled()
    entries = list(_bundled()._entries)
    for path in paths:
        entries.extend(_read_file(path))
    return Phrasebook(entries)
