"""The Atom feed of takedowns (``/feed.atom`` in the viewer), written by feedgen.

`atom_feed(rows, base, feed_url)` turns the takedown list's rows (``snapshots.browse``
dicts, newest first) into an Atom document: one entry per takedown, at most `FEED_CAP`.

* An entry's id is a ``urn:uuid`` derived from what makes the takedown unique in the store
  (target, URL, item, detection time), not from its row id or the viewer's address: it
  stays the same when the store is copied, renumbered or served from another host, so a
  feed reader never shows a takedown twice.
* Everything in an entry comes from captured pages or the store and is data: feedgen
  (lxml) escapes it, and `xml_text` first drops the characters XML 1.0 cannot hold at all
  (most C0 controls, lone surrogates, U+FFFE/U+FFFF), which lxml would refuse.

Imports the standard library, feedgen and `reports.sanitize` (what XML cannot hold).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from reports.sanitize import NOT_XML

FEED_CAP = 200   # entries in one feed: a reader polls it, it is no archive (see the API)
def xml_text(value: object) -> str:
    """*value* as text XML 1.0 can hold: the characters it forbids are dropped.

    >>> xml_text("a\\x00b\\x1b[31mc\\ufffe\\td")
    'ab[31mc\\td'
    """
    return NOT_XML.sub("", str(value))


def entry_id(row: dict) -> str:
    """The stable id of a takedown's entry (module doc).

    >>> row = {"id": 7, "kind": "deleted", "target": "t", "url": "http://x/", "item": "",
    ...        "detected_at": datetime(2021, 3, 1, tzinfo=UTC)}
    >>> entry_id(row)
    'urn:uuid:2298c5df-d2ed-58fd-a64e-6bf950d7b752'
    >>> entry_id({**row, "id": 8, "kind": "censored"}) == entry_id(row)
    True
    """
    key = json.dumps([row["target"], row["url"], row["item"], row["detected_at"].isoformat()])
    return uuid.uuid5(uuid.NAMESPACE_URL, "takedown:" + key).urn


def entry_title(row: dict) -> str:
    """``kind: url``, and the item for a takedown of one item of a page."""
    item = f" (item {row['item']})" if row["item"] else ""
    return xml_text(f"{row['kind']}: {row['url']}{item}")


def entry_summary(row: dict) -> str:
    """Plain text: target, kind, when it was last seen alive and when found gone (and
    back), the rule and the notice the page showed, if one matched."""
    evidence = row["evidence"] or {}
    lines = [f"target: {row['target']}", f"kind: {row['kind']}",
             f"last seen: {row['last_seen'].isoformat()}",
             f"detected: {row['detected_at'].isoformat()}"]
    if row["restored_at"] is not None:
        lines.append(f"restored: {row['restored_at'].isoformat()}")
    for key in ("rule", "phrase"):
        if evidence.get(key):
            lines.append(f"{'notice' if key == 'phrase' else key}: {evidence[key]}")
    return xml_text("\n".join(lines))


def atom_feed(rows: list[dict], base: str, feed_url: str) -> bytes:
    """The Atom document of *rows* (newest first; the first `FEED_CAP`): entries link to
    ``/takedowns/ID`` under *base* (the viewer's origin, no trailing slash); *feed_url* is
    the feed's own address (without a token), also its id."""
    shown = rows[:FEED_CAP]
    fg = FeedGenerator()
    fg.id(xml_text(feed_url))
    fg.title("takedown: takedowns")
    fg.author(name="takedown")
    fg.link(href=xml_text(feed_url), rel="self")
    fg.link(href=f"{base}/takedowns", rel="alternate")
    fg.updated(shown[0]["detected_at"] if shown else datetime.now(UTC))
    for row in shown:
        entry = fg.add_entry(order="append")
        entry.id(entry_id(row))
        entry.title(entry_title(row))
        entry.updated(row["detected_at"])
        entry.link(href=f"{base}/takedowns/{row['id']}", rel="alternate")
        entry.category(term=xml_text(row["kind"]))
        entry.summary(entry_summary(row))
    return fg.atom_str(pretty=False)
