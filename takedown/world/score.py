"""Scoring an export against a world's ground truth.

Records and truth are matched by ``(url, item)`` (item ``""`` for a page).  Precision is
matched records over records (a second record for the same key is a false positive),
recall is matched truth over truth, kind accuracy is matched records of the right kind over
matched records.  A ratio with nothing to divide by is 1.0.  Imports only the stdlib.

>>> s = score([{"url": "u", "kind": "removed", "evidence": {"rule": "404"}}],
...           [{"url": "u", "item": "", "kind": "censored"}])
>>> (s.precision, s.recall, s.kind_accuracy)
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Score:
    records: int = 0
    truth: int = 0
    matched: int = 0
    right_kind: int = 0
    false_positives: list[dict] = field(default_factory=list)
    misses: list[dict] = field(default_factory=list)
    wrong_kind: list[tuple[dict, dict]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.records if self.records else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 1.0

    @property
    def kind_accuracy(self) -> float:
        return self.right_kind / self.matched if self.matched else 1.0

    def __add__(self, other: Score) -> Score:
        return Score(self.records + other.records, self.truth + other.truth,
                     self.matched + other.matched, self.right_kind + other.right_kind,
                     self.false_positives + other.false_positives,
                     self.misses + other.misses, self.wrong_kind + other.wrong_kind)


def key_of(record: dict) -> tuple[str, str]:
    return record["url"], record.get("item") or ""


def score(records: list[dict], truth: list[dict]) -> Score:
    """Match export *records* to *truth* records by (url, item)."""
    want = {key_of(t): t for t in truth}
    out = Score(records=len(records), truth=len(want))
    taken: set[tuple[str, str]] = set()
    for rec in records:
        key = key_of(rec)
        if key not in want or key in taken:
            out.false_positives.append(rec)
            continue
        taken.add(key)
        out.matched += 1
        if rec.get("kind") == want[key]["kind"]:
            out.right_kind += 1
        else:
            out.wrong_kind.append((want[key], rec))
    out.misses = [t for key, t in want.items() if key not in taken]
    return out


def rule_of(record: dict) -> str:
    evidence = record.get("evidence") or {}
    return str(evidence.get("rule") or evidence.get("phrase") or "?")


def figures(s: Score) -> str:
    return (f"precision {s.precision:.3f} ({s.matched}/{s.records})  "
            f"recall {s.recall:.3f} ({s.matched}/{s.truth})  "
            f"kind accuracy {s.kind_accuracy:.3f} ({s.right_kind}/{s.matched})")


def site_of(url: str, sites: dict[str, str]) -> str:
    """The archetype of the site (by path prefix) a URL belongs to, or "?"."""
    path = "/" + url.split("://", 1)[-1].partition("/")[2]
    return next((name for prefix, name in sites.items() if path.startswith(prefix + "/")), "?")


def classes(s: Score, sites: dict[str, str]) -> Counter:
    """False positives counted by (site archetype, kind, rule)."""
    return Counter((site_of(r["url"], sites), r.get("kind"), rule_of(r))
                   for r in s.false_positives)


def report(s: Score, base_url: str = "", sites: dict[str, str] | None = None) -> str:
    """The figures, then every false positive, wrong kind and miss, one a line; *sites*
    (path prefix → archetype) names the kind of site each URL is on."""
    sites = sites or {}

    def short(url: str) -> str:
        path = url.removeprefix(base_url) if base_url else url
        return f"[{site_of(url, sites)}] {path}" if sites else path

    lines = [figures(s)]
    counted = classes(s, sites)
    if counted:
        lines.append("false positives by (site, kind, rule): " + ", ".join(
            f"{site}/{kind}/{rule}: {n}" for (site, kind, rule), n in counted.most_common()))
    lines += [f"  FALSE POSITIVE {short(r['url'])} {r.get('item') or ''} kind={r.get('kind')} "
              f"rule={rule_of(r)}" for r in s.false_positives]
    lines += [f"  WRONG KIND {short(t['url'])}: truth {t['kind']}, got {r.get('kind')} "
              f"(rule={rule_of(r)}; planted {t.get('note', '')})" for t, r in s.wrong_kind]
    lines += [f"  MISS {short(t['url'])} {t.get('item') or ''} kind={t['kind']} "
              f"round={t.get('round')} ({t.get('note', '')})" for t in s.misses]
    return "\n".join(lines)
