"""Full-text search over what was captured and what takedowns removed.

Documents (`SearchText`) are distinct texts: a capture's page as plain visible text
(`plain_text`; keyed by the capture's text blob, so every round of an unchanged page shares
one document) and a takedown's removed blocks (keyed by their own SHA-256).
`SearchTakedown` names the texts each takedown took away: its last seen page, the page
still serving a delisted entry, its removed blocks.  That is the text the report tags with
its keywords (``reports.report._fill``), so a term the report finds, the search finds.

Matching is by substring, ignoring case, as the report's keywords match: no word
segmentation, which Chinese has no spaces for.

* SQLite indexes *lines*, not documents: a page's versions share nearly all their lines
  (a counter or a clock changes one), so the plain text of ten rounds is many times the
  text of its distinct lines.  Each distinct line (a block of the page, `plain_text`) is
  indexed once (``search_lines``: a 12-byte key of its text → its id), and
  ``search_postings`` (line, document) says which documents hold it.  A contentless FTS5
  ``trigram`` index of the lines (``search_fts``) answers terms of three characters or
  more.  Trigrams cannot answer two (``军民``) or one, so a second contentless FTS5 table
  (``search_bigrams``, ``detail=none``) holds each line's distinct bigrams and characters,
  case-folded and written as hex tokens (``519bx6c11``, ``u519b``) that its ``ascii``
  tokenizer keeps whole.  A term never spans two blocks, so a document holds a term when
  one of its lines does.  Both indexes are contentless, and a page's text is not kept in
  ``search_texts`` either: the store already holds it, compressed, as the capture's text
  blob.  Snippets are cut from the blob, for the hits only.  A takedown's removed blocks
  have no blob: their text is kept.
* PostgreSQL: a ``pg_trgm`` GIN index on ``search_texts.body`` answers ``ILIKE``; under
  three characters the planner falls back to reading every document.

`index_pending` fills the index incrementally (``takedown detect`` calls it last;
migration 0005 calls it to backfill a store): texts of captures past the ``captures``
mark, and takedowns not yet mapped.  Imports lxml, SQLAlchemy and snapshots.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any

from lxml import etree
from sqlalchemy import (
    Connection,
    Integer,
    Select,
    column,
    func,
    insert,
    select,
    table,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from snapshots.blobs import READ_CAP
from snapshots.models import (
    Blob,
    Capture,
    SearchMark,
    SearchTakedown,
    SearchText,
    Takedown,
    Target,
    Url,
)
from snapshots.repo import Store, as_utc, stored_head
from snapshots.vocab import BLOCK_TAGS, DROP_TAGS

__all__ = ["CaptureHit", "Snippet", "TakedownHit", "add_texts", "create_index", "index_pending",
           "plain_text", "search_captures", "search_takedowns", "snippet", "snippets",
           "takedown_texts"]

MAX_CHARS = 200_000   # characters of a page's text indexed (the report reads 20,000)
CHUNK = 500           # captures (or takedowns) read per step of the indexing
TRIGRAM_INDEX = "ix_search_texts_body_trgm"
# SQLite's index tables (not models): the FTS5 tables (and their shadow tables), the lines
FTS_TABLES = ("search_fts", "search_bigrams", "search_lines", "search_postings")
LINE_KEY = 12         # bytes of a line's SHA-256 that key it (a collision: 2**-96 a pair)
LINES_MARK = "lines"  # the `SearchMark` holding the last line id given
JOIN_TEXTS = 2000     # more matching texts than this: captures are read newest first
SCAN_CHUNK = 2000     # captures read at a time, newest first

_DROP = DROP_TAGS
# elements whose edges end a run of text (`diffing.extract`'s blocks, and the line breaks and
# head of a whole page): the words of two paragraphs are not one word, while
# ``军民<b>融合</b>`` is one
_BLOCKS = BLOCK_TAGS | {"br", "head", "title"}
_PARSER = etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True,
                           huge_tree=True)


# -- documents ---------------------------------------------------------------------------
def plain_text(page: str) -> str:
    """The visible text of a captured page (markup, scripts and styles dropped), one line
    per block, white space collapsed; at most MAX_CHARS characters.  Hidden elements are
    kept: the index is of what was captured, a superset of what the report reads.

    >>> plain_text("<title>标题</title><p>军民<b>融合</b>\\n 发展</p><script>x()</script><p>二</p>")
    '标题\\n军民融合 发展\\n二'
    """
    page = page.replace("\x00", "")
    if not page.strip():
        return ""
    try:
        root = etree.fromstring(page.encode("utf-8", "replace"), parser=_PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return ""
    if root is None:
        return ""
    etree.strip_elements(root, *_DROP, with_tail=False)
    runs: list[str] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in _BLOCKS:
            runs.append("\x00")   # a block's edge (the page's own NULs are gone)
        if event == "start" and el.text:
            runs.append(el.text)
        elif event == "end" and el.tail:
            runs.append(el.tail)
    lines = (" ".join(line.split()) for line in "".join(runs).split("\x00"))
    return "\n".join(line for line in lines if line)[:MAX_CHARS]


def _bigrams(body: str) -> str:
    """*body*'s distinct case-folded bigrams and characters as hex tokens, for the SQLite
    bigram table (in no particular order: the table keeps no positions).

    >>> sorted(_bigrams("军民军民 a").split())
    ['519bx6c11', '6c11x519b', 'u519b', 'u61', 'u6c11']
    """
    # the indexing's hot loop: pairs made distinct before they become tokens, and the
    # tokens of pairs and characters met before (a language's are few) looked up
    pairs: set[str] = set()
    words = body.casefold().split()
    for word in words:
        pairs.update(map(str.__add__, word, word[1:]))
    chars = set("".join(words))
    if len(_TOKENS) > _TOKENS_KEPT:
        _TOKENS.clear()
    return " ".join([_TOKENS.get(x) or _token(x) for x in pairs] +
                    [_TOKENS.get(c) or _token(c) for c in chars])


_TOKENS: dict[str, str] = {}
_TOKENS_KEPT = 1 << 20


def _token(chars: str) -> str:
    """The token of a pair (``519bx6c11``) or of one character (``u519b``), remembered."""
    made = _gram(chars) if len(chars) == 2 else _char(chars)
    _TOKENS[chars] = made
    return made


def _gram(pair: str) -> str:
    return f"{ord(pair[0]):x}x{ord(pair[1]):x}"


def _char(c: str) -> str:
    return f"u{ord(c):x}"


def create_index(conn: Connection) -> None:
    """The text index of `SearchText` bodies on *conn*'s backend (migration 0005)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE search_fts USING fts5(body, content='', "
            "tokenize='trigram', columnsize=0)")
        conn.exec_driver_sql("CREATE VIRTUAL TABLE search_bigrams USING fts5(grams, "
                             "content='', tokenize='ascii', detail='none', columnsize=0)")
        conn.exec_driver_sql("CREATE TABLE search_lines (key BLOB NOT NULL PRIMARY KEY, "
                             "id INTEGER NOT NULL) WITHOUT ROWID")
        conn.exec_driver_sql("CREATE TABLE search_postings (line INTEGER NOT NULL, "
                             "doc INTEGER NOT NULL, PRIMARY KEY (line, doc)) WITHOUT ROWID")
        return
    schema = _trigram_schema(conn)
    conn.exec_driver_sql(f'CREATE INDEX {TRIGRAM_INDEX} ON search_texts USING gin '
                         f'(body "{schema}".gin_trgm_ops)')


