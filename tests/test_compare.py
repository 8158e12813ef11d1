"""The viewer's side-by-side comparison data (reports/compare.py): pure, over extracted pages."""

from __future__ import annotations

from diffing.results import PageLink
from reports.compare import compare_pages, links_diff


def links(*urls: str) -> list[PageLink]:
    return [PageLink(u, f"link {i}", i, True, "body>p") for i, u in enumerate(urls)]


def test_links_diff_ignores_session_tokens_and_learned_parameters() -> None:
    old = links("http://h/list.html?_vt=aaaa", "http://h/a.html?PHPSESSID=1", "http://h/gone",
                "mailto:x@example.org")
    new = links("http://h/list.html?_vt=bbbb", "http://h/a.html?PHPSESSID=2",
                "mailto:x@example.org", "http://h/new")
    removed, added = links_diff(old, new, drop={"_vt"})
    assert [lk.url for lk in removed] == ["http://h/gone"]
    assert [lk.url for lk in added] == ["http://h/new"]
    # without the learned parameter the changed token is a removal and an addition
    removed, added = links_diff(old, new)
    assert [lk.url for lk in removed] == ["http://h/list.html?_vt=aaaa", "http://h/gone"]


def test_links_diff_counts_duplicates() -> None:
    removed, added = links_diff(links("http://h/x", "http://h/x"), links("http://h/x"))
    assert [lk.position for lk in removed] == [1] and added == ()


def test_compare_pages_reports_the_removed_paragraph_and_link() -> None:
    para = "This paragraph about the procurement plan was removed by the editors."
    old = (f"<main><h1>Title</h1><p>{para}</p><p>Views: 12</p>"
           "<a href='/a?_vt=1'>A</a><a href='/b'>B</a></main>")
    new = "<main><h1>Title</h1><p>Views: 40</p><a href='/a?_vt=2'>A</a></main>"
    cmp = compare_pages(old, new, "http://h/p", "http://h/p", drop={"_vt"})
    assert cmp.substantive == (para,)
    assert [lk.url for lk in cmp.links_removed] == ["http://h/b"]
