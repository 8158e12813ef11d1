"""Account-driven sites: a microblog (profile timelines ``u/<uid>``, posts ``<uid>/<mid>``
with a comment box whose visible count changes every round, relative times, hot topics)
and a WeChat-style official account (an article list ``mp/profile?__biz=…``, articles
``s?__biz=…&mid=…`` with read counts and a "more from this account" box of three random
other articles).

They plant `author_deleted` and `censored` (the platform's notice on its own or inside the
full page chrome), `account_suspended` (every page of one account's timeline shows the
notice; its posts either keep serving or show it too, each such URL its own takedown),
`removed` (a post answering 404) and, on the WeChat-style site, `edited`.
Imports the stdlib, `takedown.world` and `takedown.demo.server` (replies).
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

NOT_ACCOUNT = r"^(?!.*(帐号|账号|[Aa]ccount))"  # a post's own notice, not its account's


class AccountSite(Site):
    """Accounts, each a paginated newest-first list of posts."""

    n_accounts = (2, 3)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rng = self.rng
        self.per_page = rng.randint(3, 4) if self.small else rng.randint(8, 12)
        self.pages = 1 if self.small else 2
        count = self.n_accounts[0] if self.small else self.n_accounts[1]
        self.nicks: dict[str, str] = {}
        self.posts: dict[str, list[Doc]] = {}
        self.profiles: dict[str, list[Doc]] = {}
        self.suspended: set[str] = set()
        for _ in range(count):
            owner = self.new_owner()
            self.nicks[owner] = texts.nick(rng, self.lang) + str(rng.randrange(10, 99))
            self.profiles[owner] = [Doc(self.profile_key(owner, n), owner, [], -99, owner)
                                    for n in range(1, self.pages + 1)]
            self.posts[owner] = self._fill(owner)

    def _fill(self, owner: str) -> list[Doc]:
        rng, docs = self.rng, []
        for i in range(self.per_page * self.pages + rng.randint(0, 1)):
            docs.append(self._post(owner, -rng.randrange(1, 30), i))
        for r in range(1, self.rounds):
            for _ in range(rng.choice([0, 0, 1]) if self.small else rng.randint(0, 2)):
                docs.append(self._post(owner, r, len(docs)))
        return docs

    def _post(self, owner: str, born: int, seq: int) -> Doc:
        doc = Doc(self.post_key(owner), texts.title(self.rng, self.lang),
                  self.post_paras(), born, owner, seq)
        self.docs[doc.key] = doc
        return doc

    def ordered(self, owner: str, r: int) -> list[Doc]:
        live = [d for d in self.posts[owner] if d.listed(r)]
        live.sort(key=lambda d: (d.born, d.seq), reverse=True)
        return live[: self.per_page * self.pages]

    def shown(self, r: int) -> list[Doc]:
        return [d for o in self.posts if not self.profiles[o][0].down(r)
                for d in self.ordered(o, r)]

    # -- what subclasses provide ---------------------------------------------------------
    def new_owner(self) -> str:
        raise NotImplementedError

    def profile_key(self, owner: str, n: int) -> str:
        raise NotImplementedError

    def post_key(self, owner: str) -> str:
        raise NotImplementedError

    def post_paras(self) -> list[str]:
        raise NotImplementedError

    def post_main(self, r: int, doc: Doc, notice: str | None) -> tuple[str, tuple[str, ...]]:
        raise NotImplementedError

    # -- pages ---------------------------------------------------------------------------
    def route(self, r: int, key: str) -> Reply | None:
        for owner, pages in self.profiles.items():
            for n, prof in enumerate(pages, start=1):
                if prof.key == key:
                    return self._profile_reply(r, owner, n, prof)
        doc = self.docs.get(key)
        if doc is None or doc.born > r:
            return None
        if doc.down(r):
            return self.down_reply(doc, r, lambda text: self.doc_page(r, doc, text))
        return html_reply(self.doc_page(r, doc))

    def _profile_reply(self, r: int, owner: str, n: int, prof: Doc) -> Reply:
        if prof.down(r):
            names = self.look(r)[1]
            return self.down_reply(prof, r, lambda text: self.render(
                r, prof.key, self.nicks[owner], render_notice(names, text), self.boxes(r)))
        return html_reply(self.profile_page(r, owner, n))

    def home(self, r: int) -> str:
        skin, names = self.look(r)
        entries = [Entry(self.link(self.profile_key(o, 1), r), self.nicks[o])
                   for o in self.posts if not self.profiles[o][0].down(r)]
        return self.render(r, self.path(""), self.name, render_list(skin, names, entries),
                           self.boxes(r))

    def profile_page(self, r: int, owner: str, n: int) -> str:
        skin, names = self.look(r)
        chunk = self.ordered(owner, r)[(n - 1) * self.per_page: n * self.per_page]
        entries = [self._entry(r, d) for d in chunk]
        rng = self.noise(r, "followers", owner)
        head = (f"<h2>{self.nicks[owner]}</h2><p>{'粉丝' if self.lang == 'zh' else 'Followers'}"
                f" {rng.randrange(1000, 90000)}</p>")
        pager = render_pager(names, [(self.link(p.key, r), str(i))
                                     for i, p in enumerate(self.profiles[owner], start=1)])
        main = f"{head}\n{render_list(skin, names, entries)}\n{pager}"
        return self.render(r, self.profile_key(owner, n), self.nicks[owner], main,
                           self.boxes(r))

    def _entry(self, r: int, doc: Doc) -> Entry:
        rng = self.noise(r, "entry", doc.key)
        when = (texts.relative_time(rng, self.lang) if doc.born >= r - 1
                else texts.date_text(self.date(doc.born), self.look(r)[0].date_style))
        return Entry(self.link(doc.key, r), doc.title, f"{when} · {rng.randrange(0, 500)}")

    def boxes(self, r: int) -> tuple[str, ...]:
        """Hot topics: random ones every round, linking to a search page."""
        rng = self.noise(r, "topics")
        picks = texts.topics(rng, self.lang, 4)
        heading = "热门话题" if self.lang == "zh" else "Trending"
        return (render_widget(self.look(r)[1], heading,
                              [(self.path(f"search?q={t}"), f"#{t}#") for t in picks]),)

    def doc_page(self, r: int, doc: Doc, notice: str | None = None) -> str:
        main, widgets = self.post_main(r, doc, notice)
        return self.render(r, doc.key, doc.title, main, widgets)

    # -- watch targets and plants --------------------------------------------------------
    def targets(self) -> list[Target]:
        slug, allow, deny = self.prefix.strip("/"), (f"{self.prefix}/",), ("/search", "/ad/")
        out = [Target(f"{slug}-home", self.path(""), 1, allow, deny)]
        for i, pages in enumerate(self.profiles.values(), start=1):
            out += [Target(f"{slug}-acct{i}-p{n}", p.key, 1, allow, deny)
                    for n, p in enumerate(pages, start=1)]
        return out

    def free(self, r: int, pool: list[Doc] | None = None) -> list[Doc]:
        return [d for d in super().free(r, pool) if d.owner not in self.suspended]

    def how(self, rng: random.Random) -> str:
        return rng.choice(["bare", "notice"])

    def plant(self, kind: str, r: int, rng: random.Random) -> list[Truth]:
        if kind == "account_suspended":
            return self._suspend(r, rng)
        free = self.free(r)
        if kind == "edited":
            free = [d for d in free if len(d.paras) > 3]
            return self.edit(rng.choice(free), r, rng) if free else []
        if not free:
            return []
        doc = rng.choice(free)
        if kind == "removed":
            return [self.remove(doc, r, kind, "404")]
        notice = self.book.pick(kind, self.lang, self.group, rng, NOT_ACCOUNT)
        return [self.remove(doc, r, kind, self.how(rng), notice)] if notice else []

    def _suspend(self, r: int, rng: random.Random) -> list[Truth]:
        """One account's pages show the suspension notice; its posts too, or keep serving."""
        owners = [o for o in self.posts if o not in self.suspended]
        notice = self.book.pick("account_suspended", self.lang, self.group, rng)
        if len(owners) < 2 or notice is None:
            return []
        owner = rng.choice(owners)
        seen = {d.key for q in range(r) for d in self.ordered(owner, q)}
        posts = [d for d in self.posts[owner] if d.key in seen and not d.fate.planned]
        self.suspended.add(owner)
        how = self.how(rng)
        out = [self.remove(p, r, "account_suspended", how, notice) for p in self.profiles[owner]]
        if rng.random() < 0.5:
            out += [self.remove(d, r, "account_suspended", how, notice) for d in posts]
        return out


