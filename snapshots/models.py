"""SQLAlchemy 2.x models of the snapshot store.

Targets are watched; each ``takedown crawl`` is a Round stamped with its ``--at`` time; a
Url is one normalised address seen for a target; a Capture is one fetch of a Url in a Round
(the response or the failure); bodies live in content-addressed, compressed Blobs (a version
of a page is stored as a delta against an earlier full version of it); a LinkSet keeps the
links of a page in page order, once per distinct list.  A capture's headers and the
detector's memories are `PackedJSON` (compressed; SQL cannot look into them).  Imports only
``snapshots.db``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from snapshots.db import Base, Digest, PackedJSON, UTCDateTime


class Target(Base):
    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Round(Base):
    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # running → done; a round found still running by a later one was interrupted.
    status: Mapped[str] = mapped_column(String(20), default="running")
    watchlist: Mapped[str] = mapped_column(Text, default="")
    stats: Mapped[dict] = mapped_column(JSON, default=dict)


class Url(Base):
    __tablename__ = "urls"
    __table_args__ = (UniqueConstraint("target_id", "url"),
                      Index("ix_urls_target_next_check", "target_id", "next_check"))

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    # page: watched; probe: a URL that cannot exist, fetched to learn the site's not-found page
    role: Mapped[str] = mapped_column(String(10), default="page", server_default="page")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_alive: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # adaptive recheck (snapshots.recheck): when next due (null: at once), when its content
    # last changed, its publication time and whether a listing, as the detector read them
    next_check: Mapped[datetime | None] = mapped_column(UTCDateTime())
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    listing: Mapped[bool | None] = mapped_column(Boolean)

    target: Mapped[Target] = relationship()


class Blob(Base):
    """A body, stored once per distinct content (key: SHA-256 of the raw bytes).

    A ``zdelta`` blob is compressed against the raw bytes of its base, a full (``zstd``)
    blob: the foreign key keeps a base from going while a delta needs it."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(Digest(), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(10))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    base_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), index=True)


