"""What every generated site shares: documents and their fates, ground-truth records, watch
targets, and `Site`, the base class of the archetypes (skins per round, chrome noise, the
site's own not-found page, and the replies of a page that went down).

A `Doc` is any page with content (article, thread, post, list page of a board or account);
its `Fate` says from which round it is down and how, when it left its lists, lost
paragraphs or moved.  A site answers ``reply(round, key)`` where *key* is the path with its
query sorted and session parameters dropped.  Imports the stdlib, `takedown.demo.server`
(the loopback server's `Reply`) and `takedown.world`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from takedown.demo.server import Reply
from takedown.world import texts
from takedown.world.markup import (
    Chrome,
    Skin,
    bare_page,
    draw_skin,
    esc,
    page,
    render_notice,
    restyle,
)
from takedown.world.notices import NoticeBook

HTML = "text/html; charset=utf-8"
DOWN_HOWS = ("404", "410", "soft404", "home", "451", "notice", "notice404", "bare")


@dataclass
class Fate:
    """What happens to a page; rounds are None when it never happens."""

    at: int | None = None  # from this round the page is down ...
    how: str = ""  # ... answering one of DOWN_HOWS
    notice: str = ""
    delisted_at: int | None = None
    edited_at: int | None = None
    cut: tuple[int, ...] = ()  # indices of the paragraphs an edit removes
    moved_at: int | None = None
    moved_to: str = ""

    @property
    def planned(self) -> bool:
        return any(x is not None for x in (self.at, self.delisted_at, self.edited_at,
                                           self.moved_at))


@dataclass
class Doc:
    """A page with content; `born` is the first round it exists (≤ 0: from the start)."""

    key: str
    title: str
    paras: list[str]
    born: int
    owner: str = ""
    seq: int = 0
    fate: Fate = field(default_factory=Fate)

    def down(self, r: int) -> bool:
        return self.fate.at is not None and r >= self.fate.at

    def listed(self, r: int) -> bool:
        delisted = self.fate.delisted_at is not None and r >= self.fate.delisted_at
        return self.born <= r and not self.down(r) and not delisted

    def moved(self, r: int) -> bool:
        return self.fate.moved_at is not None and r >= self.fate.moved_at

    def href(self, r: int) -> str:
        return self.fate.moved_to if self.moved(r) else self.key

    def paras_at(self, r: int) -> list[str]:
        if self.fate.edited_at is None or r < self.fate.edited_at:
            return self.paras
        return [p for i, p in enumerate(self.paras) if i not in self.fate.cut]


@dataclass(frozen=True)
class Truth:
    """One planted takedown: the page (site-absolute key), its kind, the round it shows."""

    key: str
    kind: str
    round: int
    note: str = ""
    item: str = ""


@dataclass(frozen=True)
class Target:
    name: str
    key: str
    depth: int
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()


def html_reply(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"Content-Type": HTML, **(headers or {})}, body.encode("utf-8"))


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, {"Location": location, "Content-Type": HTML},
                 f'<a href="{esc(location)}">moved</a>'.encode())


class Site:
    """A generated site under ``prefix``; subclasses fill `docs` and answer `route`."""

    archetype = "portal"
    group = "portal"  # which platform's notices its pages show
    kinds: tuple[str, ...] = ()  # takedown kinds it can plant
    sid: str | None = None  # session parameter its links carry, if any

    def __init__(self, prefix: str, seed: int, rng: random.Random, lang: str, scale: str,
                 start: dt.date, book: NoticeBook, rounds: int) -> None:
        self.prefix, self.seed, self.rng, self.lang = prefix, seed, rng, lang
        self.small, self.start, self.book, self.rounds = scale == "small", start, book, rounds
        self.skin = draw_skin(rng, lang)
        self.later = restyle(rng, self.skin)
        self.change_at: int | None = None
        self.soft404 = rng.random() < 0.5
        self.docs: dict[str, Doc] = {}
        self.name = texts.site_name(rng, lang, self.archetype)

    # -- per-round look and noise ------------------------------------------------------
    def noise(self, r: int, *key: object) -> random.Random:
        """A private RNG of this site, round and key: the same answer on every retry."""
        return random.Random("|".join(map(str, (self.seed, self.prefix, r, *key))))

    def look(self, r: int) -> tuple[Skin, dict[str, str]]:
        """The skin of round *r* (after the template change, if any) and its A or B names."""
        skin = self.later if self.change_at is not None and r >= self.change_at else self.skin
        if skin.alt is not None and self.noise(r, "ab").random() < 0.5:
            return skin, skin.alt
        return skin, skin.names

    def link(self, key: str, r: int) -> str:
        """A link as the site prints it: with this round's session id when it uses one."""
        if self.sid is None:
            return key
        sep = "&" if "?" in key else "?"
        return f"{key}{sep}{self.sid}={texts.token(self.noise(r, 'sid'), 16)}"

    def path(self, rest: str) -> str:
        return f"{self.prefix}/{rest}"

    def date(self, born: int) -> dt.date:
        return self.start + dt.timedelta(days=born)

    def chrome(self, r: int, key: str, widgets: tuple[str, ...] = ()) -> Chrome:
        rng = self.noise(r, "chrome", key)
        names = self.look(r)[1]
        clock = f"{self.date(r).isoformat()} {rng.randrange(24):02d}:{rng.randrange(60):02d}"
        ads = tuple(self._ad(rng, names) for _ in range(rng.randint(0, 2)))
        return Chrome(self.name, self.link(self.path(""), r), tuple(self.nav(r)), clock,
                      texts.token(rng, 8), ads, widgets)

    def _ad(self, rng: random.Random, names: dict[str, str]) -> str:
        ad_id = rng.randrange(10**6)
        href = (self.path(f"ad/click?id={ad_id}") if rng.random() < 0.5
                else f"http://ads.example.invalid/c?id={ad_id}")
        word = "广告" if self.lang == "zh" else "Advertisement"
        return f'<div class="{esc(names["ad"])}"><a href="{esc(href)}">{word} #{ad_id}</a></div>'

    def nav(self, r: int) -> list[tuple[str, str]]:
        return [(self.link(self.path(""), r), "首页" if self.lang == "zh" else "Home")]

    def render(self, r: int, key: str, title: str, main: str,
               widgets: tuple[str, ...] = ()) -> str:
        skin, names = self.look(r)
        return page(skin, names, self.chrome(r, key, widgets), title, main)

    # -- not found, down pages ----------------------------------------------------------
    def not_found_page(self, r: int, key: str) -> str:
        text = ("您访问的页面不存在或已删除" if self.lang == "zh"
                else "Sorry, we couldn't find that page.")
        names = self.look(r)[1]
        return self.render(r, key, "404", render_notice(names, text))

    def not_found(self, r: int, key: str) -> Reply:
        """Answer for a path the site does not have: its not-found page, 200 on soft-404
        sites."""
        return html_reply(self.not_found_page(r, key), 200 if self.soft404 else 404)

    def down_reply(self, doc: Doc, r: int, chrome_notice: Callable[[str], str]) -> Reply:
        """The answer of a page that went down; *chrome_notice* renders a notice inside
        the page's full chrome."""
        how, fate = doc.fate.how, doc.fate
        if how in {"404", "410"}:
            return html_reply(self.not_found_page(r, doc.key), int(how))
        if how == "soft404":
            return html_reply(self.not_found_page(r, doc.key), 200)
        if how == "home":
            return redirect(self.path(""))
        if how == "451":
            return html_reply(bare_page("451 Unavailable For Legal Reasons",
                                        fate.notice or "451 Unavailable For Legal Reasons"), 451)
        if how == "bare":
            return html_reply(bare_page(fate.notice[:20], fate.notice))
        return html_reply(chrome_notice(fate.notice), 404 if how == "notice404" else 200)

    # -- what subclasses provide ---------------------------------------------------------
    def route(self, r: int, key: str) -> Reply | None:
        raise NotImplementedError

    def targets(self) -> list[Target]:
        raise NotImplementedError

    def shown(self, r: int) -> list[Doc]:
        """Documents reachable from the site's lists at round *r*."""
        raise NotImplementedError

    def plant(self, kind: str, r: int, rng: random.Random) -> list[Truth]:
        raise NotImplementedError

    # -- shared helpers ------------------------------------------------------------------
    def reply(self, r: int, key: str) -> Reply:
        if key == self.path(""):
            return html_reply(self.home(r))
        if key.startswith(self.path("ad/")):  # an advert's landing page: always there
            return html_reply(bare_page("Ad", f"Advertisement {key.rpartition('=')[2]}"))
        doc = self.docs.get(key)
        if doc is None:
            moved = next((d for d in self.docs.values() if d.fate.moved_to == key), None)
            if moved is not None and moved.moved(r):
                return html_reply(self.doc_page(r, moved))
        elif doc.moved(r):
            return redirect(doc.fate.moved_to, 301)
        answer = self.route(r, key)
        return answer if answer is not None else self.not_found(r, key)

    def home(self, r: int) -> str:
        raise NotImplementedError

    def doc_page(self, r: int, doc: Doc) -> str:
        raise NotImplementedError

    def free(self, r: int, pool: list[Doc] | None = None) -> list[Doc]:
        """Documents without a fate that were listed in the round before *r*."""
        pool = self.shown(r - 1) if pool is None else pool
        return [d for d in pool if not d.fate.planned]

    def down_how(self, rng: random.Random) -> str:
        """How a plain removal answers: 404, 410, a soft 404, or a redirect home."""
        hows = ["404", "410", "home"] + (["soft404"] if self.soft404 else [])
        return rng.choice(hows)

    def remove(self, doc: Doc, r: int, kind: str, how: str, notice: str = "") -> Truth:
        doc.fate.at, doc.fate.how, doc.fate.notice = r, how, notice
        return Truth(doc.key, kind, r, f"{how}: {notice}" if notice else how)

    def edit(self, doc: Doc, r: int, rng: random.Random) -> list[Truth]:
        """Cut one or two substantive paragraphs (never the first), keeping three."""
        spare = len(doc.paras) - 3
        if spare < 1:
            return []
        cut = tuple(sorted(rng.sample(range(1, len(doc.paras)), min(spare, rng.randint(1, 2)))))
        doc.fate.edited_at, doc.fate.cut = r, cut
        return [Truth(doc.key, "edited", r, f"paragraphs {list(cut)} cut")]
