"""The demo site over ten simulated days, through real crawls and detection, scored
against the site's own ground truth: every takedown kind found on its day, every noise
case silent, nothing extra."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(demo_store: dict) -> dict:
    return demo_store


def key(url: str, item: str | None, kind: str) -> tuple[str, str, str]:
    return url, item or "", kind


def test_exactly_the_ground_truth(demo_run: dict) -> None:
    want = {key(e.url, e.item, e.kind) for e in demo_run["truth"]}
    got = {key(r["url"], r.get("item"), r["kind"]) for r in demo_run["records"]}
    assert {"missing": sorted(want - got), "extra": sorted(got - want)} == \
        {"missing": [], "extra": []}
    assert {k for _u, _i, k in want} == {"removed", "censored", "author_deleted",
                                         "account_suspended", "section_closed", "delisted",
                                         "edited"}


def test_detected_on_the_day_it_showed(demo_run: dict) -> None:
    start = date.fromisoformat(demo_run["meta"]["start"][:10])
    truth = {key(e.url, e.item, e.kind): e for e in demo_run["truth"]}
    for rec in demo_run["records"]:
        e = truth[key(rec["url"], rec.get("item"), rec["kind"])]
        assert rec["detected_at"][:10] == str(start + timedelta(days=e.day)), rec["url"]
        assert rec["last_seen"][:10] <= str(start + timedelta(days=e.day - 1)), rec["url"]
        restored = rec.get("restored_at")
        want = None if e.restored_day is None else str(start + timedelta(days=e.restored_day))
        assert (restored[:10] if restored else None) == want, rec["url"]


def test_no_noise_case_becomes_a_takedown(demo_run: dict) -> None:
    taken = {r["url"] for r in demo_run["records"] if not r.get("item")}
    truth_urls = {e.url for e in demo_run["truth"] if not e.item}
    noisy = {n.url for n in demo_run["noise"]} - truth_urls
    assert noisy, "the demo site lists its noise cases"
    assert sorted(noisy & taken) == []


def test_evidence_backs_every_record(demo_run: dict) -> None:
    for rec in demo_run["records"]:
        ev = rec["evidence"]
        assert ev["rule"], rec
        assert len(ev["first"]["sha256"] or "") == 64 or ev["first"]["status"] is not None
        if rec["kind"] in ("censored", "author_deleted", "account_suspended") and \
                not ev["rule"].startswith("http:"):
            assert ev.get("phrase"), rec
        if rec["kind"] == "edited":
            assert ev["removed_text"] and all(ev["removed_text"]), rec
        if rec["kind"] == "delisted":
            assert ev["listing"]["url"], rec
        assert ev["last_ok"]["capture_id"] != ev["first"]["capture_id"] or rec["kind"] in (
            "delisted",), rec


def test_demo_prints_rounds_and_takedowns(demo_run: dict) -> None:
    out = demo_run["stdout"]
    assert "demo rounds" in out and "takedowns found on the demo site" in out
    assert out.count("crawled and detected in") == 10


def test_detect_is_idempotent(demo_run: dict) -> None:
    again = subprocess.run([sys.executable, "-m", "takedown", "--data", str(demo_run["data"]),
                            "detect"], capture_output=True, text=True, check=True).stdout
    assert "0 round-target jobs" in again and "new takedowns: none" in again
    export = subprocess.run([sys.executable, "-m", "takedown", "--data",
                             str(Path(demo_run["data"])), "export"], capture_output=True,
                            text=True, check=True).stdout
    assert [json.loads(x) for x in export.splitlines()] == demo_run["records"]


def test_csv_export_matches_jsonl(demo_run: dict, tmp_path: Path) -> None:
    import csv

    out = tmp_path / "takedowns.csv"
    subprocess.run([sys.executable, "-m", "takedown", "--data", str(demo_run["data"]), "export",
                    "--format", "csv", "--out", str(out)], check=True, capture_output=True)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["url"], r["kind"], r["item"]) for r in rows] == [
        (r["url"], r["kind"], r.get("item", "")) for r in demo_run["records"]]
    assert all(json.loads(r["evidence"])["rule"] == r["rule"] for r in rows)
