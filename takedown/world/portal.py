"""List-driven sites: a government news portal (one time-ordered paginated list,
``list.html``, ``list_2.html``… or ``list?page=N``) and a news site (sections with
``?page=N``, session ids in every link, a clock, adverts).  New articles arrive at the top
every round, so entries shift between pages and fall off the end; article pages carry a
date, a view counter and a rotating related / most-read box.

They plant `removed` (404, 410, soft 404, redirect home), `censored` (HTTP 451),
`delisted` (an entry dropped from the middle of the list, its page still serving) and
`edited` (paragraphs cut).  Imports the stdlib, `takedown.world` and
`takedown.demo.server` (replies).
"""

from __future__ import annotations

import random

from takedown.demo.server import Reply
from takedown.world import texts
from takedown.world.base import Doc, Site, Target, Truth, html_reply
from takedown.world.markup import (
    Entry,
    render_article,
    render_list,
    render_notice,
    render_pager,
    render_widget,
)


class PortalSite(Site):
    """A government portal: one paginated news list."""

    kinds = ("removed", "censored", "delisted", "edited")
    section_names = ("news",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        rng = self.rng
        self.per_page = rng.randint(3, 4) if self.small else rng.randint(10, 20)
        self.pages = 2 if self.small else rng.randint(3, 4)
        self.query_pages = rng.random() < 0.5
        self.sections: dict[str, list[Doc]] = {}
        for name in self.section_names:
            self.sections[name] = self._fill(name)

    # -- content -------------------------------------------------------------------------
    def _fill(self, section: str) -> list[Doc]:
        rng, docs = self.rng, []
        born = -self.per_page * self.pages
        for i in range(self.per_page * self.pages + rng.randint(0, 2)):
            docs.append(self._doc(section, min(0, born + i), i))
        for r in range(1, self.rounds):
            for _ in range(rng.choice([0, 0, 1]) if self.small else rng.randint(1, 4)):
                docs.append(self._doc(section, r, len(docs)))
        return docs

    def _doc(self, section: str, born: int, seq: int) -> Doc:
        rng = self.rng
        day = self.date(born)
        key = self.path(f"art/{day.year}/{day.month}/{day.day}/art_{rng.randrange(100, 999)}_"
                        f"{rng.randrange(10**4, 10**5)}.html")
        paras = [texts.paragraph(rng, self.lang) for _ in range(rng.randint(3, 7))]
        doc = Doc(key, texts.title(rng, self.lang), paras, born, section, seq)
        self.docs[key] = doc
        return doc

    def ordered(self, section: str, r: int) -> list[Doc]:
        """The list of *section* at round *r*, newest first, cut to the pages shown."""
        live = [d for d in self.sections[section] if d.listed(r)]
        live.sort(key=lambda d: (d.born, d.seq), reverse=True)
        return live[: self.per_page * self.pages]

    def shown(self, r: int) -> list[Doc]:
        return [d for s in self.sections for d in self.ordered(s, r)]

    # -- URLs ----------------------------------------------------------------------------
    def list_key(self, section: str, n: int) -> str:
        base = "list" if section == "news" else f"{section}/"
        if self.query_pages:
            return self.path(base) + (f"?page={n}" if n > 1 else "")
        stem = f"{base}index" if base.endswith("/") else base
        return self.path(f"{stem}.html" if n == 1 else f"{stem}_{n}.html")

    def list_keys(self) -> dict[str, tuple[str, int]]:
        return {self.list_key(s, n): (s, n) for s in self.sections
                for n in range(1, self.pages + 1)}

    # -- pages ---------------------------------------------------------------------------
    def route(self, r: int, key: str) -> Reply | None:
        where = self.list_keys().get(key)
        if where is not None:
            return html_reply(self.list_page(r, *where))
        doc = self.docs.get(key)
        if doc is None or doc.born > r:
            return None
        if doc.down(r):
            return self.down_reply(doc, r, lambda text: self.doc_page(r, doc, text))
        return html_reply(self.doc_page(r, doc))

    def home(self, r: int) -> str:
        names = self.look(r)[1]
        latest = [Entry(self.link(d.href(r), r), d.title) for d in self.shown(r)[:3]]
        main = render_list(self.look(r)[0], names, latest)
        return self.render(r, self.path(""), self.name, main)

    def nav(self, r: int) -> list[tuple[str, str]]:
        return super().nav(r) + [(self.link(self.list_key(s, 1), r), s) for s in self.sections]

    def list_page(self, r: int, section: str, n: int) -> str:
        skin, names = self.look(r)
        docs = self.ordered(section, r)[(n - 1) * self.per_page: n * self.per_page]
        entries = [Entry(self.link(d.href(r), r), d.title,
                         texts.date_text(self.date(d.born), skin.date_style)) for d in docs]
        pager = render_pager(names, [(self.link(self.list_key(section, i), r), str(i))
                                     for i in range(1, self.pages + 1)])
        main = f"<h2>{section}</h2>\n{render_list(skin, names, entries)}\n{pager}"
        return self.render(r, self.list_key(section, n), section, main, self.side_boxes(r))

    def side_boxes(self, r: int) -> tuple[str, ...]:
        """A most-read box of random listed articles: rotates every round."""
        rng = self.noise(r, "most-read")
        pool = self.shown(r)
        picks = rng.sample(pool, min(3, len(pool)))
        heading = "热点排行" if self.lang == "zh" else "Most read"
        return (render_widget(self.look(r)[1], heading,
                              [(self.link(d.href(r), r), d.title) for d in picks]),)

    def doc_page(self, r: int, doc: Doc, notice: str | None = None) -> str:
        skin, names = self.look(r)
        views = self.noise(r, "views", doc.key).randrange(100, 100000)
        date = texts.date_text(self.date(doc.born), skin.date_style)
        meta = (f"发布时间：{date}  浏览次数：{views}" if self.lang == "zh"
                else f"Published {date} · {views} views")
        if notice is not None:
            main = render_notice(names, notice)
        else:
            main = render_article(skin, names, doc.title, meta, doc.paras_at(r))
        return self.render(r, doc.key, doc.title, main, self.side_boxes(r))

    # -- watch targets and plants --------------------------------------------------------
    def targets(self) -> list[Target]:
        allow = (f"{self.prefix}/",)
        deny = ("/ad/",)
        slug = self.prefix.strip("/")
        out = [Target(f"{slug}-home", self.path(""), 1, allow, deny)]
        for key, (section, n) in self.list_keys().items():
            out.append(Target(f"{slug}-{section}-p{n}", key, 1, allow, deny))
        return out

    def plant(self, kind: str, r: int, rng: random.Random) -> list[Truth]:
        free = self.free(r)
        if kind == "delisted":
            return self._delist(r, rng)
        if kind == "edited":
            free = [d for d in free if len(d.paras) > 3]
            return self.edit(rng.choice(free), r, rng) if free else []
        if not free:
            return []
        doc = rng.choice(free)
        if kind == "removed":
            return [self.remove(doc, r, kind, self.down_how(rng))]
        if kind == "censored":
            return [self.remove(doc, r, kind, "451")]
        return []

    def _delist(self, r: int, rng: random.Random) -> list[Truth]:
        """Drop an entry from the middle of a list: newer and older entries stay."""
        for section in rng.sample(list(self.sections), len(self.sections)):
            listed = self.ordered(section, r - 1)
            middle = [d for d in listed[1:-3] if not d.fate.planned]
            if middle:
                doc = rng.choice(middle)
                doc.fate.delisted_at = r
                return [Truth(doc.key, "delisted", r, f"dropped from {section}")]
        return []

    def move_one(self, r: int, rng: random.Random) -> Doc | None:
        """Noise: an article moves (301) to a new URL with the same content."""
        free = self.free(r)
        if not free:
            return None
        doc = rng.choice(free)
        doc.fate.moved_at, doc.fate.moved_to = r, doc.key.replace("/art/", "/archive/")
        return doc


class NewsSite(PortalSite):
    """A news site: sections paged with ``?page=N``, session ids in links, adverts."""

    archetype = "news"

    section_names = ("world", "business", "local")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sid = self.rng.choice(["sid", "PHPSESSID", "sessionid", "sess_token"])
        self.query_pages = True
        if self.small:  # two sections are enough for a small world
            self.sections.pop("local")

    def _doc(self, section: str, born: int, seq: int) -> Doc:
        doc = super()._doc(section, born, seq)
        del self.docs[doc.key]
        day = self.date(born)
        doc.key = self.path(f"{section}/{day:%Y/%m/%d}/{texts.token(self.rng, 10)}.html")
        self.docs[doc.key] = doc
        return doc

    def move_one(self, r: int, rng: random.Random) -> Doc | None:
        doc = super().move_one(r, rng)
        if doc is not None:
            doc.fate.moved_to = doc.key.replace(".html", "-1.html")
        return doc
