"""``detect``: turn stored captures into takedowns, incrementally and idempotently.

For every (round, target) not yet processed, in time order: classify each capture
(``classify``), move each URL's state machine (ok → gone/notice opens a takedown, back to
ok restores it, a kind change updates it; failed and restricted rounds change nothing),
look for substantive text scrubbed from pages that still serve (``edited``), entries
taken out of the middle of a listing while their pages still serve (``delisted``) and
sub-page items that vanished.  Each (round, target) is one transaction, marked done with
what the next round needs (listings, items), so the cost of a run grows with the new
captures, not with the history.  The only module of ``diffing`` that touches the store.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from diffing.classify import Fetch, Verdict, classify, is_home
from diffing.edits import EditMemory
from diffing.extract import Page, extract
from diffing.listing import (
    DELIST_MIN_ENTRIES,
    LISTING_MIN_LINKS,
    entry_links,
    in_widget,
    listing_pages,
    matched_lists,
    overtaken,
    series_key,
    series_pages,
    series_sequences,
    sitewide,
    template_widgets,
    time_ordered,
    vanished_from_middle,
)
from diffing.phrases import Phrasebook, load_phrasebook
from snapshots.detection_store import (
    EVIDENCE_VERSION,
    CaptureRef,
    DetectionStore,
    Evidence,
    Job,
    JobSession,
    StateRef,
    TakedownRef,
)
from snapshots.repo import Store, as_utc
from snapshots.search import index_pending
from snapshots.urls import normalize_url
from snapshots.vocab import TAKEDOWN_STATES, Kind, State, is_html

log = logging.getLogger(__name__)

MAX_LIST_PATHS = 2000   # learned list paths kept per target
PENDING_ROUNDS = 3      # rounds a pending delisting waits for its page to be read
MAX_ANCHORS = 5         # entries after a pending delisting that show its list is still read
VOLATILE_LIST_PAGES = 2  # pages whose list at one path changed in a round: a volatile list
TEMPLATE_PAGES = 3      # pages of a round holding a block's text: the site's template
# A round that fetched only what was due (adaptive recheck) left the other pages alone: their
# memory is kept, and what hangs on them waits, for at most this long since last read.
NOT_DUE_KEPT = timedelta(days=2)
# How strongly a kind's evidence speaks: a page first read as dropped from its listing or
# scrubbed that later shows a notice or goes takes the stronger kind.
KIND_STRENGTH = {Kind.DELISTED: 0, Kind.EDITED: 1, Kind.REMOVED: 2, Kind.SECTION_CLOSED: 3,
                 Kind.CENSORED: 3, Kind.AUTHOR_DELETED: 3, Kind.ACCOUNT_SUSPENDED: 3}


@dataclass
class DetectSummary:
    jobs: int = 0
    captures: int = 0
    opened: dict[str, int] = field(default_factory=dict)
    restored: int = 0
    errors: int = 0     # captures whose reading raised (their verdict is ``error``)
    failed_jobs: list[str] = field(default_factory=list)

    def add(self, kind: str) -> None:
        self.opened[kind] = self.opened.get(kind, 0) + 1


def detect(store: Store, phrases: Phrasebook | None = None,
           progress: Callable[[int, int], None] | None = None) -> DetectSummary:
    """Process every captured (round, target) not processed yet."""
    phrases = phrases or load_phrasebook()
    ds = DetectionStore(store)
    drop = store.volatile_params()
    jobs = ds.pending()
    summary = DetectSummary()
    for n, job in enumerate(jobs, 1):
        try:
            with ds.job() as js:
                RoundDetector(js, job, phrases, drop, summary).run()
        except Exception as exc:
            _skip_job(ds, job, exc, summary)
        summary.jobs += 1
        if progress:
            progress(n, len(jobs))
    # last, so that the search finds the new takedowns too (`snapshots.search`)
    with store.writing() as s:
        index_pending(store, s.connection())
    return summary


def _skip_job(ds: DetectionStore, job: Job, exc: Exception, summary: DetectSummary) -> None:
    """A job that failed outside any one capture (its transaction rolled back) is marked
    done with the memory of the target's round before it, so the next round compares
    with that one, and the error noted: detection goes on with the next rounds."""
    log.error("round %s, target %s: %s: %s", job.round_id, job.target,
              type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    summary.failed_jobs.append(f"round {job.round_id} target {job.target}: "
                               f"{type(exc).__name__}: {exc}"[:300])
    with ds.job() as js:
        memory = js.round_memory(job.target_id, job.at)
        js.mark_done(job.round_id, job.target_id,
                     {**memory, "error": f"{type(exc).__name__}: {exc}"[:500]})


def _normalizer(drop: dict[str, set[str]]) -> Callable[[str], str | None]:
    @lru_cache(maxsize=100_000)
    def norm(url: str) -> str | None:
        try:
            return normalize_url(url, drop=drop.get(urlsplit(url).hostname or "", ()))
        except ValueError:
            return None
    return norm


class RoundDetector:
    """One (round, target): verdicts, state machines, edits, listings, items."""

    def __init__(self, js: JobSession, job: Job, phrases: Phrasebook,
                 drop: dict[str, set[str]], summary: DetectSummary) -> None:
        self.js, self.job, self.phrases, self.summary = js, job, phrases, summary
        self.norm = _normalizer(drop)
        self.items_sel = job.spec.get("items")
        self.depth = int(job.spec.get("depth") or 0)
        self.item_id = job.spec.get("item_id")
        seed = self.norm(job.spec.get("url", "")) or job.spec.get("url", "")
        root = urlunsplit(urlsplit(seed)[:2] + ("/", "", ""))
        self.host = urlsplit(seed).hostname
        # the site's home pages: its root, the seed, and the folders above the seed (a
        # site served under a path prefix has its home there)
        parts = urlsplit(seed).path.split("/")[1:-1]
        folders = {urlunsplit(urlsplit(seed)[:2] + ("/" + "/".join(parts[:n]) + "/", "", ""))
                   for n in range(1, len(parts) + 1)}
        self.homes = frozenset({seed, root, *folders})
        self.caps: list[CaptureRef] = []
        self.captured: set[str] = set()      # the URLs of self.caps
        self._known: set[str] | None = None  # every page URL of the target (read once)
        self.pages: dict[int, Page] = {}
        self.verdicts: dict[int, Verdict] = {}

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        caps = self.js.captures(self.job.round_id, self.job.target_id)
        self.summary.captures += len(caps)
        self.errors: dict[int, Verdict] = {}
        for c in caps:
            text = self.js.text(c.text_sha256)
            if is_html(c.headers.get("content-type"), text):
                self._guarded(c, self._read, c, text)
        probe = next((c for c in caps if c.role == "probe"), None)
        self.caps = [c for c in caps if c.role == "page"]
        self.captured = {c.url for c in self.caps}
        # every page's same-host entry links, computed once for edits, listings and items
        self.entries = {c.id: entry_links(self.pages[c.id], self.host, self.norm)
                        for c in self.caps if c.id in self.pages}
        self.memory = self.js.round_memory(self.job.target_id, self.job.at)
        self.list_paths = self._list_paths()
        self.listing_urls = self._listing_pages()
        self.prev_listings = self._before("listings", lambda v: v)
        states = self.js.states([c.url_id for c in self.caps])
        self.list_changes: dict[str, int] = {}
        self.edit_candidates: list[tuple] = []
        # every verdict first: a page's reading may depend on another's (a later page of
        # a list goes with its first page)
        judged = [(c, states.get(c.url_id)) for c in self.caps if c.id not in self.errors]
        last_oks = [self._guarded(c, self._judge, c, st, probe) for c, st in judged]
        for (c, st), last_ok in zip(judged, last_oks, strict=True):
            if c.id not in self.errors:
                self._guarded(c, self._advance, c, st, self.verdicts[c.id],
                              self.pages.get(c.id), last_ok)
        for c in self.caps:
            if c.id in self.errors:
                v = self.verdicts[c.id] = self.errors[c.id]
                self.js.put_verdict(c.id, v.state, v.kind, v.rule, v.detail)
        self._open_edits()
        self.ok = {c.url: (c, self.pages[c.id]) for c in self.caps
                   if self.verdicts[c.id].state == State.OK and c.id in self.pages}
        memory = {"listings": self._listings(), "items": self._items(),
                  "list_paths": sorted(self.list_paths)[:MAX_LIST_PATHS],
                  "volatile_lists": sorted(self.volatile_lists)[:MAX_LIST_PATHS],
                  **self._pending_memory()}
        self._note_pages(memory["listings"])
        self.js.mark_done(self.job.round_id, self.job.target_id, memory)

    def _note_pages(self, listings: dict) -> None:
        """Publication times and listings, read for the adaptive recheck's next checks."""
        self.js.note_pages({c.url_id: (_aware(page.published), c.url in listings
                                       or bool(page.items))
                            for c, page in self.ok.values()})

    def _read(self, c: CaptureRef, text: str) -> None:
        self.pages[c.id] = self._extract(text, c.final_url or c.url)

    def _guarded(self, c: CaptureRef, step: Callable[..., Any], *args: Any) -> Any:
        """*step* for one capture, inside a savepoint: whatever the capture does to
        extraction, classification or the state machine ends at that capture, as an
        ``error`` verdict naming the exception; its URL's state is left as it was (like a
        failed fetch) and the job goes on."""
        try:
            with self.js.savepoint():
                return step(*args)
        except Exception as exc:
            log.warning("capture %s (%s): %s: %s", c.id, c.url, type(exc).__name__, exc,
                        exc_info=log.isEnabledFor(logging.DEBUG))
            self.pages.pop(c.id, None)
            self.errors[c.id] = Verdict(State.ERROR, None, f"error:{type(exc).__name__}",
                                        {"error": f"{type(exc).__name__}: {exc}"[:500]})
            self.summary.errors += 1
            return None

    def _list_paths(self) -> set[str]:
        """Structural paths of repeated entries (list items, comments, cards, rows) on the
        target's pages, learned over its history: a path seen repeated on any page is a
        list there, even on a page that shows a single entry of it today (a comment box
        down to one comment).  Text leaving such a path is an entry leaving a list."""
        paths = set(self.memory.get("list_paths", ()))
        for page in self.pages.values():
            paths.update(b.path for b in page.blocks if b.slot >= 0)
        return paths

    def _extract(self, text: str, url: str) -> Page:
        return extract(text, url, self.items_sel, self.item_id)

    def _judge(self, c: CaptureRef, st, probe: CaptureRef | None) -> Page | None:
        """The capture's verdict (stored); returns the URL's last ok page where it was
        needed to judge (the page changed or was redirected)."""
        last_ok = None
        page = self.pages.get(c.id)
        needs_last = st is not None and st.last_ok_capture_id and (
            (c.final_url and c.final_url != c.url) or
            (c.body_sha256 != (st.memory or {}).get("ok_sha")))
        if needs_last:
            text = self.js.capture_text(st.last_ok_capture_id)
            last_ok = self._extract(text, c.url) if is_html(None, text) else None
        notfound = None
        if probe is not None and probe.status is not None and 200 <= probe.status < 300:
            notfound = self.pages.get(probe.id)
        # the final URL read as the watched one is (a session parameter learned since the
        # fetch is not a redirect to another page)
        final = (self.norm(c.final_url) or c.final_url) if c.final_url else None
        fetch = Fetch(c.id, c.url, c.at, c.status, final, c.error_kind, c.redirects,
                      c.body_sha256, c.headers)
        v = classify(fetch, page, self.phrases, notfound=notfound,
                     notfound_status=probe.status if probe else None, last_ok=last_ok,
                     homes=self.homes, logged_in=bool(self.job.spec.get("cookies")))
        self.verdicts[c.id] = v
        self.js.put_verdict(c.id, v.state, v.kind, v.rule, v.detail)
        return last_ok

    # -- the state machine of one URL ------------------------------------------------------------
    def _advance(self, c: CaptureRef, st: StateRef | None, v: Verdict, page: Page | None,
                 last_ok: Page | None) -> None:
        memory = dict(st.memory or {}) if st is not None else {}
        fields: dict = {"last_capture_id": c.id}
        open_td = self.js.takedown(st.open_takedown_id) if st is not None else None
        if v.state == State.OK:
            if open_td is not None:
                self._restore(open_td.id)
                fields["open_takedown_id"] = None
            if st is not None and st.last_ok_capture_id and page is not None:
                self._edits(c, st, memory, page, last_ok)
            elif page is not None:
                EditMemory(memory).learn(page)
            memory["ok_sha"] = c.body_sha256
            fields.update(state=State.OK.value, last_ok_capture_id=c.id, last_ok_at=self.job.at)
        elif v.state in TAKEDOWN_STATES:
            fields["state"] = v.state
            v = self._listing_gone(c, v, memory)
            if v.kind is None:          # a page of a list that got shorter: pagination
                fields["state"] = State.MOVED.value
            elif open_td is not None:
                # a later reading may name the kind better; plain "removed" never overrides
                if v.kind != open_td.kind and v.kind != Kind.REMOVED:
                    self.js.rekind(open_td.id, v.kind, {
                        **open_td.evidence, **self._why(v),
                        "kind_changed_at": self.job.at.isoformat()})
            elif st is not None and st.last_ok_capture_id:
                td = self._open(c, st.last_ok_capture_id, st.last_ok_at, v.kind or Kind.REMOVED,
                                self._why(v))
                fields["open_takedown_id"] = td.id
        elif v.state == State.MOVED:
            fields["state"] = State.MOVED.value
        if st is None:
            fields.setdefault("state", v.state)
        fields["memory"] = memory
        self.js.put_state(c.url_id, **fields)

    def _listing_gone(self, c: CaptureRef, v: Verdict, memory: dict) -> Verdict:
        """A listing page that went is a closed section, unless it was a later page of a
        paginated list (the list got shorter: not a takedown).  Only where the site is
        alive (some page of the target still serves) and only for plain removals: a notice
        keeps the kind it states."""
        if v.kind != Kind.REMOVED:
            return v
        if memory.get("listing") == "pagination":      # judged so when it went
            return Verdict(v.state, None, f"{v.rule}+pagination", v.detail)
        if c.url not in self.prev_listings:
            return v
        if v.detail.get("platform") not in (None, "", "generic"):
            return v    # a platform's own notice names what went: a thread's is "removed"
        first = self._first_page_gone(c.url)
        if first is not None:       # the whole list went: its pages go as its first did
            return Verdict(v.state, first.kind, f"{v.rule}+{first.rule}", v.detail)
        if series_key(c.url)[1] > 1:
            memory["listing"] = "pagination"
            return Verdict(v.state, None, f"{v.rule}+pagination", v.detail)
        alive = any(o.status is not None and 200 <= o.status < 300
                    for o in self.caps if o.id != c.id)
        if not alive or self.depth < 1 or not self._section(c.url):
            return v
        return Verdict(v.state, Kind.SECTION_CLOSED, f"{v.rule}+listing-gone", v.detail)

    def _first_page_gone(self, url: str) -> Verdict | None:
        """For a later page of a paginated list: the first page's reading, if that went
        too this round as a closed section."""
        series, number = series_key(url)
        if number <= 1:
            return None
        c = next((o for o in self.caps if o.url == series), None)
        v = self.verdicts.get(c.id) if c is not None else None
        if v is None or v.state not in TAKEDOWN_STATES:
            return None
        v = v if v.kind == Kind.SECTION_CLOSED else self._listing_gone(c, v, {})
        return v if v.kind == Kind.SECTION_CLOSED else None

    def _section(self, url: str) -> bool:
        """Whether a listing page was a section of the target: a list of entries that are
        pages the target watches (a board's threads), not a page that merely links out
        (a thread's replies and their authors)."""
        watched = self.captured
        if self.job.partial:    # the round fetched only what was due: the target's pages
            if self._known is None:
                self._known = self.captured | self.js.target_urls(self.job.target_id)
            watched = self._known
        listed = [u for u, _k in self.prev_listings[url].get("links", ())]
        return sum((self.norm(u) or u) in watched for u in listed) >= LISTING_MIN_LINKS

    def _why(self, v: Verdict) -> dict:
        return {"rule": v.rule, **v.detail}

    def _open(self, c: CaptureRef, last_ok_id: int, last_seen, kind: str,
              why: dict, item: str = "", url_id: int | None = None,
              first_id: int | None = None,
              detected_at: datetime | None = None) -> TakedownRef:
        """A takedown of *c*'s URL (or of *item* on it): one record per URL and item,
        whichever targets reach it.  An open record of another reading (another target's,
        or a weaker kind: ``delisted``/``edited`` before the page went) takes this one in:
        the target is added, and a stronger kind replaces the weaker, kept in its history."""
        first_id = first_id or c.id
        url = c.url if url_id in (None, c.url_id) else self.js.url_of(url_id)
        td = self.js.open_takedown_of(url, item)
        if td is not None:
            self._merge(td, kind, why)
            return td
        evidence: Evidence = {
            **why, "version": EVIDENCE_VERSION, "last_ok": self.js.capture_facts(last_ok_id),
            "first": self.js.capture_facts(first_id), "targets": [self.job.target]}
        td = self.js.add_takedown(
            target_id=self.job.target_id, url_id=url_id or c.url_id, item=item, kind=kind,
            last_seen=last_seen, detected_at=detected_at or self.job.at,
            last_ok_capture_id=last_ok_id, first_capture_id=first_id, evidence=evidence)
        self.summary.add(kind)
        return td

    def _restore(self, takedown_id: int) -> None:
        """The takedown's content is back in this round."""
        self.js.restore(takedown_id, self.job.at)
        self.summary.restored += 1

    def _merge(self, td: TakedownRef, kind: str, why: dict) -> None:
        evidence = dict(td.evidence or {})
        targets = list(evidence.get("targets") or [])
        if self.job.target not in targets:
            evidence["targets"] = targets + [self.job.target]
        if KIND_STRENGTH.get(kind, 0) > KIND_STRENGTH.get(td.kind, 0):
            history = list(evidence.get("history") or [])
            history.append({"kind": td.kind, "rule": evidence.get("rule"),
                            "detected_at": as_utc(td.detected_at).isoformat()})
            evidence = {**evidence, **why, "history": history,
                        "kind_changed_at": self.job.at.isoformat()}
            self.js.rekind(td.id, kind, evidence)
        else:
            self.js.set_evidence(td.id, evidence)

    def _listing_pages(self) -> set[str]:
        """Pages that list the target's entries.  With depth ≥ 1 their entries are pages
        of their own, so what leaves a listing is judged by the listing rules and by the
        entries' own pages, never as an edit of the listing."""
        if self.depth < 1:
            return set()
        links = {c.url: self.entries[c.id] for c in self.caps if c.id in self.entries}
        pages = {c.url: self.pages[c.id] for c in self.caps if c.id in self.entries}
        nav = sitewide([f"{u} {k}" for u, k in seq] for seq in links.values())
        return listing_pages({url: [(u, k) for u, k in seq if f"{u} {k}" not in nav]
                              for url, seq in links.items()},
                             lambda url: self._all_links(pages[url]))

    def _all_links(self, page: Page) -> Iterator[str | None]:
        """Every link of *page* normalised, main content or not (a pager, a sidebar)."""
        return (self.norm(link.url) for link in page.links)

    # -- edited ----------------------------------------------------------------------------------
    def _edits(self, c: CaptureRef, st: StateRef, memory: dict, page: Page,
               last_ok: Page | None) -> None:
        edits = EditMemory(memory)
        for td_id in edits.open_ids():
            td = self.js.takedown(td_id)
            if td is not None and td.restored_at is None and edits.back(td.evidence, page):
                self._restore(td.id)
                edits.close(td_id)
        if last_ok is None:     # unchanged
            edits.learn(page)
            return
        lists = self.list_paths | {b.path for b in last_ok.blocks if b.slot >= 0}
        removed = edits.removals(last_ok, page, self._gone_entries(last_ok, c))
        for path in edits.changed & lists:
            self.list_changes[path] = self.list_changes.get(path, 0) + 1
        edits.learn(page)
        if removed and c.url not in self.listing_urls:  # a listing is never edited
            self.edit_candidates.append((c, st.last_ok_capture_id, st.last_ok_at, removed,
                                         memory))

    def _open_edits(self) -> None:
        """The round's ``edited`` takedowns, once every page was compared: text that left a
        list whose entries came and went on two or more of the target's pages (a comment
        box, replies: on every post page at once), now or in an earlier round, is entries
        leaving a list, not an edit of the page."""
        learned = set(self.memory.get("volatile_lists", ()))
        self.volatile_lists = learned | {p for p, n in self.list_changes.items()
                                         if n >= VOLATILE_LIST_PAGES}
        shared = self._template_keys() if self.edit_candidates else set()
        for c, last_id, last_at, removed, memory in self.edit_candidates:
            keep = [r for r in removed if r.path not in self.volatile_lists
                    and EditMemory.key_of(r) not in shared]
            if not keep:
                continue
            td = self._open(c, last_id, last_at, Kind.EDITED,
                            {"rule": "blocks:removed",
                             "removed_text": [r.old for r in keep],
                             "removed_keys": [EditMemory.key_of(r) for r in keep]})
            EditMemory(memory).opened(td.id)
            self.js.put_state(c.url_id, memory=copy.deepcopy(memory))

    def _template_keys(self) -> set[str]:
        """Keys of blocks whose text (masked) stands on ``TEMPLATE_PAGES`` or more of the
        round's pages, as content or as chrome: an advert, a banner or a notice of the
        site's template, which a page that drops it (a page's first comparison has no
        history of its own to tell) was not edited of."""
        seen = Counter(k for page in self.pages.values()
                       for k in {EditMemory.key_of_text(b.key)
                                 for b in (*page.blocks, *page.boilerplate)})
        return {k for k, n in seen.items() if n >= TEMPLATE_PAGES}

    def _gone_entries(self, old: Page, c: CaptureRef) -> list[tuple[str, str]]:
        """(link text, link's container path) of the same-host entries on *old* that are
        not on the page captured by *c* (depth ≥ 1 only: then those entries are pages the
        crawl watches on their own)."""
        if self.depth < 1:
            return []
        now = {u for u, _k in self.entries.get(c.id, [])}
        gone = {u for u, _k in entry_links(old, self.host, self.norm)
                if u not in now and not is_home(u, self.homes)}
        return [(link.text, link.path) for link in old.links
                if link.in_main and (self.norm(link.url) or link.url) in gone]

    # -- delisted ----------------------------------------------------------------------------------
    def _listings(self) -> dict:
        ok = self.ok
        links = {url: self.entries[c.id] for url, (c, _page) in ok.items()}
        # navigation: the same link at the same place on many pages (a link that recurs
        # only in random widgets of other pages is still an entry of its listing)
        nav = sitewide([f"{u} {k}" for u, k in seq] for seq in links.values())
        entries = {url: [[u, k] for u, k in seq if f"{u} {k}" not in nav]
                   for url, seq in links.items()}
        before = self._before("listings", lambda v: {**v, "links": [
            [n, k] for n, k in ((self.norm(u), k) for u, k in v["links"]) if n]})
        listings = listing_pages(entries, lambda url: self._all_links(ok[url][1]))
        unseen = self._unseen(before)
        # each list compared over the pages read in both rounds
        pages = [u for u in before if u in ok and u in listings]
        chained = series_sequences({u: before[u]["links"] for u in pages})
        chained_now = series_sequences({u: entries[u] for u in pages})
        # a list still on the listing but read on other pages than last round: some page
        # shows it at another place now (a site serving A/B layouts per request), so its
        # chained entries are not the same slice of the list; neither its order nor what
        # left it is judged this round
        then_on = series_pages({u: before[u]["links"] for u in pages})
        now_on = series_pages({u: entries[u] for u in pages})
        self.reshuffled = {key for key in chained
                           if now_on.get(key) and now_on[key] != then_on.get(key)}
        turned = {key for key, seq in chained.items() if key not in self.reshuffled
                  and not time_ordered(seq, chained_now.get(key, []))}
        # a list that bumps is seen across a template change too (it moved on the page)
        moved = matched_lists(chained, chained_now)
        self.bumped = set(self.memory.get("bumped", ())) | {
            key for key, seq in chained.items() if overtaken(seq, moved.get(key, []))}
        for key in sorted(turned - set(self.memory.get("rotating", ()))):
            log.debug("%s: a list whose entries rotate (%s → %s)", key, chained[key],
                      chained_now.get(key))
        # home pages list the latest of every section in the sections' own template: a list
        # they share entries with is not a widget on that account
        widgets = template_widgets({u: seq for u, seq in entries.items()
                                    if not is_home(u, self.homes)})
        self.rotating = set(self.memory.get("rotating", ())) | turned | {
            key for key in chained if key.split(" ", 1)[1] in widgets}
        # listed: in any list of the target's pages but widgets (a box at one place of a
        # page template, drawing from the same entries on every page) and lists seen to
        # rotate, on their page or, on two pages or more, at that place on every page
        widgets |= {k for k, n in Counter(key.split(" ", 1)[1] for key in self.rotating)
                    .items() if n >= 2}
        # still listed: linked from the main content of any of the target's pages at a
        # place that does not rotate, sitewide boxes included (a "latest" box of the list's
        # own template on every page this round, not the last, is the entry still shown);
        # a page's link to itself (a permalink, its breadcrumb) does not list it, nor does
        # a sidebar's box of related articles
        present = {u for url, seq in links.items() for u, k in seq if u != url
                   and k not in widgets and f"{series_key(url)[0]} {k}" not in self.rotating}
        self.pending = self._confirm_delisted(present, listings, unseen)
        if not unseen:   # an entry may have moved to a page not read: nothing concluded
            self._delisted(before, present, listings, chained)
        else:
            log.debug("target %s: listing pages not read (%s): no delisting concluded",
                      self.job.target, sorted(unseen))
        self._relisted(present)
        now = {url: {"capture_id": ok[url][0].id, "at": self.job.at.isoformat(),
                     "links": entries[url]} for url in listings}
        # keep what could not be seen this round, to compare with the next one
        return {**{u: before[u] for u in unseen}, **now}

    def _pending_memory(self) -> dict:
        return {"rotating": sorted(self.rotating)[:MAX_LIST_PATHS],
                "bumped": sorted(self.bumped)[:MAX_LIST_PATHS],
                "pending_delisted": self.pending}

    def _unseen(self, before: dict) -> set[str]:
        """Pages remembered from the last round that this round could not read (failed,
        restricted, redirected): entries may have moved there, so nothing is concluded."""
        state = {c.url: self.verdicts[c.id].state for c in self.caps}
        return {u for u in before if state.get(u) not in (State.OK, *TAKEDOWN_STATES)}

    def _before(self, key: str, renorm: Callable[[dict], dict]) -> dict:
        """The last round's memory of *key* for the pages captured this round, its URLs
        normalised as now (a session parameter may have been learned since).  A page not
        captured this round has left the crawl: its entries are not waited for; unless the
        round fetched only what was due, which left the page alone: then its memory is
        kept (it counts as unread: nothing is concluded from its absence) for
        ``NOT_DUE_KEPT``."""
        old = self.memory.get(key, {})
        out = {}
        for url, value in old.items():
            url = self.norm(url) or url
            if url in self.captured or (self.job.partial and self._recent(value.get("at"))):
                out[url] = renorm(value)
        return out

    def _recent(self, at: str | None) -> bool:
        return at is not None and self.job.at - datetime.fromisoformat(at) <= NOT_DUE_KEPT

    def _not_due(self, url: str, p: dict) -> bool:
        """A pending delisting whose page or listing this round left alone as not due
        (adaptive recheck): it waits without counting, while it is recent."""
        return (self.job.partial and self._recent(p.get("at"))
                and (url not in self.captured or p["listing"]["url"] not in self.captured))

    def _norm_all(self, urls: list[str]) -> list[str]:
        return [n for n in (self.norm(u) for u in urls) if n]

    def _delisted(self, before: dict, present: set[str], listings: set[str],
                  chained: dict[str, list[str]]) -> None:
        """Entries taken out of the middle of a learned time-ordered listing while their
        pages still serve (*chained*: each list of last round's listing pages that still
        serve, its pages in order): held as pending, and a takedown only if the next round
        shows them missing still (`_confirm_delisted`).  A list seen to rotate (a widget)
        or to bump (`overtaken`) never delists."""
        by_url = {c.url: c for c in self.caps}
        open_urls = self._open_url_ids()
        for listing, old_links in chained.items():
            if listing in self.rotating or listing in self.bumped or \
                    listing in self.reshuffled or in_widget(listing.split(" ", 1)[1]):
                continue
            # entries only: not the listing's own pages (pagination), nor home pages
            listing_url = listing.split(" ", 1)[0]
            links = [u for u in old_links if series_key(u)[0] != listing_url
                     and not is_home(u, self.homes)]
            if len(links) < DELIST_MIN_ENTRIES:
                continue
            for url, pos in vanished_from_middle(links, present):
                c = by_url.get(url)
                # a page an adaptive round left alone is read when it is due, and the
                # delisting confirmed then (`_confirm_delisted`)
                unread = c is None and self.job.partial
                if not unread and (c is None or self.verdicts[c.id].state != State.OK
                                   or c.url_id in open_urls):
                    log.debug("%s: gone from %s, its page not read ok or already taken (%s)",
                              url, listing,
                              self.verdicts[c.id].state if c is not None else "not captured")
                    continue
                page = next(u for u in before if series_key(u)[0] == listing_url
                            and any(e[0] == url for e in before[u]["links"]))
                listed = before[page]
                log.debug("target %s: %s missing from the middle of %s (position %s): "
                          "pending", self.job.target, url, listing, pos)
                self.pending[url] = {
                    "list": listing, "first_capture_id": by_url[page].id,
                    # entries listed after it that were still there: its list, still read
                    "anchors": [u for u in links[pos + 1:] if u in present][:MAX_ANCHORS],
                    "at": self.job.at.isoformat(), "last_ok_capture_id": listed["capture_id"],
                    "last_seen": listed["at"],
                    "listing": {"url": listing_url, "page": page, "position": pos,
                                "pages": {u: before[u]["capture_id"] for u in before
                                          if series_key(u)[0] == listing_url}}}

    def _confirm_delisted(self, present: set[str], listings: set[str],
                          unseen: set[str]) -> dict:
        """Last round's pending delistings: a takedown (dated from the round that first
        showed it missing) when the entry is still listed nowhere, its page still serves
        and its listing is still a time-ordered listing that serves; dropped when it is
        listed again or its page no longer serves; kept while that cannot be told (a page
        of its listing, or its own page, not read this round)."""
        by_url = {c.url: c for c in self.caps}
        keep: dict = {}
        open_urls = self._open_url_ids()
        elsewhere: dict[str, set[str]] = {}     # since → what other targets listed
        blind = {series_key(u)[0] for u in unseen}
        serving = {series_key(u)[0] for u in listings}
        for url, p in self.memory.get("pending_delisted", {}).items():
            url = self.norm(url) or url
            c = by_url.get(url)
            state = self.verdicts[c.id].state if c is not None else None
            if url in present or p["list"] in self.rotating or p["list"] in self.bumped or \
                    state in TAKEDOWN_STATES:
                log.debug("%s: pending delisting dropped (listed again: %s, list rotates: "
                          "%s, page %s)", url, url in present, p["list"] in self.rotating,
                          state)
            elif p["listing"]["url"] in blind or p["listing"]["url"] not in serving or \
                    state != State.OK:
                # its listing or its own page not read this round: wait a little
                if self._not_due(url, p):
                    keep[url] = p
                elif p.get("waited", 0) < PENDING_ROUNDS:
                    keep[url] = {**p, "waited": p.get("waited", 0) + 1}
                log.debug("%s: pending delisting waits (listing unread: %s, listing serves: "
                          "%s, page %s)", url, p["listing"]["url"] in blind,
                          p["listing"]["url"] in serving, state)
            elif p.get("anchors") and not present.intersection(p["anchors"]):
                # none of the entries that stood after it is read as listed now (the list
                # was read as a widget, or changed beyond recognition): nothing confirmed
                log.debug("%s: pending delisting dropped (its list is no longer read)", url)
            elif url in self._listed_elsewhere(p["at"], elsewhere):
                # another target lists it (its own board, its section): it left only
                # what this target reads of the site (a box of hot threads, say)
                log.debug("%s: pending delisting dropped (listed by another target)", url)
            elif c.url_id not in open_urls:
                self._open_at(c, p)
                open_urls.add(c.url_id)
        return keep

    def _listed_elsewhere(self, since: str, known: dict[str, set[str]]) -> set[str]:
        """Entries the other targets read as listed (not in lists they saw rotate) in the
        rounds since a pending delisting was first seen: the union of what the targets
        list, which a delisting must have left.  *known* keeps them by *since*."""
        if since in known:
            return known[since]
        out = known[since] = set()
        for memory in self.js.other_memories(self.job.target_id,
                                             datetime.fromisoformat(since), self.job.at):
            rotating = set(memory.get("rotating", ()))
            for page, value in memory.get("listings", {}).items():
                series = series_key(self.norm(page) or page)[0]
                out.update(self.norm(u) or u for u, k in value.get("links", ())
                           if f"{series} {k}" not in rotating)
        return out

    def _open_at(self, c: CaptureRef, p: dict) -> None:
        self._open(c, p["last_ok_capture_id"], datetime.fromisoformat(p["last_seen"]),
                   Kind.DELISTED, {"rule": "listing:vanished-from-middle",
                                "listing": p["listing"],
                                "page_still_serving": self.js.capture_facts(c.id),
                                "confirmed": self.js.capture_facts(c.id)},
                   url_id=c.url_id, first_id=p["first_capture_id"],
                   detected_at=datetime.fromisoformat(p["at"]))

    def _open_url_ids(self) -> set[int]:
        return {td.url_id for td in self.js.open_takedowns(self.job.target_id, item=False)}

    def _relisted(self, present: set[str]) -> None:
        by_id = {c.url_id: c for c in self.caps}
        for td in self.js.open_takedowns(self.job.target_id, kind=Kind.DELISTED, item=False):
            c = by_id.get(td.url_id)
            if c is not None and c.url in present:
                self._restore(td.id)

    # -- sub-page items ----------------------------------------------------------------------------
    def _items(self) -> dict:
        if not self.items_sel:
            return {}
        ok = self.ok
        now = {url: {"capture_id": c.id, "at": self.job.at.isoformat(),
                     "items": [[it.id, it.key, self._item_links(it)] for it in page.items]}
               for url, (c, page) in ok.items() if page.items}
        present = {i[0] for v in now.values() for i in v["items"]}
        before = self._before("items", lambda v: {**v, "items": [
            [i, k, self._norm_all(links)] for i, k, links in v["items"]]})
        taken = {c.url for c in self.caps if self.verdicts[c.id].state in TAKEDOWN_STATES}
        taken |= self._open_page_urls()
        unseen = self._unseen(before)
        for url, old in before.items():
            if url in ok:
                self._vanished_items(ok[url], old, present, taken, complete=not unseen)
        self._items_back(present)
        return {**{u: before[u] for u in unseen}, **now}

    def _item_links(self, item) -> list[str]:
        return [u for u in (self.norm(link) for link in item.links) if u]

    def _open_page_urls(self) -> set[str]:
        urls = {c.url_id: c.url for c in self.caps}
        return {urls[td.url_id] for td in self.js.open_takedowns(self.job.target_id, item=False)
                if td.url_id in urls}

    def _vanished_items(self, ref: tuple[CaptureRef, Page], old: dict, present: set[str],
                        taken: set[str], complete: bool) -> None:
        """Items gone from the middle of the target's item lists, and items replaced by a
        notice; an item whose own page was taken down is reported as that page."""
        c, page = ref
        items_now = {it.id: it for it in page.items}
        open_items = {td.item for td in self.js.open_takedowns(self.job.target_id, item=True)
                      if td.url_id == c.url_id}
        olds = {i[0]: i for i in old["items"]}
        vanished = vanished_from_middle([i[0] for i in old["items"]], present) if complete \
            else []
        for item_id, pos in vanished:
            if item_id in open_items or taken.intersection(olds[item_id][2]):
                continue
            self._item_takedown(c, old, item_id, Kind.REMOVED,
                                {"rule": "items:vanished-from-middle", "position": pos})
        for item_id, key, _links in old["items"]:
            it = items_now.get(item_id)
            if it is None or it.key == key or item_id in open_items:
                continue
            found = self.phrases.match(it.text)
            if found is not None and found.state == State.NOTICE and found.kind:
                self._item_takedown(c, old, item_id, found.kind, {
                    "rule": f"items:phrase:{found.phrase.platform}",
                    "phrase": found.matched_text, "source": found.phrase.source})

    def _item_takedown(self, c: CaptureRef, old: dict, item_id: str, kind: str,
                       why: dict) -> None:
        last_seen = datetime.fromisoformat(old["at"])
        self._open(c, old["capture_id"], last_seen, kind, why, item=item_id)

    def _items_back(self, present: set[str]) -> None:
        for td in self.js.open_takedowns(self.job.target_id, item=True):
            if td.item in present and td.kind == Kind.REMOVED:
                self._restore(td.id)


def _aware(when: datetime | None) -> datetime | None:
    """A publication time in UTC, or None when the page did not say its offset or its
    time has no UTC twin in the calendar (year 1 at +08:00, 9999-12-31 at -08:00)."""
    if when is None or when.tzinfo is None:
        return None
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