class MicroblogSite(AccountSite):
    archetype = "microblog"
    group = "microblog"
    kinds = ("author_deleted", "censored", "account_suspended", "removed")

    def new_owner(self) -> str:
        return str(self.rng.randrange(10**9, 10**10))

    def profile_key(self, owner: str, n: int) -> str:
        return self.path(f"u/{owner}" + (f"?page={n}" if n > 1 else ""))

    def post_key(self, owner: str) -> str:
        return self.path(f"{owner}/{texts.token(self.rng, 9)}")

    def post_paras(self) -> list[str]:
        return [texts.short_post(self.rng, self.lang)]

    def post_main(self, r: int, doc: Doc, notice: str | None) -> tuple[str, tuple[str, ...]]:
        skin, names = self.look(r)
        rng = self.noise(r, "post", doc.key)
        when = (texts.relative_time(rng, self.lang) if doc.born >= r - 1
                else texts.date_text(self.date(doc.born), skin.date_style))
        counts = f"{when} · ↻{rng.randrange(200)} ♥{rng.randrange(900)}"
        body = (render_notice(names, notice) if notice is not None
                else render_article(skin, names, doc.title, counts, doc.paras_at(r)))
        return f"{body}\n{self._comments(r, doc)}", self.boxes(r)

    def _comments(self, r: int, doc: Doc) -> str:
        """Comments of the post: a random number of them shows each round."""
        pool_rng = random.Random(f"{self.seed}|comments|{doc.key}")
        pool = [(texts.nick(pool_rng, self.lang), texts.comment(pool_rng, self.lang))
                for _ in range(12)]
        shown = self.noise(r, "comments", doc.key).sample(pool, self.noise(
            r, "ncomments", doc.key).randint(1, 10))
        return render_comments(self.look(r)[1], "评论" if self.lang == "zh" else "Comments",
                               shown)