def _trigram_schema(conn: Connection) -> str:
    """The schema holding pg_trgm, installed (in ``public``) when the database has none.
    An extension is per database, while a store may live in a schema of its own: the
    index names the operator class with its schema, so no search path need include it."""
    find = text("SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")
    schema = conn.scalar(find)
    if schema is None:
        try:
            with conn.begin_nested():   # another store's migration may race us to it
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        except SQLAlchemyError:  # the loser of the race finds the winner's
            pass
        schema = conn.scalar(find)
    if schema is None:
        raise RuntimeError("cannot create the pg_trgm extension")
    return str(schema)


# -- filling -----------------------------------------------------------------------------
@dataclass
class IndexCounts:
    """What one `index_pending` added: documents, and takedowns mapped to their texts."""

    texts: int = 0
    takedowns: int = 0


# (connection, text keys) → (key, decoded text bytes) of those stored
Reader = Callable[[Connection, set[str]], Iterable[tuple[str, bytes]]]


def index_pending(store: Store, conn: Connection, read: Reader | None = None) -> IndexCounts:
    """Index the texts of captures past the mark and map takedowns not mapped yet, on
    *conn* (the caller commits).  Idempotent: a second call finds nothing to do.  *read*
    reads text blobs (default: the store's own reading; a migration passes one for the
    schema of its revision)."""
    read = read or partial(_read_blobs, store)
    counts = IndexCounts()
    stored = conn.scalar(select(SearchMark.last_id).where(SearchMark.name == "captures"))
    mark = stored or 0
    while True:
        rows = conn.execute(select(Capture.id, Capture.text_sha256).where(Capture.id > mark)
                            .order_by(Capture.id).limit(CHUNK)).all()
        if not rows:
            break
        counts.texts += _add_pages(read, conn, {sha for _, sha in rows if sha})
        mark = rows[-1][0]
        # (no row until there is a capture: a new, empty store's tables stay empty)
        if stored is None:
            conn.execute(insert(SearchMark).values(name="captures", last_id=mark))
            stored = mark
        conn.execute(update(SearchMark).where(SearchMark.name == "captures")
                     .values(last_id=mark))
    counts.takedowns = _map_takedowns(read, conn)
    return counts


