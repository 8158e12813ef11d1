"""The microblog of the demo site (`/weibo/...`), shaped like weibo.com.

Pages: timelines `/weibo/u/<uid>?page=N` (newest first, 10 a page, every page linked from
every page), posts as items `<div class="post" data-mid="...">`, and permalinks
`/weibo/status/<mid>` (the permalink's post is deliberately not a `div.post`, so only
timelines carry items). Removal pages are HTTP 200 with Weibo's own wording.

Timeline of user 1001: post ...020 -> "抱歉，此微博已被作者删除。" on day 3 (`author_deleted`);
post ...017 -> "该微博因违反《微博社区公约》的相关规定，已被删除" on day 5 (`censored`); post
...022 -> "该微博因被多人投诉，根据《微博社区公约》相关规定，已被删除。" on day 7 (`censored`).
Removed posts leave the timeline, so later posts move up a page.
Noise: user 1002 switches to "仅展示半年内微博" on day 4, so the four oldest posts leave the
end of the timeline and their permalinks turn restricted; relative times ("3分钟前"),
repost/comment/like counters, new posts pushing old ones to later pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from takedown.demo import texts
from takedown.demo.layout import clock, date_of, esc, html_reply, seeded
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute

AUTHOR_DELETED = "抱歉，此微博已被作者删除。查看帮助：http://t.cn/zWSudZc"
CENSORED_RULES = "该微博因违反《微博社区公约》的相关规定，已被删除"
CENSORED_COMPLAINTS = "该微博因被多人投诉，根据《微博社区公约》相关规定，已被删除。"
HALF_YEAR_POST = "抱歉，作者已设置仅展示半年内微博，此微博已不可见。"
HALF_YEAR_TIMELINE = "作者已设置仅展示半年内微博"
PER_PAGE = 10

TAKEDOWNS = {  # (uid, n) -> (day, kind, notice)
    (1001, 20): (3, "author_deleted", AUTHOR_DELETED),
    (1001, 17): (5, "censored", CENSORED_RULES),
    (1001, 22): (7, "censored", CENSORED_COMPLAINTS),
}
HIDE_UID, HIDE_DAY, HIDE_UP_TO = 1002, 4, 4  # posts n <= 4 of 1002 hidden from day 4

_TIMELINE = re.compile(r"/weibo/u/(\d+)")
_STATUS = re.compile(r"/weibo/status/(\d{16})")


@dataclass(frozen=True)
class User:
    uid: int
    name: str
    intro: str


@dataclass(frozen=True)
class Post:
    uid: int
    n: int
    posted: int

    @property
    def mid(self) -> str:
        return f"4250{self.uid}{self.n:08d}"

    @property
    def text(self) -> str:
        rng = seeded("wb-text", self.mid)
        return "".join(rng.sample(texts.WEIBO_SENTENCES, 2))


USERS = {
    1001: User(1001, "军事观察员老王", "退役军人，军事爱好者，只谈常识"),
    1002: User(1002, "历史的回声", "读史使人明智"),
}


def _posts() -> dict[str, Post]:
    out = [Post(1001, n, -((24 - n) // 2) - 1) for n in range(1, 25)]
    out += [Post(1001, 24 + d, d) for d in range(1, 10)]
    out += [Post(1002, n, -200 - (4 - n) * 10) for n in range(1, 5)]
    out += [Post(1002, n, -(14 - n) * 3 - 1) for n in range(5, 15)]
    out += [Post(1002, 15, 2), Post(1002, 16, 6)]
    return {p.mid: p for p in out}


POSTS = _posts()


def hidden(post: Post, day: int) -> bool:
    return post.uid == HIDE_UID and post.n <= HIDE_UP_TO and day >= HIDE_DAY


def taken_down(post: Post, day: int) -> str | None:
    """The notice a removed post shows on *day*, or None."""
    event = TAKEDOWNS.get((post.uid, post.n))
    return event[2] if event is not None and day >= event[0] else None


def timeline(uid: int, day: int) -> list[Post]:
    shown = [p for p in POSTS.values() if p.uid == uid and p.posted <= day
             and not hidden(p, day) and taken_down(p, day) is None]
    return sorted(shown, key=lambda p: (p.posted, p.n), reverse=True)


def timeline_path(uid: int, page: int) -> str:
    return f"/weibo/u/{uid}?page={page}"


class WeiboSection:
    """Responder and self-description of the microblog section."""

    prefix = "/weibo/"

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None:
        if (m := _TIMELINE.fullmatch(path)) and int(m.group(1)) in USERS:
            page = query.get("page", "1")
            return _timeline_page(USERS[int(m.group(1))], int(page) if page.isdigit() else 1, day)
        if m := _STATUS.fullmatch(path):
            post = POSTS.get(m.group(1))
            return _status_page(post, day) if post is not None and post.posted <= day else None
        return None

    def targets(self) -> list[TargetSpec]:
        return [
            TargetSpec(f"weibo-{uid}", timeline_path(uid, 1), depth=2,
                       allow=(rf"/weibo/u/{uid}\?", r"/weibo/status/"),
                       items="div.post", item_id="data-mid")
            for uid in USERS
        ]

    def expected(self, base: str) -> list[Expected]:
        out = []
        for (uid, n), (day, kind, notice) in TAKEDOWNS.items():
            mid = Post(uid, n, 0).mid
            note = f"permalink shows {notice}; the post leaves the timeline"
            out.append(Expected(absolute(base, f"/weibo/status/{mid}"), kind, day,
                                f"weibo-{uid}", note=note))
        return out

    def noise(self, base: str, days: int) -> list[Noise]:
        first = absolute(base, timeline_path(1001, 1))
        hid = tuple(range(HIDE_DAY, days))
        return [
            Noise(first, "clock", tuple(range(days)), "relative times: N分钟前, 昨天 HH:MM"),
            Noise(first, "counter", tuple(range(days)), "repost/comment/like and follower counts"),
            Noise(first, "pagination", tuple(range(1, days)), "a new post every day"),
            Noise(absolute(base, timeline_path(HIDE_UID, 2)), "restricted", hid,
                  HALF_YEAR_TIMELINE),
            *(Noise(absolute(base, f"/weibo/status/{p.mid}"), "restricted", hid, HALF_YEAR_POST)
              for p in POSTS.values() if p.uid == HIDE_UID and p.n <= HIDE_UP_TO),
        ]


def _when(post: Post, day: int) -> str:
    """Weibo's relative timestamps, which change from one day to the next."""
    if post.posted == day:
        return f"{seeded('ago', post.mid, day).randrange(1, 59)}分钟前"
    at = clock("wb", post.mid)
    if post.posted == day - 1:
        return f"昨天 {at}"
    d = date_of(post.posted)
    return f"{d.month}月{d.day}日 {at}" if d.year == date_of(day).year else f"{d.isoformat()} {at}"


