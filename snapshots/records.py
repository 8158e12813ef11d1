"""Plain records passed into and out of the store (no SQLAlchemy objects leak out).

Imports nothing of ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class NewCapture:
    """One fetch of one URL in one round, as the crawler saw it."""

    target: str
    url: str                      # normalised, as watched (before redirects)
    depth: int
    via: str                      # seed | link | revisit | probe | import (import-warc)
    fetched_at: datetime
    status: int | None = None     # None when no response arrived
    final_url: str | None = None
    redirects: tuple[tuple[int, str], ...] = ()  # (status, url) hops before final_url
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    text: str | None = None       # decoded text, when the body is text
    encoding: str | None = None
    content_type: str | None = None
    truncated: bool = False
    error: str | None = None
    # why a fetch failed: timeout | reset | dns | refused | dataloss | robots | refused_host
    # | redirect_loop | url_too_long | ignored | other; unreadable: a response whose body
    # could not be read (decoding or link extraction raised), kept as raw bytes
    error_kind: str | None = None
    attempts: int = 1
    elapsed_ms: int | None = None
    links: tuple[tuple[str, str], ...] = ()       # (normalised url, anchor text) in page order
    # a browser-rendered capture: ``body``/``text`` are the rendered DOM, ``raw`` the HTTP
    # response's own body, ``screenshot`` a full-page PNG (``render = "browser"``)
    raw: bytes | None = None
    screenshot: bytes | None = None
    # a target that sends cookies was answered with a login page: read as restricted
    login_wall: bool = False


@dataclass(frozen=True)
class Stored:
    capture_id: int
    state: str
    new_blobs: int
    size: int


@dataclass(frozen=True)
class CaptureRow:
    """A capture as read back for inspection."""

    id: int
    round_id: int
    target: str
    url: str
    captured_at: datetime
    state: str
    status: int | None
    final_url: str | None
    size: int
    body_sha256: str | None
    truncated: bool
    error: str | None
    error_kind: str | None
    redirects: list = field(default_factory=list)
