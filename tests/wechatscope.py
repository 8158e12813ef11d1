"""A loopback replay of the real WeChatscope removal timeline, for the replay test.

The data: ``ceninfo.csv`` of Terminus2049/Wechatscope (MPL-2.0; rows scraped from HKU JMSC
WeChatscope), read in place from ``../shared/realdata/`` and never copied: one row per
removed public-account article with its title, account, post date, archive name (holding
the account id and the article id) and the removal time and notice WeChatscope saw.

`load_replay` picks a deterministic slice: every removal of the window (``WINDOW_DAYS`` from
2018-11-13 00:00 UTC+8: one day, as `make test` replays it, holds 308 removals over 121
accounts; three days, as ``python -m bench replay`` replays them (``TAKEDOWN_REPLAY_DAYS=3``),
530 over 234 accounts and 2 migrations); every migration of
the whole file (``该公众号已迁移``, 41 rows over 13 accounts, all but 2 outside the window);
and, for each notice the window lacks (the two English ones and ``此内容被多人投诉…``), its
first 3 rows in the file.  Rows from outside the window are moved into it by whole days.
`WechatscopeSite` serves the slice at a settable simulated time ``now``:

- ``/wx/account/<account id>``: the account's history, newest first, each article linking to
  ``/wx/s/<article id>`` with its date and read counter (which grows with time, so captures
  of an unchanged history still differ).  Removed articles leave the history, as on WeChat.
  A migrated account's page shows the migration notice from its first migration on.
- ``/wx/s/<article id>``: the article (title, account, post date, paragraphs built from the
  title, read counters) while ``now`` is before its removal, afterwards WeChat's message
  page with the real notice, HTTP 200.
- ``/robots.txt`` allows everything; anything else is a 404.

Every account also has one pinned article that is never removed (real accounts kept most of
their articles; WeChatscope only lists the removed ones), so no history ever turns empty.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import html
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from conftest import REALDATA

from takedown.demo.layout import esc, html_reply, not_found, text_reply
from takedown.demo.server import Reply

CENINFO = REALDATA / "wechatscope-terminus2049" / "ceninfo.csv"
CST = timezone(timedelta(hours=8))  # censored_date is Hong Kong / Beijing time (presumably)
WINDOW_START = datetime(2018, 11, 13, tzinfo=CST)
# days of the window: 1 in `make test` (7 rounds, 141 accounts), 3 for the benchmark
WINDOW_DAYS = int(os.environ.get("TAKEDOWN_REPLAY_DAYS", "1"))
ROUND_EVERY = timedelta(hours=6)
MIGRATED = "该公众号已迁移"
KINDS: dict[str, str | None] = {  # the notice WeChat showed -> the export kind it means
    "该内容已被发布者删除": "author_deleted",
    "The content has been deleted by the author.": "author_deleted",
    "此内容因违规无法查看": "censored",
    "Unable to view this content because it violates regulations": "censored",
    "此内容被投诉且经审核涉嫌侵权，无法查看。": "censored",
    "此内容被多人投诉，相关的内容无法进行查看。": "censored",
    "此帐号已被屏蔽,": "account_suspended",
    MIGRATED: None,  # moved, not a takedown
}
PINNED_POSTED = datetime(2018, 11, 1, tzinfo=CST)
BORROW = 3  # rows borrowed for each notice the window lacks (see `load_replay`)

# "<account id>_<post date>_<message id>_<10-character article key>.y.tar.gz"; account ids
# are mostly gh_…, a few wxid_… or plain WeChat ids; a few message ids are "missing".
_ARCHIVE = re.compile(r"(?P<account>.+)_\d{4}-\d\d-\d\d_(?P<mid>\w+)_(?P<key>[A-Za-z0-9]{10})"
                      r"\.y\.tar\.gz")
_ACCOUNT_PATH = re.compile(r"/wx/account/([\w-]+)")
_ARTICLE_PATH = re.compile(r"/wx/s/(\w+)")
_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Article:
    id: str                    # URL-safe: "<message id>_<article key>"
    account: str
    title: str
    posted: datetime           # the post date at 00:00 UTC+8, in UTC
    removed: datetime | None   # in UTC; None for the pinned articles, never removed
    notice: str = ""           # the real censored_msg

    @property
    def kind(self) -> str | None:
        return KINDS[self.notice] if self.removed is not None else None

    def live(self, now: datetime) -> bool:
        return self.posted <= now and (self.removed is None or now < self.removed)


@dataclass(frozen=True)
class Account:
    id: str
    nickname: str
    migrated: datetime | None  # in UTC: its first migration notice

    @property
    def slug(self) -> str:
        """The watchlist target name: the account id made safe for ``[a-z0-9_-]+``."""
        return _SLUG_BAD.sub("-", self.id.lower()).strip("-")


class Replay:
    """The chosen slice: accounts, their articles, and the round times that cover it."""

    def __init__(self, accounts: list[Account], articles: list[Article],
                 start: datetime = WINDOW_START) -> None:
        self.start = start
        self.accounts = {a.id: a for a in accounts}
        if len({a.slug for a in accounts}) != len(accounts):
            raise ValueError("two accounts share a target name")
        self.articles = {a.id: a for a in articles}
        self.history: dict[str, list[Article]] = {a.id: [] for a in accounts}
        for art in sorted(articles, key=lambda a: (a.posted, a.id), reverse=True):
            self.history[art.account].append(art)

    @property
    def removals(self) -> list[Article]:
        return [a for a in self.articles.values() if a.removed is not None]

    def rounds(self, extra: int = 1) -> list[datetime]:
        """Every 6 h from 6 h before the window to the first round at or after the last
        removal, then *extra* more rounds (nothing may change in them)."""
        at, last = self.start.astimezone(UTC) - ROUND_EVERY, max(
            a.removed for a in self.removals if a.removed is not None)
        out = [at]
        while out[-1] < last:
            out.append(out[-1] + ROUND_EVERY)
        return out + [out[-1] + ROUND_EVERY * (i + 1) for i in range(extra)]


def load_replay(path: Path = CENINFO, start: datetime = WINDOW_START,
                days: int = WINDOW_DAYS) -> Replay:
    """The slice described in the module docstring, the same on every run."""
    rows = _read(path)
    end = start + timedelta(days=days)
    migrated = {r["account"] for r in rows if r["notice"] == MIGRATED}
    # Removals of the window; a migrated account contributes only its migration rows.
    chosen = [r for r in rows if start <= r["removed"] < end and r["account"] not in migrated]
    absent = [n for n in KINDS if n != MIGRATED and n not in {r["notice"] for r in chosen}]
    borrowed = [r for n in absent for r in sorted(
        (r for r in rows if r["notice"] == n and r["account"] not in migrated),
        key=lambda r: (r["removed"], r["id"]))[:BORROW]]
    moved = borrowed + [r for r in rows if r["notice"] == MIGRATED]
    chosen += _moved_into_window(moved, start, days)
    articles: dict[str, Article] = {}
    for r in sorted(chosen, key=lambda r: (r["removed"], r["id"])):
        if r["id"] not in articles:  # 6 articles appear twice in the file: keep the first
            articles[r["id"]] = Article(r["id"], r["account"], r["title"], r["posted"],
                                        r["removed"], r["notice"])
    nicknames = {r["account"]: r["nickname"] for r in chosen}
    accounts = [Account(acc, nick, _first_migration(acc, articles.values()))
                for acc, nick in sorted(nicknames.items())]
    pinned = [_pinned(a) for a in accounts]
    return Replay(accounts, [*articles.values(), *pinned], start)


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [_row(r) for r in csv.DictReader(fh)]


def _row(r: Mapping[str, str]) -> dict:
    m = _ARCHIVE.fullmatch(r["archive"])
    if m is None:
        raise ValueError(f"unexpected archive name {r['archive']!r}")
    removed = datetime.strptime(r["censored_date"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST)
    posted = datetime.combine(date.fromisoformat(r["created_at"]), datetime.min.time(), CST)
    return {"account": m["account"], "id": f"{m['mid']}_{m['key']}", "title": _title(r["title"]),
            "nickname": r["nickname"], "posted": posted.astimezone(UTC),
            "removed": removed.astimezone(UTC), "notice": r["censored_msg"]}


def _title(raw: str) -> str:
    """Titles come HTML-escaped, some twice (``&amp;quot;``): unescape until stable."""
    while (plain := html.unescape(raw)) != raw:
        raw = plain
    return raw.strip()


def _moved_into_window(rows: list[dict], start: datetime, days: int) -> list[dict]:
    """Rows from outside the window, each account's moved by whole days so that its first
    removal falls on the matching day of the window (days since the window's start,
    modulo its length).  Post dates move alike: time of day, spacing and the delay between
    posting and removal stay real; only the date is not.
    """
    first: dict[str, datetime] = {}
    for r in rows:
        first[r["account"]] = min(r["removed"], first.get(r["account"], r["removed"]))
    moved = []
    for r in rows:
        lag = (first[r["account"]].astimezone(CST).date() - start.date()).days
        shift = timedelta(days=lag % days - lag)
        moved.append({**r, "posted": r["posted"] + shift, "removed": r["removed"] + shift})
    return moved


def _first_migration(account: str, articles: Iterable[Article]) -> datetime | None:
    times = [a.removed for a in articles
             if a.account == account and a.notice == MIGRATED and a.removed is not None]
    return min(times) if times else None


def _pinned(account: Account) -> Article:
    digest = hashlib.sha256(account.id.encode()).hexdigest()
    aid = f"{int(digest[:8], 16) % 10**10:010d}_{digest[8:18]}"
    return Article(aid, account.id, f"欢迎关注{account.nickname}｜往期精选合集", PINNED_POSTED,
                   None)


class WechatscopeSite:
    """The responder: pages as they were at ``now`` (an aware datetime, UTC)."""

    def __init__(self, replay: Replay, now: datetime | None = None) -> None:
        self.replay = replay
        self.now = now or WINDOW_START.astimezone(UTC)

    def __call__(self, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        path = path.split("?", 1)[0]
        if path == "/robots.txt":
            return text_reply("User-agent: *\nAllow: /\n")
        if (m := _ACCOUNT_PATH.fullmatch(path)) and m[1] in self.replay.accounts:
            return self._account(self.replay.accounts[m[1]])
        if (m := _ARTICLE_PATH.fullmatch(path)) and m[1] in self.replay.articles:
            return self._article(self.replay.articles[m[1]])
        return not_found()

    def _account(self, account: Account) -> Reply:
        if account.migrated is not None and self.now >= account.migrated:
            return notice_page(MIGRATED)
        shown = [a for a in self.replay.history[account.id] if a.live(self.now)]
        cards = "\n".join(_card(a, self.now) for a in shown)
        main = (
            f'<div class="profile_info_area"><div class="profile_info_group">'
            f'<h1 class="profile_nickname" id="nickname">{esc(account.nickname)}</h1>'
            f'<p class="profile_account">微信号：{esc(account.id)}</p></div></div>\n'
            f'<div class="weui_category_title">消息</div>\n'
            f'<div class="weui_msg_card_list" id="js_history_list">\n{cards}\n</div>\n'
            f'<div class="loadmore with_line"><span class="tips">已无更多</span></div>'
        )
        return _page(account.nickname, "profile_ext", main)

    def _article(self, art: Article) -> Reply:
        if self.now < art.posted:
            return not_found()
        if not art.live(self.now):
            return notice_page(art.notice)
        account = self.replay.accounts[art.account]
        if account.migrated is not None and self.now >= account.migrated and not art.notice:
            return notice_page(MIGRATED)  # the pinned article of a migrated account
        reads = _reads(art, self.now)
        main = (
            f'<div id="img-content" class="rich_media_wrp"><h2 class="rich_media_title" '
            f'id="activity-name">{esc(art.title)}</h2>\n<div id="meta_content" '
            f'class="rich_media_meta_list"><span class="rich_media_meta rich_media_meta_nickname"'
            f' id="profileBt"><a href="/wx/account/{esc(account.id)}" id="js_name">'
            f'{esc(account.nickname)}</a></span> <em id="publish_time" class="rich_media_meta '
            f'rich_media_meta_text">{_zh_date(art.posted)}</em></div>\n'
            f'<div class="rich_media_content" id="js_content">\n'
            + "\n".join(f"<p>{esc(p)}</p>" for p in _body(art, account)) +
            f'\n</div>\n<div class="rich_media_tool" id="js_toobar3"><span id="readNum3">'
            f'阅读 {_count(reads)}</span> <span id="likeNum3">在看 {reads // 41}</span></div>'
            f'</div>'
        )
        return _page(art.title, "", main)


def notice_page(notice: str) -> Reply:
    """WeChat's message page for a removed article: HTTP 200, the notice and little else."""
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1.0,'
        'maximum-scale=1.0,user-scalable=0">\n<title></title>\n</head>\n<body>\n'
        f'<div class="weui-msg"><p class="weui-msg__title">{esc(notice)}</p></div>\n'
        '</body>\n</html>\n'
    )
    return html_reply(page)