class LinkSet(Base):
    """The links of a page in page order, stored once per distinct list (key: SHA-256 of
    ``data`` decoded: the JSON list of ``[url, text]``), zstd compressed."""

    __tablename__ = "link_sets"

    sha256: Mapped[str] = mapped_column(Digest(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Capture(Base):
    __tablename__ = "captures"
    __table_args__ = (
        UniqueConstraint("round_id", "url_id"),
        Index("ix_captures_url_at", "url_id", "captured_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique (round_id, url_id) serves look-ups by round
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"))
    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"))
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20))
    status: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    redirects: Mapped[list] = mapped_column(JSON, default=list)
    headers: Mapped[dict] = mapped_column(PackedJSON("headers"), default=dict)
    body_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    text_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    links_sha256: Mapped[str | None] = mapped_column(ForeignKey("link_sets.sha256"))
    # a browser-rendered capture (render = "browser"): its body and text are the rendered
    # DOM; the HTTP response's own body and the full-page screenshot (PNG) sit beside them
    raw_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    screenshot_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer, default=0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    content_type: Mapped[str | None] = mapped_column(String(200))
    encoding: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    via: Mapped[str] = mapped_column(String(20), default="seed")

    url: Mapped[Url] = relationship()


class VolatileParam(Base):
    """A query parameter learned to carry only session state on a host."""

    __tablename__ = "volatile_params"

    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)


class Verdict(Base):
    """The diff engine's reading of one capture: its state, kind and why."""

    __tablename__ = "verdicts"

    capture_id: Mapped[int] = mapped_column(
        ForeignKey("captures.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str | None] = mapped_column(String(30))
    rule: Mapped[str] = mapped_column(String(60))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Takedown(Base):
    """One takedown of a URL (or of an item on it), with its evidence.

    A later change of kind updates the row; content that comes back sets ``restored_at``.
    """

    __tablename__ = "takedowns"
    __table_args__ = (UniqueConstraint("url_id", "item", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"),
                                           index=True)
    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id", ondelete="CASCADE"))
    item: Mapped[str] = mapped_column(String(200), default="", server_default="")
    kind: Mapped[str] = mapped_column(String(30), index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_ok_capture_id: Mapped[int | None] = mapped_column(ForeignKey("captures.id"))
    first_capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DetectState(Base):
    """What the detector remembers of a URL between runs, so each run only reads new
    captures: the last ok capture, the open takedown, learned volatile blocks, items."""

    __tablename__ = "detect_state"

    url_id: Mapped[int] = mapped_column(ForeignKey("urls.id", ondelete="CASCADE"),
                                        primary_key=True)
    last_capture_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    last_ok_capture_id: Mapped[int | None] = mapped_column(Integer)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    open_takedown_id: Mapped[int | None] = mapped_column(Integer)
    memory: Mapped[dict] = mapped_column(PackedJSON("memory"), default=dict)


class DetectedRound(Base):
    """A (round, target) the detector has processed: ``takedown detect`` is incremental."""

    __tablename__ = "detected_rounds"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"),
                                          primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"),
                                           primary_key=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    memory: Mapped[dict] = mapped_column(PackedJSON("memory"), default=dict)


# -- the search index (`snapshots.search`) -----------------------------------------------

# documents → captures: the search joins each matching text to the captures that hold it
Index("ix_captures_text_sha256", Capture.text_sha256)


class SearchText(Base):
    """One distinct text in the search index: a capture's page text as plain visible text
    (keyed by the capture's text blob, so the rounds of an unchanged page share one
    document), or a takedown's removed text (keyed by its own SHA-256).  The text indexes
    themselves (SQLite FTS5 tables, a PostgreSQL trigram index) are made by migration 0005
    and are not models."""

    __tablename__ = "search_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(Digest(), unique=True)
    # the plain text, where the store holds it nowhere else: a takedown's removed blocks,
    # and every text on PostgreSQL (whose trigram index is over this column); NULL for a
    # page's text on SQLite, which is read again from the text blob ``sha256`` names
    body: Mapped[str | None] = mapped_column(Text)


class SearchTakedown(Base):
    """A text a takedown took away: its last seen page's, the page still serving a delisted
    entry, its removed blocks; what ``takedown search --removed`` searches."""

    __tablename__ = "search_takedowns"

    takedown_id: Mapped[int] = mapped_column(ForeignKey("takedowns.id", ondelete="CASCADE"),
                                             primary_key=True)
    sha256: Mapped[str] = mapped_column(Digest(), primary_key=True, index=True)


class SearchMark(Base):
    """How far the index has read: ``captures`` → the last capture id whose text it holds."""

    __tablename__ = "search_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)


class NotifyDestination(Base):
    """A notification URL that `takedown detect` has delivered to (or will): its key is the
    URL's SHA-256, never the URL, which may hold a token or password."""

    __tablename__ = "notify_destinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # takedowns updated since (less an overlap) are scanned for events; wall clock
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # round stamp of the last digest delivered; None: no digest yet
    digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class NotifyEvent(Base):
    """One message owed to one destination about one takedown: ``opened``, ``restored`` or
    ``kind:<kind>`` (a stronger kind named it anew).  ``pending`` until delivered (``sent``);
    ``known`` events were in the store when the destination was first used, never sent."""

    __tablename__ = "notify_outbox"
    __table_args__ = (UniqueConstraint("destination_id", "takedown_id", "event"),
                      Index("ix_notify_outbox_destination_status", "destination_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    destination_id: Mapped[int] = mapped_column(
        ForeignKey("notify_destinations.id", ondelete="CASCADE"))
    takedown_id: Mapped[int] = mapped_column(ForeignKey("takedowns.id", ondelete="CASCADE"),
                                             index=True)
    event: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime())   # the event's round stamp
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