def _add_pages(read: Reader, conn: Connection, shas: set[str]) -> int:
    """Index the pages among *shas* not indexed yet; returns how many."""
    new = shas - _indexed(conn, shas)
    if not new:
        return 0
    docs = [(sha, plain_text(raw.decode("utf-8", "replace"))) for sha, raw in read(conn, new)]
    add_texts(conn, docs)
    return len(docs)


def _read_blobs(store: Store, conn: Connection, shas: set[str]) -> Iterable[tuple[str, bytes]]:
    q = select(Blob.sha256, Blob.codec, Blob.base_sha256, stored_head(READ_CAP)).where(
        Blob.sha256.in_(sorted(shas)))
    return store.read_blobs(conn, conn.execute(q).all(), READ_CAP)


def _indexed(conn: Connection, shas: Iterable[str]) -> set[str]:
    return set(conn.scalars(select(SearchText.sha256).where(SearchText.sha256.in_(
        sorted(shas)))))


def add_texts(conn: Connection, docs: list[tuple[str, str]], *, pages: bool = True) -> None:
    """Insert documents (key, plain text) not in the index yet and, on SQLite, their FTS
    rows (`index_pending` finds which are new; the search benchmark writes through here).
    *pages*: the keys are text blobs, whose plain text SQLite does not keep (the module
    docstring); removed blocks (``pages=False``) keep theirs everywhere."""
    if not docs:
        return
    sqlite = conn.dialect.name == "sqlite"
    keep = not (sqlite and pages)
    ids = conn.execute(insert(SearchText).returning(SearchText.id),
                       [{"sha256": sha, "body": body if keep else None}
                        for sha, body in docs]).scalars().all()
    if sqlite:
        _add_lines(conn, [(i, body) for i, (_sha, body) in zip(ids, docs, strict=True)])