def _page(title: str, body_class: str, main: str) -> Reply:
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1.0">\n'
        f"<title>{esc(title)}</title>\n</head>\n"
        f'<body id="activity-detail" class="zh_CN {body_class}">\n'
        f'<div class="rich_media_area_primary">\n{main}\n</div>\n</body>\n</html>\n'
    )
    return html_reply(page)


def _card(art: Article, now: datetime) -> str:
    return (
        f'<div class="weui_msg_card"><div class="weui_msg_card_hd">{_zh_date(art.posted)}</div>'
        f'<div class="weui_msg_card_bd"><div class="weui_media_box appmsg" msgid="'
        f'{esc(art.id.split("_")[0])}"><div class="weui_media_bd"><h4 class="weui_media_title">'
        f'<a href="/wx/s/{esc(art.id)}">{esc(art.title)}</a></h4>'
        f'<p class="weui_media_desc">{esc(_digest(art))}</p>'
        f'<p class="weui_media_extra_info">阅读 {_count(_reads(art, now))}</p></div></div>'
        f"</div></div>"
    )


_OPENERS = ("近日，", "据了解，", "记者注意到，", "有网友发现，", "日前，")
_FILLERS = (
    "这件事在网上引发了不少讨论，也有读者在后台留言，希望我们继续关注。",
    "相关情况仍在进一步核实之中，我们将持续跟进后续进展。",
    "业内人士表示，类似的情况并不少见，但此次受到的关注明显更多。",
    "不少读者表示，希望有关方面能够尽快给出一个明确的说法。",
    "我们整理了事情的来龙去脉，供大家参考。",
    "欢迎在文末留言，说说你的看法。",
)