class WechatSite(AccountSite):
    archetype = "wechat"
    group = "wechat"
    kinds = ("author_deleted", "censored", "account_suspended", "edited")
    n_accounts = (2, 2)

    def new_owner(self) -> str:
        return "Mz" + texts.token(self.rng, 10).upper()

    def profile_key(self, owner: str, n: int) -> str:
        return self.path(f"mp/profile?__biz={owner}" + (f"&page={n}" if n > 1 else ""))

    def post_key(self, owner: str) -> str:
        rng = self.rng
        return self.path(f"s?__biz={owner}&idx=1&mid={rng.randrange(10**9, 10**10)}"
                         f"&sn={texts.token(rng, 16)}")

    def post_paras(self) -> list[str]:
        return [texts.paragraph(self.rng, self.lang) for _ in range(self.rng.randint(3, 7))]

    def how(self, rng: random.Random) -> str:
        return "bare" if rng.random() < 0.7 else "notice"

    def post_main(self, r: int, doc: Doc, notice: str | None) -> tuple[str, tuple[str, ...]]:
        skin, names = self.look(r)
        rng = self.noise(r, "reads", doc.key)
        meta = (f"{self.nicks[doc.owner]} {texts.date_text(self.date(doc.born), skin.date_style)}"
                f" 阅读 {rng.randrange(100, 100000)} 在看 {rng.randrange(100)}")
        body = (render_notice(names, notice) if notice is not None
                else render_article(skin, names, doc.title, meta, doc.paras_at(r)))
        return body, (self._more(r, doc),)

    def _more(self, r: int, doc: Doc) -> str:
        """More from this account: three random other articles, redrawn every round."""
        pool = [d for d in self.posts[doc.owner] if d is not doc and d.born <= r
                and not d.down(r)]
        picks = self.noise(r, "more", doc.key).sample(pool, min(3, len(pool)))
        heading = "更多来自本公众号" if self.lang == "zh" else "More from this account"
        return render_widget(self.look(r)[1], heading,
                             [(self.link(d.href(r), r), d.title) for d in picks])