def _add_lines(conn: Connection, docs: list[tuple[int, str]]) -> None:
    """SQLite: index the lines of *docs* (document id, text) not indexed yet, and post
    every document under each of its lines."""
    lines: dict[bytes, str] = {}
    postings: set[tuple[bytes, int]] = set()
    for doc, body in docs:
        for line in body.split("\n"):
            if line.strip():
                key = hashlib.sha256(line.encode("utf-8", "surrogatepass")).digest()[:LINE_KEY]
                lines.setdefault(key, line)
                postings.add((key, doc))
    ids = _line_ids(conn, list(lines))
    new = [key for key in lines if key not in ids]
    if new:
        last = conn.scalar(select(SearchMark.last_id).where(SearchMark.name == LINES_MARK))
        ids.update((key, (last or 0) + n) for n, key in enumerate(new, 1))
        if last is None:
            conn.execute(insert(SearchMark).values(name=LINES_MARK, last_id=ids[new[-1]]))
        else:
            conn.execute(update(SearchMark).where(SearchMark.name == LINES_MARK)
                         .values(last_id=ids[new[-1]]))
        conn.exec_driver_sql("INSERT INTO search_lines(key, id) VALUES (?, ?)",
                             [(key, ids[key]) for key in new])
        conn.exec_driver_sql("INSERT INTO search_fts(rowid, body) VALUES (?, ?)",
                             [(ids[key], lines[key]) for key in new])
        conn.exec_driver_sql("INSERT INTO search_bigrams(rowid, grams) VALUES (?, ?)",
                             [(ids[key], _bigrams(lines[key])) for key in new])
    if postings:    # none when every document is blank (a page of scripts, an empty body)
        conn.exec_driver_sql("INSERT OR IGNORE INTO search_postings(line, doc) VALUES (?, ?)",
                             sorted((ids[key], doc) for key, doc in postings))


def _line_ids(conn: Connection, keys: list[bytes]) -> dict[bytes, int]:
    """key → id of the lines among *keys* indexed already."""
    found: dict[bytes, int] = {}
    for start in range(0, len(keys), CHUNK):
        part = keys[start:start + CHUNK]
        marks = ", ".join("?" * len(part))
        found.update(conn.exec_driver_sql(
            f"SELECT key, id FROM search_lines WHERE key IN ({marks})", tuple(part)).all())
    return found


def _map_takedowns(read: Reader, conn: Connection) -> int:
    """Map each takedown without texts to the texts it took away; returns how many."""
    done = select(SearchTakedown.takedown_id).where(
        SearchTakedown.takedown_id == Takedown.id).exists()
    total = 0
    while True:
        rows = conn.execute(select(Takedown.id, Takedown.last_ok_capture_id,
                                   Takedown.evidence).where(~done)
                            .order_by(Takedown.id).limit(CHUNK)).all()
        if not rows:
            return total
        captures = {tid: _content_captures(last_ok, ev or {}) for tid, last_ok, ev in rows}
        keys = _text_keys(conn, {c for cs in captures.values() for c in cs})
        _add_pages(read, conn, {k for k in keys.values() if k})
        removed = {tid: _removed(ev or {}) for tid, _last, ev in rows}
        docs = {_key(t): t for t in removed.values() if t}
        known = _indexed(conn, docs)
        add_texts(conn, [(k, t) for k, t in docs.items() if k not in known],
                  pages=False)
        links = set()
        for tid, cs in captures.items():
            links.update((tid, keys[c]) for c in cs if keys.get(c))
            if removed[tid]:
                links.add((tid, _key(removed[tid])))
        # a takedown that took no text away still gets a row, which marks it as mapped
        mapped = {t for t, _ in links}
        links.update((tid, _key("")) for tid in captures if tid not in mapped)
        conn.execute(insert(SearchTakedown), [{"takedown_id": t, "sha256": s}
                                              for t, s in sorted(links)])
        total += len(rows)


