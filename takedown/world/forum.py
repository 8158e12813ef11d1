"""A forum: Discuz!-style (``forum.php?mod=forumdisplay&fid=N``) for Chinese sites,
phpBB-style (``viewforum.php?f=N&start=K``) for English ones.  Boards list a sticky thread,
then threads by last reply (replies arrive, threads bump between pages); thread pages show
the opening post, the replies so far, a rotating hot-threads box and a form hash.

It plants `removed` (the platform's missing-thread notice in the page chrome, HTTP 200 on
Discuz!, 404 on phpBB), `censored` (a moderator mask replacing the opening post, replies
still shown), `section_closed` (every page of one board shows a closure notice or 404 while
the forum lives; its threads keep serving) and `edited`.  Imports the stdlib,
`takedown.world` and `takedown.demo.server` (replies).
"""

from __future__ import annotations

import random

from takedown.demo.server import Reply
from takedown.world import texts
from takedown.world.base import Doc, Site, Target, Truth, html_reply
from takedown.world.markup import (
    Entry,
    render_article,
    render_comments,
    render_list,
    render_notice,
    render_pager,
    render_widget,
)

THREAD_WORDS = r"主题|帖|[Tt]opic|[Tt]hread|[Pp]ost"


class ForumSite(Site):
    archetype = "forum"
    group = "forum"
    kinds = ("removed", "censored", "section_closed", "edited")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rng = self.rng
        self.discuz = self.lang == "zh"
        self.per_page = rng.randint(3, 4) if self.small else rng.randint(10, 15)
        self.pages = rng.randint(1, 2) if self.small else rng.randint(2, 3)
        fids = rng.sample(range(2, 80), 2 if self.small else rng.randint(3, 4))
        self.threads: dict[int, list[Doc]] = {}
        self.boards: dict[int, list[Doc]] = {}
        self.bumps: dict[str, list[int]] = {}
        self.replies0: dict[str, int] = {}
        self.fate_kind: dict[str, str] = {}  # thread key → kind of its planted notice
        for fid in fids:
            self.boards[fid] = [Doc(self.board_key(fid, n), f"board {fid}", [], -99, str(fid))
                                for n in range(1, self.pages + 1)]
            self.threads[fid] = self._fill(fid)

    # -- content -------------------------------------------------------------------------
    def _fill(self, fid: int) -> list[Doc]:
        rng = self.rng
        docs = [self._thread(fid, -30, -1)]  # the sticky
        for i in range(self.per_page * self.pages + rng.randint(0, 1)):
            docs.append(self._thread(fid, -rng.randrange(1, 20), i))
        for r in range(1, self.rounds):
            if rng.random() < (0.25 if self.small else 0.8):
                docs.append(self._thread(fid, r, len(docs)))
        return docs

    def _thread(self, fid: int, born: int, seq: int) -> Doc:
        rng = self.rng
        tid = rng.randrange(1000, 99999)
        key = self.path(f"forum.php?mod=viewthread&tid={tid}" if self.discuz
                        else f"viewtopic.php?t={tid}")
        paras = [texts.paragraph(rng, self.lang) for _ in range(rng.randint(2, 6))]
        doc = Doc(key, texts.title(rng, self.lang), paras, born, str(fid), seq)
        self.bumps[key] = [r for r in range(max(born, 0) + 1, self.rounds)
                           if rng.random() < 0.3]
        self.replies0[key] = rng.randint(0, 4)
        self.docs[key] = doc
        return doc

    def board_key(self, fid: int, n: int) -> str:
        if self.discuz:
            return self.path(f"forum.php?fid={fid}&mod=forumdisplay" +
                             (f"&page={n}" if n > 1 else ""))
        return self.path(f"viewforum.php?f={fid}" +
                         (f"&start={(n - 1) * self.per_page}" if n > 1 else ""))

    def last_active(self, doc: Doc, r: int) -> int:
        return max([doc.born, *(b for b in self.bumps[doc.key] if b <= r)])

    def open_boards(self, r: int) -> list[int]:
        return [fid for fid, pages in self.boards.items() if not pages[0].down(r)]

    def ordered(self, fid: int, r: int) -> list[Doc]:
        """Sticky first, then threads by last reply, cut to the pages shown."""
        sticky, *rest = self.threads[fid]
        live = [d for d in rest if d.listed(r)]
        live.sort(key=lambda d: (self.last_active(d, r), d.seq), reverse=True)
        return [sticky, *live[: self.per_page * self.pages]]

    def shown(self, r: int) -> list[Doc]:
        return [d for fid in self.open_boards(r) for d in self.ordered(fid, r)]

    # -- pages ---------------------------------------------------------------------------
    def route(self, r: int, key: str) -> Reply | None:
        for fid, pages in self.boards.items():
            for n, board in enumerate(pages, start=1):
                if board.key == key:
                    return self._board_reply(r, fid, n, board)
        doc = self.docs.get(key)
        if doc is None or doc.born > r:
            return None
        if doc.down(r):
            return self.down_reply(doc, r, lambda text: self._gone_thread(r, doc, text))
        return html_reply(self.doc_page(r, doc))

    def _board_reply(self, r: int, fid: int, n: int, board: Doc) -> Reply:
        if board.down(r):
            names = self.look(r)[1]
            return self.down_reply(board, r, lambda text: self.render(
                r, board.key, text[:12], render_notice(names, text)))
        return html_reply(self.board_page(r, fid, n))

    def home(self, r: int) -> str:
        skin, names = self.look(r)
        rng = self.noise(r, "index")
        word = ("今日", "主题") if self.discuz else ("today", "topics")
        entries = [Entry(self.link(self.board_key(fid, 1), r), f"board {fid}",
                         f"{word[0]} {rng.randrange(50)} {word[1]} {len(self.ordered(fid, r))}")
                   for fid in self.open_boards(r)]
        return self.render(r, self.path(""), self.name, render_list(skin, names, entries),
                           (self.hot(r),))

    def board_page(self, r: int, fid: int, n: int) -> str:
        skin, names = self.look(r)
        threads = self.ordered(fid, r)
        sticky, rest = threads[0], threads[1:]
        chunk = rest[(n - 1) * self.per_page: n * self.per_page]
        rows = ([self._entry(r, sticky, True)] if n == 1 else []) + \
            [self._entry(r, d) for d in chunk]
        pager = render_pager(names, [(self.link(b.key, r), str(i))
                                     for i, b in enumerate(self.boards[fid], start=1)])
        main = f"<h2>board {fid}</h2>\n{render_list(skin, names, rows)}\n{pager}"
        return self.render(r, self.board_key(fid, n), f"board {fid}", main, (self.hot(r),))

    def _entry(self, r: int, doc: Doc, sticky: bool = False) -> Entry:
        rng = self.noise(r, "entry", doc.key)
        meta = f"{self._replies(doc, r)} / {rng.randrange(10, 9999)} · " + \
            texts.relative_time(rng, self.lang)
        return Entry(self.link(doc.key, r), doc.title, meta, sticky)

    def _replies(self, doc: Doc, r: int) -> int:
        return self.replies0[doc.key] + sum(b <= r for b in self.bumps[doc.key])

    def hot(self, r: int) -> str:
        """Hot threads: a random few of the listed ones, different every round."""
        pool = [d for d in self.shown(r) if d.seq >= 0]
        picks = self.noise(r, "hot").sample(pool, min(4, len(pool)))
        heading = "热门主题" if self.discuz else "Hot topics"
        return render_widget(self.look(r)[1], heading,
                             [(self.link(d.key, r), d.title) for d in picks])

    def _reply_box(self, r: int, doc: Doc) -> str:
        rng = random.Random(f"{self.seed}|replies|{doc.key}")
        rows = [(texts.nick(rng, self.lang), texts.comment(rng, self.lang))
                for _ in range(self._replies(doc, r))]
        return render_comments(self.look(r)[1], "回复" if self.discuz else "Replies", rows)

    def doc_page(self, r: int, doc: Doc, notice: str | None = None) -> str:
        skin, names = self.look(r)
        meta = f"{texts.nick(random.Random(doc.key), self.lang)} · " + \
            texts.date_text(self.date(doc.born), skin.date_style)
        head = (render_notice(names, notice) if notice is not None
                else render_article(skin, names, doc.title, meta, doc.paras_at(r)))
        return self.render(r, doc.key, doc.title, f"{head}\n{self._reply_box(r, doc)}",
                           (self.hot(r),))

    def _gone_thread(self, r: int, doc: Doc, text: str) -> str:
        """Censored: the mask replaces the opening post; removed: a message page."""
        if doc.fate.how == "notice" and self.fate_kind.get(doc.key) == "censored":
            return self.doc_page(r, doc, text)
        return self.render(r, doc.key, text[:12], render_notice(self.look(r)[1], text),
                           (self.hot(r),))

    # -- watch targets and plants --------------------------------------------------------
    def targets(self) -> list[Target]:
        slug, allow = self.prefix.strip("/"), (f"{self.prefix}/",)
        out = [Target(f"{slug}-index", self.path(""), 1, allow, ("/ad/",))]
        for fid, pages in self.boards.items():
            out += [Target(f"{slug}-board{fid}-p{n}", b.key, 1, allow, ("/ad/",))
                    for n, b in enumerate(pages, start=1)]
        return out

    def plant(self, kind: str, r: int, rng: random.Random) -> list[Truth]:
        if kind == "section_closed":
            return self._close(r, rng)
        free = [d for d in self.free(r) if d.seq >= 0]
        if kind == "edited":
            free = [d for d in free if len(d.paras) > 3]
            return self.edit(rng.choice(free), r, rng) if free else []
        if not free or not self.book.has(kind, self.lang, self.group):
            return []
        doc = rng.choice(free)
        notice = self.book.pick(kind, self.lang, self.group, rng, THREAD_WORDS) or ""
        self.fate_kind[doc.key] = kind
        how = "notice" if self.discuz or kind == "censored" else "notice404"
        return [self.remove(doc, r, kind, how, notice)]

    def _close(self, r: int, rng: random.Random) -> list[Truth]:
        """Close one board (never the last open one): notice or 404 on all its pages."""
        open_now = [fid for fid in self.open_boards(r)
                    if not self.boards[fid][0].fate.planned]
        if len(self.open_boards(r)) < 2 or not open_now:
            return []
        fid = rng.choice(open_now)
        if rng.random() < 0.5:
            how, notice = "notice", self.book.pick("section_closed", self.lang, "forum", rng)
        else:
            how, notice = "404", ""
        return [self.remove(b, r, "section_closed", how, notice or "")
                for b in self.boards[fid]]
