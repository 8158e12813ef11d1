"""Time zones a watchlist may name for the times a site writes without an offset.

Imports only the standard library (and the IANA data of ``tzdata`` where the system has
none).

>>> parse_zone("+08:00"), parse_zone("UTC"), str(parse_zone("Asia/Shanghai"))
(datetime.timezone(datetime.timedelta(seconds=28800)), datetime.timezone.utc, 'Asia/Shanghai')
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, timedelta, timezone, tzinfo

_OFFSET = re.compile(r"(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?")
_IANA = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")


def parse_zone(text: str) -> tzinfo:
    """The zone *text* names: ``UTC``, an offset (``+08:00``, ``-0500``, ``UTC+8``) or an
    IANA name (``Asia/Shanghai``, daylight saving included); ValueError otherwise."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return UTC
    if (m := _OFFSET.fullmatch(text)) is not None:
        hours, minutes = int(m[2]), int(m[3] or 0)
        if hours > 18 or minutes >= 60:
            raise ValueError(f"offset {text!r} is out of range (-18:00 to +18:00)")
        sign = -1 if m[1] == "-" else 1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        if len(text) > 64 or not _IANA.fullmatch(text):
            raise ValueError(text)
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {text[:80]!r} (give an IANA name such as "
                         "Asia/Shanghai, or an offset such as +08:00)") from exc