def _content_captures(last_ok: int | None, evidence: dict) -> set[int]:
    """The captures whose page a takedown's text is read from (``reports.report``): its
    last ok capture, and for a delisted entry the page still serving it."""
    still = evidence.get("page_still_serving")
    found = {last_ok} if last_ok else set()
    if isinstance(still, dict) and isinstance(still.get("capture_id"), int):
        found.add(still["capture_id"])
    return found


def _removed(evidence: dict) -> str:
    removed = evidence.get("removed_text") or []
    return "\n".join(t for t in removed if isinstance(t, str))[:MAX_CHARS]


def _key(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _text_keys(conn: Connection, capture_ids: set[int]) -> dict[int, str | None]:
    return dict(conn.execute(select(Capture.id, Capture.text_sha256).where(
        Capture.id.in_(sorted(capture_ids)))).all()) if capture_ids else {}


# -- searching ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Snippet:
    """The text around a match, and the match itself: plain text, for the caller to mark
    (``【…】`` on a terminal, an escaped ``<mark>`` in the viewer)."""

    before: str
    match: str
    after: str

    def __str__(self) -> str:
        return f"{self.before}【{self.match}】{self.after}" if self.match else self.before


@dataclass(frozen=True)
class CaptureHit:
    """The newest capture of a URL holding one matching text (``captures``: how many of
    the URL's captures hold it; ``takedowns``: the ids of the URL's takedowns, so a term
    leads from what was captured to what went missing)."""

    capture_id: int
    url: str
    target: str
    captured_at: datetime
    captures: int
    snippet: Snippet
    takedowns: tuple[int, ...] = ()

    @property
    def path(self) -> str:
        return f"/captures/{self.capture_id}/raw"

    def to_json(self) -> dict[str, Any]:
        return _json(self)


@dataclass(frozen=True)
class TakedownHit:
    """A takedown one of whose removed texts matches; ``capture_id``: its last ok capture."""

    takedown_id: int
    url: str
    item: str
    target: str
    kind: str
    detected_at: datetime
    capture_id: int | None
    snippet: Snippet

    @property
    def path(self) -> str:
        return f"/takedowns/{self.takedown_id}"

    def to_json(self) -> dict[str, Any]:
        return _json(self)


def _json(hit: CaptureHit | TakedownHit) -> dict[str, Any]:
    out = asdict(hit)
    out.update(snippet=str(hit.snippet), path=hit.path)
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in out.items()}


def snippet(body: str, term: str, width: int = 40) -> Snippet:
    """The first match of *term* in *body* (ignoring case), with *width* characters on
    either side, on one line.

    >>> str(snippet("一二三 Army of the people 四五六", "army", 2))
    '…三 【Army】 o…'
    """
    m = re.search(re.escape(term), body, re.IGNORECASE) if term else None
    if m is None:
        return Snippet(_line(body[:2 * width]) + ("…" if len(body) > 2 * width else ""), "", "")
    start, end = max(0, m.start() - width), min(len(body), m.end() + width)
    return Snippet(("…" if start else "") + _line(body[start:m.start()]), _line(m.group()),
                   _line(body[m.end():end]) + ("…" if end < len(body) else ""))


def _line(part: str) -> str:
    return part.replace("\n", " ")


def matching_texts(conn: Connection, term: str) -> Select[Any]:
    """The ids of the documents holding *term* (see the module docstring for how)."""
    if conn.dialect.name != "sqlite":
        return select(SearchText.id).where(SearchText.body.ilike(f"%{_like(term)}%",
                                                                 escape="\\"))
    lines = _matching_lines(term)
    return select(_POSTINGS.c.doc).where(_POSTINGS.c.line.in_(lines)).distinct()


_POSTINGS = table("search_postings", column("line", Integer), column("doc", Integer))


