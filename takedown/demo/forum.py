"""The Discuz!-style military forum of the demo site (`/forum/...`).

Pages: board index `/forum/index.php`, boards `/forum/forumdisplay.php?fid=N[&page=K]`
(newest threads first, 10 a page), threads `/forum/viewthread.php?tid=N` whose replies are
items `<div class="reply" data-pid="...">` (the opening post is not an item). Like real
Discuz!, unknown threads and boards answer HTTP 200 with a `showmessage` notice.

Timeline (first day visible):

- day 2: reply 100303 of thread 1003 deleted, it vanishes -> item `removed`.
- day 3: thread 3004 deleted -> thread_nonexistence notice (HTTP 200) -> `removed`.
- day 5: board fid=36 (武器装备) closed. It leaves the index; the board page *and every one of
  its threads* answer with forum_nonexistence "抱歉，指定的版块不存在" (HTTP 200). Ground
  truth: `section_closed` for the board and for each thread (they went with the section).
- day 6: reply 100504 of thread 1005 screened ("提示: 该帖被管理员或版主屏蔽", the reply div
  stays) -> item `censored`.

Noise: an online counter and GMT+8 clock, a `sid=` token in every link that changes daily, a
hot-threads sidebar (fixed set, shuffled daily), view counters, new threads pushing old ones
to page 2/3, new replies appended to threads. Imports stdlib and takedown.demo modules only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from takedown.demo import texts
from takedown.demo.layout import clock, date_of, esc, html_reply, link, seeded, token
from takedown.demo.server import Reply
from takedown.demo.truth import Expected, Noise, TargetSpec, absolute

SITE = "长城军事论坛"
PER_PAGE = 10
TARGET = "forum"
THREAD_GONE = "抱歉，指定的主题不存在或已被删除或正在被审核"  # Discuz! X3.1 thread_nonexistence
BOARD_GONE = "抱歉，指定的版块不存在"  # Discuz! X3.1 forum_nonexistence
SCREENED = "提示: <em>该帖被管理员或版主屏蔽</em>"  # Discuz! X3.1 message_single_banned
LOGIN_WALL = "您需要先登录才能继续本操作"  # Discuz! X3.1 to_login

CLOSED_FID, CLOSED_DAY = 36, 5
DELETED_TID, DELETED_DAY = 3004, 3
DELETED_REPLY = (1003, 3, 2)  # (tid, floor, day): pid 100303 vanishes
SCREENED_REPLY = (1005, 4, 6)  # (tid, floor, day): pid 100504 masked
HOT_TIDS = (1003, 1005, 1008, 1012, 3002)  # never taken down; order shuffled daily
NEW_THREAD_DAYS = (1, 2, 4, 6, 8)  # board 2 gets threads 1017.. on these days


@dataclass(frozen=True)
class Board:
    fid: int
    name: str
    desc: str


@dataclass(frozen=True)
class Thread:
    tid: int
    fid: int
    title: str
    posted: int  # simulated day of the opening post (negative: before the run)


BOARDS = (
    Board(2, "综合讨论", "军事话题综合讨论，欢迎理性发言"),
    Board(36, "武器装备", "兵器装备技术交流与资料整理"),
    Board(5, "历史长河", "军事历史、战史研究与老兵回忆"),
)
BOARD_BY_FID = {b.fid: b for b in BOARDS}


def _threads() -> dict[int, Thread]:
    general = texts.FORUM_GENERAL_TITLES
    out = [Thread(1001 + i, 2, title, i - 16) for i, title in enumerate(general[:16])]
    arrivals = zip(general[16:], NEW_THREAD_DAYS, strict=True)
    out += [Thread(1017 + i, 2, t, d) for i, (t, d) in enumerate(arrivals)]
    out += [Thread(2001 + i, 36, t, i - 40) for i, t in enumerate(texts.FORUM_EQUIPMENT_TITLES)]
    out += [Thread(3001 + i, 5, t, i - 30) for i, t in enumerate(texts.FORUM_HISTORY_TITLES)]
    return {t.tid: t for t in out}


THREADS = _threads()


def pid(tid: int, floor: int) -> str:
    """Post ids are tid * 100 + floor, so they are stable and readable (floor 1 = opening)."""
    return str(tid * 100 + floor)


def board_open(fid: int, day: int) -> bool:
    return fid in BOARD_BY_FID and not (fid == CLOSED_FID and day >= CLOSED_DAY)


def thread_state(tid: int, day: int) -> str:
    """'live', 'absent' (not posted yet / never existed), 'deleted' or 'closed'."""
    thread = THREADS.get(tid)
    if thread is None or thread.posted > day:
        return "absent"
    if tid == DELETED_TID and day >= DELETED_DAY:
        return "deleted"
    return "live" if board_open(thread.fid, day) else "closed"


def board_threads(fid: int, day: int) -> list[Thread]:
    live = [t for t in THREADS.values() if t.fid == fid and thread_state(t.tid, day) == "live"]
    return sorted(live, key=lambda t: (t.posted, t.tid), reverse=True)


def visible_floors(tid: int, day: int) -> list[tuple[int, int]]:
    """Like `reply_floors` without the deleted reply."""
    tid_gone, floor_gone, day_gone = DELETED_REPLY
    return [(floor, posted) for floor, posted in reply_floors(tid, day)
            if (tid, floor) != (tid_gone, floor_gone) or day < day_gone]


def reply_floors(tid: int, day: int) -> list[tuple[int, int]]:
    """(floor, day posted) of every reply that exists on *day*, deleted ones included."""
    thread = THREADS[tid]
    first = 4 + seeded("replies", tid).randrange(5)
    cap = max(thread.posted, -1)  # seed replies trickle in over the days before the run
    floors = [(floor, min(thread.posted + (floor - 1) // 3, cap)) for floor in range(2, first + 2)]
    for d in range(max(thread.posted, 0) + 1, day + 1):
        if seeded("more", tid, d).random() < 0.25:
            floors.append((len(floors) + 2, d))
    return floors


class ForumSection:
    """Responder and self-description of the forum section."""

    prefix = "/forum/"

    def reply(self, day: int, path: str, query: Mapping[str, str]) -> Reply | None:
        page = _Pages(day)
        if path in {"/forum/", "/forum/index.php"}:
            return page.index()
        if path == "/forum/forumdisplay.php":
            return page.board(_int(query.get("fid")), _int(query.get("page")) or 1)
        if path == "/forum/viewthread.php":
            return page.thread(_int(query.get("tid")))
        if path in {"/forum/logging.php", "/forum/register.php", "/forum/search.php"}:
            return page.notice(LOGIN_WALL, "提示信息")
        return None

    def targets(self) -> list[TargetSpec]:
        return [TargetSpec(
            TARGET, "/forum/index.php", depth=2,
            allow=(r"/forum/(index|forumdisplay|viewthread)\.php",),
            deny=(r"/forum/(logging|register|search)\.php",),
            items="div.reply", item_id="data-pid",
        )]

    def expected(self, base: str) -> list[Expected]:
        def thread(tid: int) -> str:
            return absolute(base, "/forum/viewthread.php", {"tid": tid})

        d_tid, d_floor, d_day = DELETED_REPLY
        s_tid, s_floor, s_day = SCREENED_REPLY
        closed = [
            Expected(thread(t.tid), "section_closed", CLOSED_DAY, TARGET,
                     note="thread of the closed board fid=36; shows 抱歉，指定的版块不存在")
            for t in THREADS.values() if t.fid == CLOSED_FID
        ]
        return [
            Expected(thread(d_tid), "removed", d_day, TARGET, item=pid(d_tid, d_floor),
                     note="reply deleted from a live thread"),
            Expected(thread(DELETED_TID), "removed", DELETED_DAY, TARGET,
                     note="Discuz! thread_nonexistence notice, HTTP 200"),
            Expected(absolute(base, "/forum/forumdisplay.php", {"fid": CLOSED_FID}),
                     "section_closed", CLOSED_DAY, TARGET,
                     note="武器装备 board closed: forum_nonexistence notice, gone from index"),
            *closed,
            Expected(thread(s_tid), "censored", s_day, TARGET, item=pid(s_tid, s_floor),
                     note="reply screened: 该帖被管理员或版主屏蔽"),
        ]

    def noise(self, base: str, days: int) -> list[Noise]:
        every = tuple(range(days))
        index = absolute(base, "/forum/index.php")
        new_days = tuple(d for d in NEW_THREAD_DAYS if d < days)
        grown = [
            Noise(absolute(base, "/forum/viewthread.php", {"tid": tid}), "new-replies", got)
            for tid in HOT_TIDS
            if (got := tuple(d for d, _ in _growth(tid, days)))
        ]
        return [
            Noise(index, "counter", every, "online users and post statistics"),
            Noise(index, "session-id", every, "sid= in every link changes daily"),
            Noise(index, "reorder", every, "hot threads sidebar shuffled daily"),
            Noise(index, "clock", every, "GMT+8 render time in the footer"),
            Noise(absolute(base, "/forum/forumdisplay.php", {"fid": 2}), "pagination", new_days,
                  "new threads push older ones to page 2/3"),
            Noise(absolute(base, "/forum/forumdisplay.php", {"fid": 2, "page": 2}),
                  "pagination", new_days),
            *grown,
        ]


def _growth(tid: int, days: int) -> list[tuple[int, int]]:
    """(day, floor) of replies appended during the run."""
    return [(d, floor) for floor, d in reply_floors(tid, days - 1) if d > 0]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Pages:
    """Renders the forum pages of one simulated day."""

    def __init__(self, day: int) -> None:
        self.day = day
        self.sid = token(6, "sid", day)

    def url(self, path: str, **params: object) -> str:
        return esc(link(path, {**params, "sid": self.sid}))

    def index(self) -> Reply:
        rng = seeded("forum-stats", self.day)
        online = rng.randrange(800, 3000)
        rows = "\n".join(self._board_row(b) for b in BOARDS if board_open(b.fid, self.day))
        today, yesterday = rng.randrange(90, 400), rng.randrange(90, 400)
        pipe = '<span class="pipe">|</span>'
        main = (
            f'<div id="chart" class="bm bw0 cl"><p class="chart z">今日: <em>{today}</em>{pipe}'
            f"昨日: <em>{yesterday}</em>{pipe}帖子: <em>{rng.randrange(380000, 390000)}</em>"
            "</p></div>\n"
            '<div class="fl bm"><div class="bm bmw cl"><div class="bm_h cl"><h2>军事天地</h2>'
            f'</div><div class="bm_c"><table class="fl_tb">\n{rows}\n</table></div></div></div>\n'
            '<div id="online" class="bm oll"><div class="bm_h"><h3><strong>在线会员</strong>'
            f" - 总计 <em>{online}</em> 人在线 - 最高记录是 <em>5321</em> 于 2017-10-1.</h3>"
            "</div></div>"
        )
        return self.layout("首页", main)

    def _board_row(self, board: Board) -> str:
        count = len(board_threads(board.fid, self.day))
        today = seeded("board-today", board.fid, self.day).randrange(0, 60)
        href = self.url("/forum/forumdisplay.php", fid=board.fid)
        return (
            f'<tr><td class="fl_g"><h2><a href="{href}">{esc(board.name)}</a> '
            f'<em class="xw0 xi1" title="今日"> ({today})</em></h2>'
            f'<p class="xg2">{esc(board.desc)}</p></td><td class="fl_i">'
            f'<span class="xi2">{count}</span> / <span class="xg1">主题</span></td></tr>'
        )

    def board(self, fid: int | None, page: int) -> Reply:
        if fid is None or not board_open(fid, self.day):
            return self.notice(BOARD_GONE, "提示信息")
        threads = board_threads(fid, self.day)
        pages = max(1, -(-len(threads) // PER_PAGE))
        page = min(max(page, 1), pages)
        shown = threads[(page - 1) * PER_PAGE: page * PER_PAGE]
        rows = "\n".join(self._thread_row(t) for t in shown)
        board = BOARD_BY_FID[fid]
        main = (
            f'<div class="bm bml pbn"><div class="bm_h cl"><h1 class="xs2"><a href="'
            f'{self.url("/forum/forumdisplay.php", fid=fid)}">{esc(board.name)}</a></h1></div>'
            f'<div class="bm_c cl pbn"><p>{esc(board.desc)}</p></div></div>\n'
            f'<div id="threadlist" class="tl bm bmw"><table summary="forum_{fid}" '
            f'id="threadlisttableid">\n{rows}\n</table></div>\n{self._pager(fid, page, pages)}'
        )
        return self.layout(board.name, main, crumb=board)

    def _thread_row(self, thread: Thread) -> str:
        views = 300 + seeded("views", thread.tid, self.day).randrange(50, 5000)
        replies = len(visible_floors(thread.tid, self.day))
        author = _author(thread.tid, 1)
        return (
            f'<tbody id="normalthread_{thread.tid}"><tr><th class="common"><a href="'
            f'{self.url("/forum/viewthread.php", tid=thread.tid)}" class="s xst">'
            f"{esc(thread.title)}</a></th><td class=\"by\"><cite>{esc(author)}</cite>"
            f"<em><span>{date_of(thread.posted).isoformat()}</span></em></td>"
            f'<td class="num"><span class="xi2">{replies}</span><em>{views}</em></td></tr></tbody>'
        )

    def _pager(self, fid: int, page: int, pages: int) -> str:
        if pages == 1:
            return ""
        cells = []
        for k in range(1, pages + 1):
            href = self.url("/forum/forumdisplay.php", fid=fid, page=k if k > 1 else None)
            cells.append(f"<strong>{k}</strong>" if k == page else f'<a href="{href}">{k}</a>')
        if page < pages:
            href = self.url("/forum/forumdisplay.php", fid=fid, page=page + 1)
            cells.append(f'<a href="{href}" class="nxt">下一页</a>')
        return f'<div class="pg">{"".join(cells)}</div>'

    def thread(self, tid: int | None) -> Reply:
        state = thread_state(tid, self.day) if tid is not None else "absent"
        if state == "closed":
            return self.notice(BOARD_GONE, "提示信息")
        if state != "live" or tid is None:
            return self.notice(THREAD_GONE, "提示信息")
        thread = THREADS[tid]
        views = 1000 + seeded("views", tid, self.day).randrange(100, 9000)
        floors = visible_floors(tid, self.day)
        posts = "\n".join(self._reply(tid, floor, posted) for floor, posted in floors)
        main = (
            f'<div id="postlist" class="pl bm"><div class="ts"><h1 class="ts">'
            f'<span id="thread_subject">{esc(thread.title)}</span></h1>'
            f'<span class="xg1">查看: {views}<span class="pipe">|</span>回复: {len(floors)}</span>'
            f"</div>\n{self._opening(thread)}\n{posts}\n</div>"
        )
        return self.layout(thread.title, main, crumb=BOARD_BY_FID[thread.fid])

    def _opening(self, thread: Thread) -> str:
        rng = seeded("opening", thread.tid)
        body = "<br />\n".join(esc(s) for s in rng.sample(texts.FORUM_OPENING, 4))
        return (
            f'<div id="post_{pid(thread.tid, 1)}" class="thread-main"><div class="pi">'
            f'<strong>楼主</strong> <a class="xw1">{esc(_author(thread.tid, 1))}</a> '
            f"<em>发表于 {date_of(thread.posted).isoformat()} {clock('post', thread.tid, 1)}</em>"
            f'</div><div class="pct"><div class="t_fsz"><table><tr><td class="t_f" '
            f'id="postmessage_{pid(thread.tid, 1)}">{body}</td></tr></table></div></div></div>'
        )

    def _reply(self, tid: int, floor: int, posted: int) -> str:
        p = pid(tid, floor)
        text = seeded("reply", tid, floor).choice(texts.FORUM_REPLIES)
        if (tid, floor) == SCREENED_REPLY[:2] and self.day >= SCREENED_REPLY[2]:
            content = f'<div class="locked">{SCREENED}</div>'
        else:
            content = (f'<div class="t_fsz"><table><tr><td class="t_f" id="postmessage_{p}">'
                       f"{esc(text)}</td></tr></table></div>")
        return (
            f'<div id="post_{p}" class="reply" data-pid="{p}"><div class="pi"><strong>'
            f"<a>{floor}#</a></strong> <a class=\"xw1\">{esc(_author(tid, floor))}</a> "
            f"<em>发表于 {date_of(posted).isoformat()} {clock('post', tid, floor)}</em></div>"
            f'<div class="pct">{content}</div></div>'
        )

    def notice(self, message: str, title: str) -> Reply:
        """Discuz! showmessage(): an HTTP 200 page with the message in #messagetext."""
        main = (
            f'<div id="ct" class="wp cl w"><div class="nfl"><div class="f_c altw">'
            f'<div id="messagetext" class="alert_error"><p>{message}</p>'
            f'<p class="alert_btnleft"><a href="javascript:history.back()">[ 点击这里返回上一页 ]'
            f"</a></p></div></div></div></div>"
        )
        return self.layout(title, main, sidebar=False)

    def layout(self, title: str, main: str, crumb: Board | None = None,
               sidebar: bool = True) -> Reply:
        home = self.url("/forum/index.php")
        trail = f'<a href="{home}">论坛</a>'
        if crumb is not None:
            href = self.url("/forum/forumdisplay.php", fid=crumb.fid)
            trail += f' <em>&rsaquo;</em> <a href="{href}">{esc(crumb.name)}</a>'
        side = f'<div class="sd">{self._hot()}</div>' if sidebar else ""
        page = (
            f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
            f"<title>{esc(title)} - {SITE} - Powered by Discuz!</title>\n"
            f'<meta name="generator" content="Discuz! X3.1">\n</head>\n<body id="nv_forum">\n'
            f'<div id="toptb" class="cl"><div class="wp"><div class="y">'
            f'<a href="{self.url("/forum/logging.php", action="login")}">登录</a> '
            f'<a href="{self.url("/forum/register.php")}">立即注册</a></div></div></div>\n'
            f'<div id="hd"><div class="wp"><h2><a href="{home}" title="{SITE}">{SITE}</a></h2>'
            f'<div id="nv"><ul><li class="a"><a href="{home}">论坛</a></li>'
            f'<li><a href="{self.url("/forum/search.php")}">搜索</a></li></ul></div></div></div>\n'
            f'<div id="wp" class="wp"><div id="pt" class="bm cl"><div class="z">{trail}</div>'
            "</div>\n"
            f'<div id="ct" class="wp cl"><div class="mn">\n{main}\n</div>{side}</div></div>\n'
            f"{self._footer()}\n</body>\n</html>\n"
        )
        return html_reply(page)

    def _hot(self) -> str:
        tids = list(HOT_TIDS)
        seeded("hot", self.day).shuffle(tids)
        items = "".join(
            f'<li><a href="{self.url("/forum/viewthread.php", tid=tid)}">'
            f"{esc(THREADS[tid].title)}</a></li>" for tid in tids
        )
        return (f'<div class="bm"><div class="bm_h"><h2>热门主题</h2></div>'
                f'<ul class="xl">{items}</ul></div>')

    def _footer(self) -> str:
        secs = seeded("processed", self.day).randrange(20, 90) / 1000
        return (
            f'<div id="ft" class="wp cl"><div id="frt"><p>Powered by <strong>Discuz!</strong> '
            f'<em>X3.1</em></p><p class="xs0">&copy; 2001-2013 Comsenz Inc.</p></div>'
            f'<div id="flk" class="y"><p class="xs0">GMT+8, {date_of(self.day).isoformat()} '
            f"{clock('forum-footer', self.day)}, Processed in {secs:.3f} second(s), 16 queries.</p>"
            f"</div></div>"
        )


def _author(tid: int, floor: int) -> str:
    return seeded("author", tid, floor).choice(texts.FORUM_USERS)
