"""The demo's ten simulated days through WARC and back: ``export-warc`` of the demo store,
``import-warc`` of that file into a fresh store with the demo's watchlist, ``detect``, and
the same takedowns come out (URL, item, kind and the round that first showed each).  And
the demo's ``delisted`` takedowns pack into evidence packages that carry the listing page
and verify."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reports.viewer import create_app
from snapshots import open_store


def takedown(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "takedown", *args, "--data", str(data)],
                         capture_output=True, text=True, timeout=600)
    if check:
        assert run.returncode == 0, (args, run.stdout[-2000:], run.stderr[-3000:])
    return run


def key(rec: dict) -> tuple:
    return rec["url"], rec.get("item", ""), rec["kind"], rec["detected_at"]


@pytest.fixture(scope="module")
def exported(demo_store: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("roundtrip") / "demo.warc.gz"
    takedown(demo_store["data"], "export-warc", "--out", str(out))
    return out


@pytest.mark.slow
def test_demo_round_trip_gives_the_same_takedowns(demo_store: dict, exported: Path,
                                                  tmp_path: Path) -> None:
    data = tmp_path / "data"
    watchlist = demo_store["data"] / "demo-watchlist.toml"
    takedown(data, "import-warc", str(exported), "--watchlist", str(watchlist))
    takedown(data, "detect")
    records = [json.loads(line) for line in takedown(data, "export").stdout.splitlines()]
    want = sorted(key(r) for r in demo_store["records"])
    assert len(want) > 20   # the demo's takedowns: every kind, items and pages
    assert sorted(key(r) for r in records) == want
    # the rounds are the demo's own: same stamps, as many
    rounds = json.loads(takedown(data, "rounds", "--json").stdout)
    demo_rounds = json.loads(takedown(demo_store["data"], "rounds", "--json").stdout)
    assert [r["at"] for r in rounds] == [r["at"] for r in demo_rounds]
    # the viewer and the report read imported history as they read crawled rounds
    store = open_store(data)
    try:
        with TestClient(create_app(store), base_url="http://127.0.0.1") as client:
            assert client.get("/").status_code == 200
            for rec in records[:5]:
                page = client.get(f"/takedowns/{rec['id']}")
                assert page.status_code == 200 and rec["kind"] in page.text
    finally:
        store.close()
    report = takedown(data, "report", "--out", str(tmp_path / "report"), "--format", "json")
    assert f"report: {len(records)} takedowns" in report.stdout
    # importing the same file again adds nothing
    before = takedown(data, "history", records[0]["url"], "--json").stdout
    takedown(data, "import-warc", str(exported), "--watchlist", str(watchlist))
    assert takedown(data, "history", records[0]["url"], "--json").stdout == before


def test_delisted_evidence_carries_the_listing_and_verifies(demo_store: dict,
                                                            tmp_path: Path) -> None:
    delisted = [r for r in demo_store["records"] if r["kind"] == "delisted"]
    assert delisted, "the demo has delisted takedowns"
    rec = delisted[0]
    out = tmp_path / "delisted.wacz"
    takedown(demo_store["data"], "evidence", str(rec["id"]), "--out", str(out))
    with zipfile.ZipFile(out) as zf:
        doc = json.loads(zf.read("takedown/takedown.json"))
    roles = {r for c in doc["captures"] for r in c["roles"]}
    assert {"before", "after", "listing before", "listing after"} <= roles, roles
    listing = rec["evidence"]["listing"]["url"]
    assert {c["url"] for c in doc["captures"] if "listing after" in c["roles"]} == {listing}
    run = takedown(demo_store["data"], "verify", str(out), check=False)
    assert run.returncode == 0, run.stdout + run.stderr
