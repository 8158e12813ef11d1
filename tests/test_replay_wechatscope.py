"""Replay of the real WeChatscope removal timeline: crawl, detect, export, compare.

The slice (see `wechatscope.load_replay`): every removal WeChatscope recorded in the window
from 2018-11-13 00:00 UTC+8, the 41 migrations of the whole file (13 accounts) and the first
3 rows of each notice the window lacks, moved into the window by whole days.  `make test`
replays one day (317 takedowns over 141 accounts, 7 rounds); ``python -m bench replay`` the
three days (``TAKEDOWN_REPLAY_DAYS=3``: 539 takedowns over 240 accounts, 15 rounds).
Each article serves until its real removal time, then its real notice (HTTP 200).  Rounds
run every 6 simulated hours with ``--at``; ``takedown detect`` runs after each one.  The export
must hold exactly the removed articles, with the kind their notice means, ``detected_at`` the
first round at or after the removal and ``last_seen`` the round before; migrations yield
nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sitesim import crawl
from wechatscope import CENINFO, Replay, WechatscopeSite, load_replay, round_index

from takedown.demo.server import SiteServer

pytestmark = pytest.mark.slow
EXAMPLES = 5


def takedown(data: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "takedown", "--data", str(data), *args]
    env = dict(os.environ, TAKEDOWN_LOOPBACK_ONLY="1")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def write_watchlist(path: Path, replay: Replay, base: str) -> Path:
    lines = ["[crawl]", "concurrency = 16", "delay = 0", "timeout = 5", "retries = 1", ""]
    for acc in replay.accounts.values():
        lines += ["[[target]]", f'name = "{acc.slug}"', f'url = "{base}/wx/account/{acc.id}"',
                  "depth = 1", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_records(replay: Replay, base: str, rounds: list[datetime]) -> dict[str, dict]:
    """URL -> the record the export must hold for it (migrations: none)."""
    out = {}
    for art in replay.removals:
        if art.kind is None or art.removed is None:
            continue
        i = round_index(rounds, art.removed)
        out[f"{base}/wx/s/{art.id}"] = {
            "kind": art.kind, "target": replay.accounts[art.account].slug,
            "detected_at": rounds[i], "last_seen": rounds[i - 1], "notice": art.notice}
    return out


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _phrase_stem(notice: str) -> str:
    """The part of a notice a phrase matches ('此帐号已被屏蔽,' -> '此帐号已被屏蔽')."""
    return notice.rstrip(",，。.").casefold()


def _page_kind(rec: dict) -> str:
    """'account page edited': what an extra record is about, for the report's summary."""
    page = "account page" if "/wx/account/" in rec["url"] else "article"
    return f"{page}{' item' if rec.get('item') else ''} {rec['kind']}"


def _record_problems(url: str, exp: dict, rec: dict) -> list[tuple[str, str]]:
    """(what, line) for each way the record of *url* differs from the expected one."""
    out = []
    if rec["kind"] != exp["kind"]:
        out.append(("wrong kind", f"{url} got {rec['kind']} want {exp['kind']} "
                                  f"({exp['notice']})"))
    for field in ("detected_at", "last_seen"):
        if _when(rec[field]) != exp[field]:
            out.append((f"wrong {field}", f"{url} got {rec[field]} want {stamp(exp[field])}"))
    if rec["target"] != exp["target"]:
        out.append(("wrong target", f"{url} got {rec['target']} want {exp['target']}"))
    evidence = json.dumps(rec.get("evidence"), ensure_ascii=False).casefold()
    if _phrase_stem(exp["notice"]) not in evidence:
        out.append(("notice not in evidence", f"{url} ({exp['notice']}): {evidence[:200]}"))
    return out


def mismatches(expected: dict[str, dict], records: list[dict]) -> str:
    """A short, readable report of every difference; empty when the export is right."""
    got: dict[str, list[dict]] = {}
    for rec in records:
        got.setdefault(rec["url"], []).append(rec)
    problems: dict[str, list[str]] = {}

    def note(what: str, line: str) -> None:
        problems.setdefault(what, []).append(line)

    for url, exp in sorted(expected.items()):
        recs = got.get(url, [])
        if not recs:
            note("missing", f"{url} {exp['kind']} at {stamp(exp['detected_at'])} "
                            f"({exp['notice']})")
            continue
        if len(recs) > 1:
            note("duplicate records", f"{url}: {[r['kind'] for r in recs]}")
        for what, line in _record_problems(url, exp, recs[0]):
            note(what, line)
    for url, recs in sorted(got.items()):
        if url not in expected:
            for rec in recs:
                item = f" item={rec['item']!r}" if rec.get("item") else ""
                note("extra", f"{url}{item} {rec['kind']} at {rec['detected_at']} "
                              f"target={rec['target']}")
    extra = Counter(_page_kind(r) for url, recs in got.items() if url not in expected
                    for r in recs)
    lines = [f"{len(records)} exported, {len(expected)} expected"]
    if extra:
        lines.append("extra by page and kind: " + ", ".join(
            f"{what} {n}" for what, n in extra.most_common()))
    for what, found in problems.items():
        lines.append(f"{what}: {len(found)}")
        lines += [f"  {line}" for line in found[:EXAMPLES]]
    return "\n".join(lines) if problems else ""


def test_export_matches_the_real_wechatscope_timeline(tmp_path: Path) -> None:
    if not CENINFO.exists():
        pytest.skip(f"real data absent: {CENINFO} (see ../shared/realdata/README.md)")
    replay = load_replay(CENINFO)
    rounds = replay.rounds()
    real = [a for a in replay.removals if a.kind is not None]
    assert len(real) >= 300 and len({a.account for a in real}) >= 100
    assert Counter(a.kind for a in real).keys() == {"author_deleted", "censored",
                                                    "account_suspended"}
    site = WechatscopeSite(replay, rounds[0])
    data = tmp_path / "data"
    started = time.monotonic()
    with SiteServer(site) as server:
        wl = write_watchlist(tmp_path / "watchlist.toml", replay, server.base_url)
        for at in rounds:
            site.now = at
            run = crawl(wl, data, stamp(at))
            assert run.returncode == 0, f"crawl at {stamp(at)}:\n{run.stderr[-3000:]}"
            det = takedown(data, "detect")
            assert det.returncode == 0, f"detect after {stamp(at)}:\n{det.stderr[-3000:]}"
        base = server.base_url
    done = json.loads(takedown(data, "rounds", "--json").stdout)
    assert [(r["status"], r["failed"]) for r in done] == [("done", 0)] * len(rounds), (
        "the loopback site never fails: a failed fetch is a harness problem")
    out = takedown(data, "export", "--format", "jsonl")
    assert out.returncode == 0, out.stderr[-3000:]
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    print(f"{len(rounds)} rounds, {len(records)} records, "
          f"{time.monotonic() - started:.0f} s")  # shown with -s: the runtime to watch
    report = mismatches(expected_records(replay, base, rounds), records)
    assert not report, "export differs from the WeChatscope timeline:\n" + report
