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

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from diffing.classify import Fetch, Verdict, classify, is_home
from diffing.edits import EditMemory
from diffing.extract import Page, extract
from diffing.listing import (
    LISTING_MIN_LINKS,
    entry_links,
    series_key,
    series_sequences,
    sitewide,
    vanished_from_middle,
)
from diffing.phrases import Phrasebook, load_phrasebook
from snapshots.evidence import CaptureRef, DetectionStore, Job, JobSession
from snapshots.repo import Store
from snapshots.urls import normalize_url

log = logging.getLogger(__name__)

TAKEDOWN_STATES = ("gone", "notice")


@dataclass
class DetectSummary:
    jobs: int = 0
    captures: int = 0
    opened: dict[str, int] = field(default_factory=dict)
    restored: int = 0

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
        with ds.job() as js:
            RoundDetector(js, job, phrases, drop, summary).run()
        summary.jobs += 1
        if progress:
            progress(n, len(jobs))
    return summary


def _normalizer(drop: dict[str, set[str]]) -> Callable[[str], str | None]:
    @lru_cache(maxsize=100_000)
    def norm(url: str) -> str | None:
        try:
            return normalize_url(url, drop=drop.get(urlsplit(url).hostname or "", ()))
        except ValueError:
            return None
    return norm


def _is_html(text: str | None) -> bool:
    return bool(text) and "<" in text[:4096]


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
        self.homes = frozenset({seed, root})
        self.caps: list[CaptureRef] = []
        self.pages: dict[int, Page] = {}
        self.verdicts: dict[int, Verdict] = {}

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        caps = self.js.captures(self.job.round_id, self.job.target_id)
        self.summary.captures += len(caps)
        for c in caps:
            text = self.js.text(c.text_sha256)
            if _is_html(text):
                self.pages[c.id] = self._extract(text, c.final_url or c.url)
        probe = next((c for c in caps if c.role == "probe"), None)
        self.caps = [c for c in caps if c.role == "page"]
        # every page's same-host entry links, computed once for edits, listings and items
        self.entries = {c.id: entry_links(self.pages[c.id], self.host, self.norm)
                        for c in self.caps if c.id in self.pages}
        self.listing_urls = self._listing_pages()
        self.prev_listings = set(self._before("listings", lambda v: v))
        states = self.js.states([c.url_id for c in self.caps])
        for c in self.caps:
            self._one(c, states.get(c.url_id), probe)
        self.ok = {c.url: (c, self.pages[c.id]) for c in self.caps
                   if self.verdicts[c.id].state == "ok" and c.id in self.pages}
        memory = {"listings": self._listings(), "items": self._items()}
        self.js.mark_done(self.job.round_id, self.job.target_id, memory)

    def _extract(self, text: str, url: str) -> Page:
        return extract(text, url, self.items_sel, self.item_id)

    def _one(self, c: CaptureRef, st, probe: CaptureRef | None) -> None:
        last_ok = None
        page = self.pages.get(c.id)
        needs_last = st is not None and st.last_ok_capture_id and (
            (c.final_url and c.final_url != c.url) or
            (c.body_sha256 != (st.memory or {}).get("ok_sha")))
        if needs_last:
            text = self.js.capture_text(st.last_ok_capture_id)
            last_ok = self._extract(text, c.url) if _is_html(text) else None
        notfound = None
        if probe is not None and probe.status is not None and 200 <= probe.status < 300:
            notfound = self.pages.get(probe.id)
        fetch = Fetch(c.id, c.url, c.at, c.status, c.final_url, c.error_kind, c.redirects,
                      c.body_sha256, c.headers)
        v = classify(fetch, page, self.phrases, notfound=notfound,
                     notfound_status=probe.status if probe else None, last_ok=last_ok,
                     homes=self.homes)
        self.verdicts[c.id] = v
        self.js.put_verdict(c.id, v.state, v.kind, v.rule, v.detail)
        self._advance(c, st, v, page, last_ok)

    # -- the state machine of one URL ------------------------------------------------------------
    def _advance(self, c: CaptureRef, st, v: Verdict, page: Page | None,
                 last_ok: Page | None) -> None:
        memory = dict(st.memory or {}) if st is not None else {}
        fields: dict = {"last_capture_id": c.id}
        open_td = self.js.takedown(st.open_takedown_id) if st is not None else None
        if v.state == "ok":
            if open_td is not None:
                open_td.restored_at = self.job.at
                self.summary.restored += 1
                fields["open_takedown_id"] = None
            if st is not None and st.last_ok_capture_id and page is not None:
                self._edits(c, st, memory, page, last_ok)
            elif page is not None:
                EditMemory(memory).learn(page)
            memory["ok_sha"] = c.body_sha256
            fields.update(state="ok", last_ok_capture_id=c.id, last_ok_at=self.job.at)
        elif v.state in TAKEDOWN_STATES:
            fields["state"] = v.state
            v = self._listing_gone(c, v, memory)
            if v.kind is None:          # a page of a list that got shorter: pagination
                fields["state"] = "moved"
            elif open_td is not None:
                # a later reading may name the kind better; plain "removed" never overrides
                if v.kind != open_td.kind and v.kind != "removed":
                    open_td.kind = v.kind
                    open_td.evidence = {**open_td.evidence, **self._why(v),
                                        "kind_changed_at": self.job.at.isoformat()}
            elif st is not None and st.last_ok_capture_id:
                td = self._open(c, st.last_ok_capture_id, st.last_ok_at, v.kind or "removed",
                                self._why(v))
                fields["open_takedown_id"] = td.id
        elif v.state == "moved":
            fields["state"] = "moved"
        if st is None:
            fields.setdefault("state", v.state)
        fields["memory"] = memory
        self.js.put_state(c.url_id, **fields)

    def _listing_gone(self, c: CaptureRef, v: Verdict, memory: dict) -> Verdict:
        """A listing page that went is a closed section, unless it was a later page of a
        paginated list (the list got shorter: not a takedown).  Only where the site is
        alive (some page of the target still serves) and only for plain removals: a notice
        keeps the kind it states."""
        if v.kind != "removed":
            return v
        if memory.get("listing") == "pagination":      # judged so when it went
            return Verdict(v.state, None, f"{v.rule}+pagination", v.detail)
        if c.url not in self.prev_listings:
            return v
        if series_key(c.url)[1] > 1:
            memory["listing"] = "pagination"
            return Verdict(v.state, None, f"{v.rule}+pagination", v.detail)
        alive = any(o.status is not None and 200 <= o.status < 300
                    for o in self.caps if o.id != c.id)
        if not alive or self.depth < 1:
            return v
        return Verdict(v.state, "section_closed", f"{v.rule}+listing-gone", v.detail)

    def _why(self, v: Verdict) -> dict:
        return {"rule": v.rule, **v.detail}

    def _open(self, c: CaptureRef, last_ok_id: int, last_seen, kind: str,
              why: dict, item: str = "", url_id: int | None = None):
        evidence = {**why, "last_ok": self.js.capture_facts(last_ok_id),
                    "first": self.js.capture_facts(c.id)}
        td = self.js.add_takedown(
            target_id=self.job.target_id, url_id=url_id or c.url_id, item=item, kind=kind,
            last_seen=last_seen, detected_at=self.job.at, last_ok_capture_id=last_ok_id,
            first_capture_id=c.id, evidence=evidence)
        self.summary.add(kind)
        return td

    def _listing_pages(self) -> set[str]:
        """Pages that list the target's entries.  With depth ≥ 1 their entries are pages
        of their own, so what leaves a listing is judged by the listing rules and by the
        entries' own pages, never as an edit of the listing."""
        if self.depth < 1:
            return set()
        links = {c.url: self.entries[c.id] for c in self.caps if c.id in self.entries}
        nav = sitewide([u for u, _k in seq] for seq in links.values())
        return {url for url, seq in links.items()
                if sum(u not in nav for u, _k in seq) >= LISTING_MIN_LINKS}

    # -- edited ----------------------------------------------------------------------------------
    def _edits(self, c: CaptureRef, st, memory: dict, page: Page,
               last_ok: Page | None) -> None:
        edits = EditMemory(memory)
        for td_id in edits.open_ids():
            td = self.js.takedown(td_id)
            if td is not None and td.restored_at is None and edits.back(td.evidence, page):
                td.restored_at = self.job.at
                self.summary.restored += 1
                edits.close(td_id)
        if last_ok is None or c.url in self.listing_urls:   # unchanged, or a listing
            edits.learn(page)
            return
        removed = edits.removals(last_ok, page, self._gone_entries(last_ok, c))
        edits.learn(page)
        if removed:
            td = self._open(c, st.last_ok_capture_id, st.last_ok_at, "edited",
                            {"rule": "blocks:removed",
                             "removed_text": [r.old for r in removed],
                             "removed_keys": [EditMemory.key_of(r) for r in removed]})
            edits.opened(td.id)

    def _gone_entries(self, old: Page, c: CaptureRef) -> list[str]:
        """Link texts of same-host entries on *old* that are not on the page captured by
        *c* (depth ≥ 1 only: then those entries are pages the crawl watches on their own)."""
        if self.depth < 1:
            return []
        now = {u for u, _k in self.entries.get(c.id, [])}
        texts = {link.url: link.text for link in old.links}
        return [texts.get(u, "") for u, _k in entry_links(old, self.host, self.norm)
                if u not in now and not is_home(u, self.homes)]

    # -- delisted ----------------------------------------------------------------------------------
    def _listings(self) -> dict:
        ok = self.ok
        links = {url: self.entries[c.id] for url, (c, _page) in ok.items()}
        nav = sitewide([u for u, _k in seq] for seq in links.values())
        entries = {url: [[u, k] for u, k in seq if u not in nav] for url, seq in links.items()}
        present = {u for seq in entries.values() for u, _k in seq}
        before = self._before("listings", lambda v: {**v, "links": [
            [n, k] for n, k in ((self.norm(u), k) for u, k in v["links"]) if n]})
        listings = {url for url, seq in entries.items() if len(seq) >= LISTING_MIN_LINKS}
        unseen = self._unseen(before)
        if not unseen:
            self._delisted(before, present, listings)
        self._relisted(present)
        now = {url: {"capture_id": ok[url][0].id, "at": self.job.at.isoformat(),
                     "links": entries[url]} for url in listings}
        # keep what could not be seen this round, to compare with the next one
        return {**{u: before[u] for u in unseen}, **now}

    def _unseen(self, before: dict) -> set[str]:
        """Pages remembered from the last round that this round could not read (failed,
        restricted, redirected): entries may have moved there, so nothing is concluded."""
        state = {c.url: self.verdicts[c.id].state for c in self.caps}
        return {u for u in before if state.get(u) not in ("ok", *TAKEDOWN_STATES)}

    def _before(self, key: str, renorm: Callable[[dict], dict]) -> dict:
        """The last round's memory of *key* for the pages captured this round, its URLs
        normalised as now (a session parameter may have been learned since).  A page not
        captured this round has left the crawl: its entries are not waited for."""
        captured = {c.url for c in self.caps}
        old = self.js.round_memory(self.job.target_id, self.job.at).get(key, {})
        out = {}
        for url, value in old.items():
            url = self.norm(url) or url
            if url in captured:
                out[url] = renorm(value)
        return out

    def _norm_all(self, urls: list[str]) -> list[str]:
        return [n for n in (self.norm(u) for u in urls) if n]

    def _delisted(self, before: dict, present: set[str], listings: set[str]) -> None:
        by_url = {c.url: c for c in self.caps}
        open_urls = {td.url_id for td in self.js.open_takedowns(self.job.target_id, item=False)}
        # only listings that still serve can have taken an entry out
        ok = self.ok
        chained = series_sequences({u: v["links"] for u, v in before.items() if u in ok})
        for listing, old_links in chained.items():
            # entries only: not the listing pages themselves (pagination), nor home pages
            links = [u for u in old_links if u not in listings and u not in before
                     and not is_home(u, self.homes)]
            listing_url = listing.split(" ", 1)[0]
            for url, pos in vanished_from_middle(links, present):
                c = by_url.get(url)
                if c is None or self.verdicts[c.id].state != "ok" or c.url_id in open_urls:
                    continue
                # evidence: the listing page that last listed it, that page now, and the
                # entry's own page still serving
                page = next(u for u in before if any(e[0] == url for e in before[u]["links"]))
                listed = before[page]
                self._open(by_url.get(page, c), listed["capture_id"],
                           datetime.fromisoformat(listed["at"]), "delisted",
                           {"rule": "listing:vanished-from-middle",
                            "listing": {"url": listing_url, "page": page, "position": pos,
                                        "pages": {u: before[u]["capture_id"] for u in before
                                                  if series_key(u)[0] == listing_url}},
                            "page_still_serving": self.js.capture_facts(c.id)},
                           url_id=c.url_id)
                open_urls.add(c.url_id)

    def _relisted(self, present: set[str]) -> None:
        by_id = {c.url_id: c for c in self.caps}
        for td in self.js.open_takedowns(self.job.target_id, kind="delisted", item=False):
            c = by_id.get(td.url_id)
            if c is not None and c.url in present:
                td.restored_at = self.job.at
                self.summary.restored += 1

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
            self._item_takedown(c, old, item_id, "removed",
                                {"rule": "items:vanished-from-middle", "position": pos})
        for item_id, key, _links in old["items"]:
            it = items_now.get(item_id)
            if it is None or it.key == key or item_id in open_items:
                continue
            found = self.phrases.match(it.text)
            if found is not None and found.state == "notice" and found.kind:
                self._item_takedown(c, old, item_id, found.kind, {
                    "rule": f"items:phrase:{found.phrase.platform}",
                    "phrase": found.matched_text, "source": found.phrase.source})

    def _item_takedown(self, c: CaptureRef, old: dict, item_id: str, kind: str,
                       why: dict) -> None:
        last_seen = datetime.fromisoformat(old["at"])
        self._open(c, old["capture_id"], last_seen, kind, why, item=item_id)

    def _items_back(self, present: set[str]) -> None:
        for td in self.js.open_takedowns(self.job.target_id, item=True):
            if td.item in present and td.kind == "removed":
                td.restored_at = self.job.at
                self.summary.restored += 1