def _matching_lines(term: str) -> Select[Any]:
    """SQLite: the ids of the lines holding *term*."""
    if len(term) >= 3:      # a phrase of trigrams: the term's own, adjacent, in order
        fts = text("SELECT rowid AS id FROM search_fts WHERE search_fts MATCH :q").bindparams(
            q='"' + term.replace('"', '""') + '"').columns(id=Integer())
        return select(fts.subquery().c.id)
    folded = term.casefold()
    if len(folded) >= 3:        # a letter folding to several (``ß`` → ``ss``)
        return _matching_lines(folded)
    token = _gram(folded) if len(folded) == 2 else _char(folded)
    grams = text("SELECT rowid AS id FROM search_bigrams WHERE search_bigrams MATCH :q"
                 ).bindparams(q=f'"{token}"').columns(id=Integer())
    return select(grams.subquery().c.id)


def _like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_captures(store: Store, term: str, target: str | None = None,
                    limit: int = 50) -> list[CaptureHit]:
    """Captures whose page text holds *term*: per URL and text, the newest capture, newest
    first."""
    term = term.strip()
    if not term:
        return []
    with store.engine.connect() as conn:
        tid = conn.scalar(select(Target.id).where(Target.name == target)) if target else None
        if target is not None and tid is None:
            return []
        matching = matching_texts(conn, term)
        few = list(conn.scalars(matching.limit(JOIN_TEXTS + 1)))
        if len(few) <= JOIN_TEXTS:
            found = _grouped(conn, few, tid, limit)
        else:
            found = _newest_first(conn, matching, tid, limit)
        bodies = _bodies(store, conn, {doc for _c, _n, doc in found})
        about = {cid: (url, name, at, uid) for cid, url, name, at, uid in conn.execute(
            select(Capture.id, Url.url, Target.name, Capture.captured_at, Capture.url_id)
            .join(Url, Url.id == Capture.url_id).join(Target, Target.id == Capture.target_id)
            .where(Capture.id.in_([c for c, _n, _d in found])))}
        gone: dict[int, list[int]] = {}
        for uid, td in conn.execute(select(Takedown.url_id, Takedown.id).where(
                Takedown.url_id.in_(sorted({a[3] for a in about.values()})))
                .order_by(Takedown.id)):
            gone.setdefault(uid, []).append(td)
    return [CaptureHit(cid, about[cid][0], about[cid][1], as_utc(about[cid][2]), n,
                       snippet(bodies[doc], term), tuple(gone.get(about[cid][3], ())))
            for cid, n, doc in found]


def _grouped(conn: Connection, docs: list[int], target_id: int | None,
             limit: int) -> list[tuple[int, int, int]]:
    """(newest capture, captures, document) per URL and text among a few texts: from the
    texts to their captures (``ix_captures_text_sha256``)."""
    newest = func.max(Capture.id)
    q = (select(newest, func.count(), SearchText.id)
         .join(SearchText, SearchText.sha256 == Capture.text_sha256)
         .where(SearchText.id.in_(docs))
         .group_by(Capture.url_id, SearchText.id).order_by(newest.desc()).limit(limit))
    if target_id is not None:
        q = q.where(Capture.target_id == target_id)
    return [tuple(row) for row in conn.execute(q)]  # type: ignore[misc]


def _newest_first(conn: Connection, matching: Select[Any], target_id: int | None,
                  limit: int) -> list[tuple[int, int, int]]:
    """The same for a term many texts hold (grouping all their captures would read most of
    the store): the captures newest first, a chunk at a time, until *limit* URL and text
    pairs are found."""
    newest: dict[tuple[int, str], int] = {}
    docs: dict[str, int] = {}
    q = select(Capture.id, Capture.url_id, Capture.text_sha256).order_by(
        Capture.id.desc()).limit(SCAN_CHUNK)
    if target_id is not None:
        q = q.where(Capture.target_id == target_id)
    below = None
    while len(newest) < limit:
        rows = conn.execute(q if below is None else q.where(Capture.id < below)).all()
        shas = sorted({sha for _c, _u, sha in rows if sha})
        docs.update(conn.execute(select(SearchText.sha256, SearchText.id).where(
            SearchText.sha256.in_(shas), SearchText.id.in_(matching))).all())
        for cid, uid, sha in rows:
            if sha in docs and (uid, sha) not in newest and len(newest) < limit:
                newest[(uid, sha)] = cid
        if len(rows) < SCAN_CHUNK:
            break
        below = rows[-1][0]
    count = select(func.count()).select_from(Capture)
    return [(cid, conn.scalar(count.where(Capture.url_id == uid, Capture.text_sha256 == sha))
             or 0, docs[sha]) for (uid, sha), cid in newest.items()]


