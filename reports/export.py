"""``takedown export``: one record per takedown, as JSON Lines or CSV.

Record: ``url`` (as watched), ``kind``, ``target`` (the first target that reached it),
``targets`` (every target that reaches the URL: one record however many), ``last_seen``
(the last round that saw it alive), ``detected_at`` (the first round that showed the
takedown), ``evidence``, plus ``item`` for a sub-page item and ``restored_at`` where it
came back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

CSV_COLUMNS = ("url", "kind", "target", "targets", "item", "last_seen", "detected_at",
               "restored_at", "rule", "phrase", "evidence")
FORMATS = ("jsonl", "csv")


def write_jsonl(records: Iterable[dict], out: TextIO) -> int:
    n = 0
    for rec in records:
        out.write(json.dumps(rec, ensure_ascii=False, sort_keys=False) + "\n")
        n += 1
    return n


def write_csv(records: Iterable[dict], out: TextIO) -> int:
    """CSV for spreadsheets: the evidence as one JSON column, its rule and phrase apart."""
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    n = 0
    for rec in records:
        ev = rec.get("evidence") or {}
        writer.writerow({**{k: rec.get(k, "") for k in CSV_COLUMNS[:8]},
                         "targets": " ".join(rec.get("targets") or ()),
                         "rule": ev.get("rule", ""), "phrase": ev.get("phrase", ""),
                         "evidence": json.dumps(ev, ensure_ascii=False, sort_keys=True)})
        n += 1
    return n


def write(records: Iterable[dict], out: TextIO, fmt: str) -> int:
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {FORMATS}")
    return (write_jsonl if fmt == "jsonl" else write_csv)(records, out)
