"""The viewer's side-by-side comparison data (reports/compare.py): pure, over extracted pages."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from diffing.results import Block, PageLink
from reports.compare import _group_rows, compare_pages, links_diff, words_diff


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


def _naive_pairing(old, new, pairs):
    """Each old block takes the first unused new block detection paired it with."""
    used, out = set(), []
    for ob in old:
        j = next((j for j, nb in enumerate(new) if j not in used and (ob, nb) in pairs),
                 None)
        if j is not None:
            used.add(j)
        out.append(j)
    return out


def _block(text: str) -> Block:
    return Block(text, "body>p", 0.0, False)


_TEXTS = st.sampled_from(["a", "b", "c", "d", "a b", "c d"])


@given(old=st.lists(_TEXTS, max_size=12), new=st.lists(_TEXTS, max_size=12),
       pairs=st.sets(st.tuples(_TEXTS, _TEXTS), max_size=8))
def test_changed_rows_pair_blocks_as_detection_paired_them(old, new, pairs) -> None:
    """A run of differing blocks: the rows pair each old block with the first unused new
    block detection paired it with (looked up by text, so a run of thousands of blocks
    costs no product of its sides), and every other block is removed or added."""
    rows = _group_rows([_block(t) for t in old], [_block(t) for t in new], pairs,
                       set(old), set(new), set())
    expected = _naive_pairing(old, new, pairs)
    changed = [r for r in rows if r.op == "changed"]
    want = [words_diff(o, new[j]) for o, j in zip(old, expected, strict=True) if j is not None]
    assert [(r.old, r.new) for r in changed] == want
    assert [r.op for r in rows[:len(old)]] == ["removed" if j is None else "changed"
                                               for j in expected]
    assert len(rows) == len(old) + len(new) - len(changed)
