"""Dates a page shows: its publication time, read from the words and numbers it is written
in (``2018-06-20 10:00``, ``2018年06月20日``, ``February 01, 2017 at 3:05 pm``) and, given the
capture's time, from relative ones (``5分钟前``, ``昨天 12:00``, ``3 hours ago``).

A time the page writes with an offset (``Z``, ``+08:00``) is aware; one without is naive, in
the site's own zone, which only the watchlist can say (a target's ``timezone``).  A relative
time is resolved against the capture time: "N minutes ago" is an exact instant, "昨天 12:00"
a local clock on the day before the capture's local day.

Pure; imports only the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
WEEKDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*\.?,?\s*)"
CJK_WEEKDAY = r"(?:\s*[(]?(?:星期|周|礼拜)[一二三四五六日天][)]?)"

# --- absolute dates --------------------------------------------------------------------

_MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_CLOCK_GROUPS = (r"(?:(?:T|\s+|\s*at\s+)(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
                 r"\s*([AaPp]\.?[Mm]\.?)?)?")
_ZONE = r"\s*(Z|[+-]\d{2}:?\d{2})?"
_DATE_FORMS = (
    ("ymd", re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)" + _CLOCK_GROUPS
                       + _ZONE)),
    ("ymd", re.compile(r"(?<!\d)(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"
                       + CJK_WEEKDAY + "?" + _CLOCK_GROUPS + _ZONE)),
    ("mdy", re.compile(WEEKDAY + "?" + r"\b(" + MONTH + r")\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+"
                       r"(\d{4})\b" + _CLOCK_GROUPS + _ZONE, re.IGNORECASE)),
    ("dmy", re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+(" + MONTH + r"),?\s+(\d{4})\b"
                       + _CLOCK_GROUPS + _ZONE, re.IGNORECASE)),
)


def find_date(text: str) -> datetime | None:
    """The first calendar date (with its clock, if any) written in ``text``, else None.

    Naive unless the text states an offset (``Z``, ``+08:00``): a page's local time zone is
    not known here.

    >>> find_date("发布时间：2018-06-20 10:00 来源：本网")
    datetime.datetime(2018, 6, 20, 10, 0)
    >>> find_date("2018年06月20日 星期三")
    datetime.datetime(2018, 6, 20, 0, 0)
    >>> find_date("Posted on Wednesday, February 01, 2017 at 3:05 pm")
    datetime.datetime(2017, 2, 1, 15, 5)
    >>> find_date("2021-03-15T10:00:00Z").tzinfo is not None
    True
    >>> find_date("no date here") is None
    True
    """
    found = date_span(text)
    return found[1] if found else None


def date_span(text: str) -> tuple[int, datetime] | None:
    """Where the first date of ``text`` starts (in its NFKC form), and the date."""
    text = unicodedata.normalize("NFKC", text)
    found: list[tuple[int, datetime]] = []
    for order, pattern in _DATE_FORMS:
        m = pattern.search(text)
        if m and (when := _build_date(order, m.groups())) is not None:
            found.append((m.start(), when))
    return min(found, key=lambda f: f[0]) if found else None


def _build_date(order: str, g: tuple[str | None, ...]) -> datetime | None:
    if order == "ymd":
        year, month, day = int(g[0] or 0), int(g[1] or 0), int(g[2] or 0)
    elif order == "mdy":
        month, day, year = _MONTHS.get((g[0] or "")[:3].lower(), 0), int(g[1] or 0), int(g[2] or 0)
    else:
        day, month, year = int(g[0] or 0), _MONTHS.get((g[1] or "")[:3].lower(), 0), int(g[2] or 0)
    hour, minute, second = int(g[3] or 0), int(g[4] or 0), int(g[5] or 0)
    meridiem = (g[6] or "").lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    try:
        when = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if not g[7]:
        return when
    zone = _zone(g[7])
    return when.replace(tzinfo=zone) if zone is not None else None


def _zone(text: str) -> timezone | None:
    """The offset ``Z``, ``+08:00`` or ``-0500`` stands for; None for one no clock has
    (``+99:00``): a date written with it is not read as a date.

    >>> _zone("+08:00"), _zone("+99:00")
    (datetime.timezone(datetime.timedelta(seconds=28800)), None)
    """
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours >= 24 or minutes >= 60:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


_DATE_LABELS = (  # strong labels first; "更新时间"/"updated" is not a publication time
    re.compile(r"发布时间|发布日期|发表时间|发表于|发布于|成文日期|发文日期|published|posted|"
               r"pubdate", re.IGNORECASE),
    re.compile(r"(?<!更新)(?<!修改)(?:时间|日期)|(?<![a-z])date(?![a-z])", re.IGNORECASE),
)
_UPDATED = re.compile(r"updated|modified|revised|更新|修改", re.IGNORECASE)
# <meta> names (property, name or itemprop; lower case) that carry the publication time
PUBLISHED_META = frozenset((
    "article:published_time", "og:published_time", "datepublished", "pubdate", "publishdate",
    "publish-date", "publish_date", "date", "dc.date", "dc.date.issued", "dcterms.created",
    "dcterms.issued", "sailthru.date", "parsely-pub-date", "firstpublishedtime"))


def visible_date(texts: Sequence[str], headings: Sequence[bool]) -> datetime | None:
    """The publication date a page shows, from its main block texts in order.

    A labelled date ("发布时间：…", "Posted …"; then "日期：", "Date:") within a dozen blocks
    of the first heading; else a block that opens with a date (bylines, "Friday, October
    09, 2015/Categories: …") or a short date line near that heading. Update times ("更新时间",
    "Last updated on …") are not publication times.

    >>> visible_date(["标题", "2018年06月20日 来源：本网", "正文"], [True, False, False])
    datetime.datetime(2018, 6, 20, 0, 0)
    >>> visible_date(["Title", "Last updated on January 20, 2017"], [True, False]) is None
    True
    """
    start = next((i for i, h in enumerate(headings) if h), 0)
    near = texts[max(0, start - 2): start + 12]
    for label in _DATE_LABELS:
        for text in near:
            if label.search(text) and (when := find_date(text)):
                return when
    for i, text in enumerate(texts[:start + 40]):
        if _UPDATED.search(text):
            continue
        found = date_span(text)
        if found and (found[0] <= 2 or (len(text) <= 60 and abs(i - start) <= 12)):
            return found[1]
    return None