def search_takedowns(store: Store, term: str, target: str | None = None,
                     limit: int = 50) -> list[TakedownHit]:
    """Takedowns whose removed text (their last seen page, their removed blocks) holds
    *term*, latest detected first."""
    term = term.strip()
    if not term:
        return []
    doc = func.min(SearchText.id)
    q = (select(Takedown.id, Url.url, Takedown.item, Target.name, Takedown.kind,
                Takedown.detected_at, Takedown.last_ok_capture_id, doc)
         .join(SearchTakedown, SearchTakedown.takedown_id == Takedown.id)
         .join(SearchText, SearchText.sha256 == SearchTakedown.sha256)
         .join(Url, Url.id == Takedown.url_id).join(Target, Target.id == Takedown.target_id)
         .group_by(Takedown.id, Url.url, Target.name)
         .order_by(Takedown.detected_at.desc(), Takedown.id.desc()).limit(limit))
    if target is not None:
        q = q.where(Target.name == target)
    with store.engine.connect() as conn:
        found = conn.execute(q.where(SearchText.id.in_(matching_texts(conn, term)))).all()
        bodies = _bodies(store, conn, {row[-1] for row in found})
    return [TakedownHit(tid, url, item, name, kind, as_utc(at), last_ok,
                        snippet(bodies[d], term))
            for tid, url, item, name, kind, at, last_ok, d in found]


def takedown_texts(store: Store, term: str, takedown_ids: Iterable[int]) -> dict[int, int]:
    """takedown id → a document of its removed text holding *term*, for those among
    *takedown_ids* that have one (the viewer's ``q``; `snippets` cuts their snippets)."""
    ids = sorted(set(takedown_ids))
    term = term.strip()
    if not ids or not term:
        return {}
    with store.engine.connect() as conn:
        q = (select(SearchTakedown.takedown_id, func.min(SearchText.id))
             .join(SearchText, SearchText.sha256 == SearchTakedown.sha256)
             .where(SearchTakedown.takedown_id.in_(ids),
                    SearchText.id.in_(matching_texts(conn, term)))
             .group_by(SearchTakedown.takedown_id))
        return dict(conn.execute(q).all())  # type: ignore[arg-type]


def snippets(store: Store, term: str, docs: Mapping[int, int]) -> dict[int, Snippet]:
    """key → the snippet of *term* in its document, for *docs* (key → document id, as
    `takedown_texts` gives): the texts are read for these only."""
    with store.engine.connect() as conn:
        bodies = _bodies(store, conn, set(docs.values()))
    return {key: snippet(bodies[d], term) for key, d in docs.items()}


def _bodies(store: Store, conn: Connection, ids: set[int]) -> dict[int, str]:
    """document id → its plain text: kept, or read again from its text blob (a page's, on
    SQLite); a blob gone since (or never stored) gives an empty text, so no snippet."""
    rows = conn.execute(select(SearchText.id, SearchText.sha256, SearchText.body).where(
        SearchText.id.in_(sorted(ids)))).all() if ids else []
    bodies = {i: body for i, _sha, body in rows if body is not None}
    missing = {sha: i for i, sha, body in rows if body is None}
    if missing:
        for sha, raw in _read_blobs(store, conn, set(missing)):
            bodies[missing[sha]] = plain_text(raw.decode("utf-8", "replace"))
    return {i: bodies.get(i, "") for i, _sha, _body in rows}