def _seed(*parts: str) -> int:
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16)


def _body(art: Article, account: Account) -> list[str]:
    """A few paragraphs built from the title, different for every article."""
    n = _seed("body", art.id)
    words = [w for w in re.split(r"[\s，,！!？?｜|：:。…、“”\"'‘’（）()]+", art.title) if w]
    lead = words[0] if words else art.title
    stop = "" if art.title[-1] in "。！？!?…." else "。"
    paras = [f"{_OPENERS[n % len(_OPENERS)]}{art.title}{stop}",
             f"{account.nickname}了解到，“{lead}”一事的起因要从{_zh_date(art.posted)}说起。"]
    for i, word in enumerate(words[1:4]):
        paras.append(f"关于“{word}”，{_FILLERS[(n >> (4 * i)) % len(_FILLERS)]}")
    paras.append(f"（本文由{account.nickname}原创，转载请联系授权。）")
    return paras


def _digest(art: Article) -> str:
    return f"{_OPENERS[_seed('body', art.id) % len(_OPENERS)]}{art.title}"[:28] + "……"


def _reads(art: Article, now: datetime) -> int:
    """A read counter that grows with the hours since posting (deterministic per article)."""
    n = _seed("reads", art.id)
    hours = max(0, int((now - art.posted).total_seconds() // 3600))
    return 200 + n % 3000 + hours * (20 + n % 180)


def _count(reads: int) -> str:
    return "10万+" if reads >= 100_000 else str(reads)


def _zh_date(at: datetime) -> str:
    d = at.astimezone(CST).date()
    return f"{d.year}年{d.month}月{d.day}日"


def round_index(rounds: list[datetime], at: datetime) -> int:
    """Index of the first round at or after *at* (the round that shows a removal)."""
    return bisect.bisect_left(rounds, at)
