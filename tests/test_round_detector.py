"""`diffing.detect.RoundDetector` alone, against an in-memory stand-in for the store's
detection seam (`snapshots.detection_store.JobSession`): hand-made captures in, the calls it makes
out.  The seam is typed, so the stand-in is small: frozen records go in, every write is a
call it records.  End-to-end detection over real crawls is in the other detect tests."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from diffing.detect import DetectSummary, RoundDetector
from diffing.phrases import load_phrasebook
from snapshots.detection_store import EVIDENCE_VERSION, CaptureRef, Job, StateRef, TakedownRef

BASE = "http://127.0.0.1:9/"
AT = datetime(2021, 3, 15, tzinfo=UTC)
PARAGRAPH = "市政府今日召开常务会议，研究部署交通、教育和医疗等方面的重点工作。" * 2


def article(words: str = "") -> str:
    return (f"<html><head><title>文章</title></head><body><h1>关于会议的报道</h1>"
            f"<p>{PARAGRAPH}</p><p>{words}{PARAGRAPH}</p></body></html>")


class FakeSession:
    """The `JobSession` calls the detector makes, over dicts; writes are recorded."""

    def __init__(self) -> None:
        self.caps: dict[tuple[int, int], list[CaptureRef]] = {}
        self.texts: dict[str, str] = {}
        self.state: dict[int, StateRef] = {}
        self.takedowns: dict[int, TakedownRef] = {}
        self.urls: dict[int, str] = {}
        self.memories: list[tuple[datetime, int, dict]] = []
        self.calls: list[tuple[str, Any]] = []

    # the round's captures
    def add_capture(self, round_id: int, url_id: int, url: str, at: datetime, status: int,
                    html: str | None) -> CaptureRef:
        sha = hashlib.sha256((html or "").encode()).hexdigest() if html is not None else None
        if html is not None:
            self.texts[sha] = html
        self.urls[url_id] = url
        cid = sum(len(v) for v in self.caps.values()) + 1
        c = CaptureRef(cid, url_id, url, "page", 0, at, status, url, None, (), sha, sha,
                       {"content-type": "text/html"})
        self.caps.setdefault((round_id, 1), []).append(c)
        return c

    def captures(self, round_id: int, target_id: int) -> list[CaptureRef]:
        return self.caps.get((round_id, target_id), [])

    def text(self, sha: str | None) -> str | None:
        return self.texts.get(sha) if sha else None

    def capture_text(self, capture_id: int) -> str | None:
        found = [c for v in self.caps.values() for c in v if c.id == capture_id]
        return self.text(found[0].text_sha256) if found else None

    def capture_facts(self, capture_id: int | None) -> dict | None:
        return None if capture_id is None else {"capture_id": capture_id, "sha256": None,
                                                "captured_at": "", "status": 200,
                                                "final_url": None}

    def savepoint(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    # what it remembers
    def states(self, url_ids: list[int]) -> dict[int, StateRef]:
        return {u: self.state[u] for u in url_ids if u in self.state}

    def put_state(self, url_id: int, **fields: Any) -> None:
        self.calls.append(("put_state", url_id))
        old = self.state.get(url_id) or StateRef(url_id, "", 0, None, None, None, {})
        fields["memory"] = MappingProxyType(dict(fields.get("memory", old.memory)))
        self.state[url_id] = replace(old, **fields)

    def put_verdict(self, capture_id: int, state: str, kind: str | None, rule: str,
                    detail: dict) -> None:
        self.calls.append(("verdict", (capture_id, str(state), kind and str(kind), rule)))

    def round_memory(self, target_id: int, before: datetime) -> dict:
        earlier = [m for at, t, m in self.memories if t == target_id and at < before]
        return earlier[-1] if earlier else {}

    def other_memories(self, target_id: int, since: datetime, until: datetime) -> list:
        return []

    def mark_done(self, round_id: int, target_id: int, memory: dict) -> None:
        self.memories.append((AT + timedelta(days=round_id), target_id, dict(memory)))

    def note_pages(self, facts: dict[int, tuple[datetime | None, bool]]) -> None:
        self.calls.append(("note_pages", facts))

    def target_urls(self, target_id: int) -> set[str]:
        return set(self.urls.values())

    # takedowns
    def url_of(self, url_id: int) -> str:
        return self.urls[url_id]

    def takedown(self, takedown_id: int | None) -> TakedownRef | None:
        return self.takedowns.get(takedown_id) if takedown_id is not None else None

    def open_takedowns(self, target_id: int, kind: str | None = None,
                       item: bool | None = None) -> list[TakedownRef]:
        return [t for t in self.takedowns.values() if t.restored_at is None
                and (kind is None or t.kind == kind) and (item is None or bool(t.item) == item)]

    def open_takedown_of(self, url: str, item: str = "") -> TakedownRef | None:
        return next((t for t in self.takedowns.values() if self.urls[t.url_id] == url
                     and t.item == item and t.restored_at is None), None)

    def add_takedown(self, **f: Any) -> TakedownRef:
        ref = TakedownRef(len(self.takedowns) + 1, f["target_id"], f["url_id"], f["item"],
                          str(f["kind"]), f["last_seen"], f["detected_at"], None,
                          MappingProxyType(dict(f["evidence"])))
        self.takedowns[ref.id] = ref
        self.calls.append(("add_takedown", ref.id))
        return ref

    def restore(self, takedown_id: int, at: datetime) -> None:
        self.calls.append(("restore", takedown_id))
        self.takedowns[takedown_id] = replace(self.takedowns[takedown_id], restored_at=at)

    def rekind(self, takedown_id: int, kind: str, evidence: dict) -> None:
        self.calls.append(("rekind", (takedown_id, str(kind))))
        self.takedowns[takedown_id] = replace(self.takedowns[takedown_id], kind=str(kind),
                                              evidence=MappingProxyType(dict(evidence)))

    def set_evidence(self, takedown_id: int, evidence: dict) -> None:
        self.calls.append(("set_evidence", takedown_id))
        self.takedowns[takedown_id] = replace(self.takedowns[takedown_id],
                                              evidence=MappingProxyType(dict(evidence)))


@pytest.fixture(scope="module")
def phrases():
    return load_phrasebook()


def run_round(js: FakeSession, phrases, round_id: int, pages: dict[str, tuple[int, str | None]]
              ) -> DetectSummary:
    at = AT + timedelta(days=round_id)
    for n, (path, (status, html)) in enumerate(sorted(pages.items()), start=1):
        js.add_capture(round_id, n, BASE + path, at, status, html)
    summary = DetectSummary()
    job = Job(round_id, at, 1, "t", {"url": BASE + "a.html", "depth": 0})
    RoundDetector(js, job, phrases, {}, summary).run()
    return summary


def test_a_page_that_goes_opens_one_takedown_through_a_call(phrases) -> None:
    js = FakeSession()
    run_round(js, phrases, 1, {"a.html": (200, article())})
    assert not js.takedowns
    summary = run_round(js, phrases, 2, {"a.html": (404, "<html><body>Not Found</body></html>")})
    (td,) = js.takedowns.values()
    assert (td.kind, td.last_seen, td.detected_at) == ("removed", AT + timedelta(days=1),
                                                       AT + timedelta(days=2))
    assert td.evidence["version"] == EVIDENCE_VERSION and td.evidence["rule"] == "http:404"
    assert summary.opened == {"removed": 1}
    assert js.state[1].open_takedown_id == td.id


def test_the_page_coming_back_restores_it_by_one_call(phrases) -> None:
    js = FakeSession()
    run_round(js, phrases, 1, {"a.html": (200, article())})
    run_round(js, phrases, 2, {"a.html": (410, None)})
    summary = run_round(js, phrases, 3, {"a.html": (200, article())})
    assert [c for c in js.calls if c[0] == "restore"] == [("restore", 1)]
    assert js.takedowns[1].restored_at == AT + timedelta(days=3) and summary.restored == 1
    assert js.state[1].open_takedown_id is None


def test_a_notice_after_a_removal_upgrades_the_kind_keeping_the_record(phrases) -> None:
    js = FakeSession()
    run_round(js, phrases, 1, {"a.html": (200, article())})
    run_round(js, phrases, 2, {"a.html": (404, None)})
    notice = "<html><body><div class='msg'>此内容因违规无法查看</div></body></html>"
    run_round(js, phrases, 3, {"a.html": (200, notice)})
    assert ("rekind", (1, "censored")) in js.calls and len(js.takedowns) == 1
    assert js.takedowns[1].kind == "censored"


@pytest.mark.parametrize("status", [500, 503, 429, 403])
def test_a_failed_fetch_changes_nothing(phrases, status: int) -> None:
    js = FakeSession()
    run_round(js, phrases, 1, {"a.html": (200, article())})
    run_round(js, phrases, 2, {"a.html": (status, "<html><body>busy</body></html>")})
    assert not js.takedowns
    assert ("verdict", (2, "failed", None, f"http:{status}")) in js.calls


def test_records_it_reads_are_frozen(phrases) -> None:
    js = FakeSession()
    run_round(js, phrases, 1, {"a.html": (200, article())})
    run_round(js, phrases, 2, {"a.html": (404, None)})
    td = js.takedowns[1]
    with pytest.raises(AttributeError):
        td.kind = "edited"          # type: ignore[misc]
    with pytest.raises(TypeError):
        td.evidence["rule"] = "x"   # type: ignore[index]