def _counts(post: Post, day: int) -> tuple[int, int, int]:
    rng = seeded("wb-counts", post.mid)
    age = max(day - post.posted, 0) + 1
    return rng.randrange(5, 40) * age, rng.randrange(2, 30) * age, rng.randrange(20, 300) * age


def _post_html(user: User, post: Post, day: int, item: bool) -> str:
    reposts, comments, likes = _counts(post, day)
    opening = f'<div class="post WB_cardwrap WB_feed_type" data-mid="{post.mid}">' if item \
        else '<div class="WB_cardwrap WB_detail_type">'
    return (
        f'{opening}<div class="WB_detail"><div class="WB_info"><a class="W_f14" '
        f'href="{timeline_path(user.uid, 1)}">{esc(user.name)}</a></div>'
        f'<div class="WB_from"><a class="time" href="/weibo/status/{post.mid}" '
        f'title="{date_of(post.posted).isoformat()} {clock("wb", post.mid)}">{_when(post, day)}'
        f'</a> 来自 微博 weibo.com</div><div class="WB_text">{esc(post.text)}</div></div>'
        f'<div class="WB_handle"><span>转发 {reposts}</span> <span>评论 {comments}</span> '
        f"<span>赞 {likes}</span></div></div>"
    )


def _timeline_page(user: User, page: int, day: int) -> Reply:
    posts = timeline(user.uid, day)
    pages = max(1, -(-len(posts) // PER_PAGE))
    shown = posts[(page - 1) * PER_PAGE: page * PER_PAGE]
    feed = "\n".join(_post_html(user, p, day, item=True) for p in shown)
    if user.uid == HIDE_UID and day >= HIDE_DAY and page >= pages:
        feed += (f'\n<div class="WB_cardwrap S_bg2"><div class="W_empty">{HALF_YEAR_TIMELINE}'
                 "</div></div>")
    pager = " ".join(
        f'<span class="page S_bg1">{k}</span>' if k == page
        else f'<a class="page S_txt1" href="{esc(timeline_path(user.uid, k))}">{k}</a>'
        for k in range(1, pages + 1)
    )
    if page < pages:
        pager += f' <a class="page next" href="{esc(timeline_path(user.uid, page + 1))}">下一页</a>'
    fans = 52_000 + 137 * day + seeded("fans", user.uid, day).randrange(100)
    header = (
        f'<div class="PCD_header"><h1 class="username">{esc(user.name)}</h1>'
        f'<div class="pf_intro">{esc(user.intro)}</div><table class="tb_counter"><tr>'
        f"<td><strong>关注</strong> 321</td><td><strong>粉丝</strong> {fans}</td>"
        f"<td><strong>微博</strong> {len(posts)}</td></tr></table></div>"
    )
    main = f'{header}\n<div class="WB_feed">\n{feed}\n<div class="W_pages">{pager}</div>\n</div>'
    return _page(f"{user.name}的微博_微博", main)


def _status_page(post: Post, day: int) -> Reply:
    user = USERS[post.uid]
    notice = taken_down(post, day) or (HALF_YEAR_POST if hidden(post, day) else None)
    if notice is not None:
        main = ('<div class="WB_empty"><div class="empty_con clearfix"><p class="icon">'
                '<i class="W_icon icon_warnB"></i></p>'
                f'<p class="text">{esc(notice)}</p></div></div>')
        return _page("微博-随时随地发现新鲜事", main)
    return _page(f"{user.name}的微博_微博", _post_html(user, post, day, item=False))


def _page(title: str, main: str) -> Reply:
    page = (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n</head>\n<body>\n"
        '<div class="WB_miniblog"><div class="WB_global_nav"><span class="logo">微博</span>'
        "</div>\n"
        f'<div class="WB_frame">\n{main}\n</div>\n'
        '<div class="WB_footer">Copyright &copy; 2009-2018 WEIBO 北京微梦创科网络技术有限公司</div>'
        "\n</div>\n</body>\n</html>\n"
    )
    return html_reply(page)
