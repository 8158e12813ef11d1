"""Block diff (diffing/text.py): real labelled page pairs, text-diff vectors, hand-made
cases for each rule, and Hypothesis properties.

Real data is read in place from ``../shared/realdata`` and skipped when absent:
EDGI's six analyst-labelled federal page pairs (edgi-govdata-archiving/
web-monitoring-processing, GPL-3.0), web-monitoring-diff's double-encoded FEMA pair,
changedetection.io's line-diff expectation (Apache-2.0) and diff-match-patch's diff_main
vectors (Apache-2.0).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter

import pytest
from conftest import REALDATA
from hypothesis import given, settings
from hypothesis import strategies as st

from diffing.extract import Block, extract
from diffing.results import Change, DiffResult
from diffing.text import blocks_diff, substantive_removals
from diffing.volatile import fix_mojibake, mask

EDGI = REALDATA / "edgi-web-monitoring-processing" / "archives"
VERSIONS = REALDATA / "web-monitoring-diff" / "versions"
CHANGEDETECTION = REALDATA / "changedetection-diff-text"
DMP = REALDATA / "diff-match-patch-vectors" / "dmp_python3_test_vectors.json"


def _removals(old: list[Block], new: list[Block]) -> tuple[Change, ...]:
    return substantive_removals(blocks_diff(old, new))


# --- EDGI labelled pairs ----------------------------------------------------------------------

# name -> a phrase of the text really removed (None: the pair is noise, nothing may be flagged)
EDGI_PAIRS = {
    "truepos-dataset-removal": "View this Dataset",  # the NWS radar dataset link, withdrawn
    "truepos-image-removal": "announced the establishment of the U.S.-China Clean Energy",
    "truepos-major-changes": "The president's Climate Action Plan, which calls for",
    "falsepos-footer": None,  # rotating featured stories in a carousel
    "falsepos-num-views": None,  # date line and "Number of views (4099)" -> (4116)
    "falsepos-small-changes": None,  # a nav label lengthened, one word added
}


def _edgi(name: str, side: str):
    html = (EDGI / f"{name}-{side}.html").read_bytes().decode("utf-8", "replace")
    return extract(html, "https://www.example.gov/page")


@pytest.mark.skipif(not EDGI.is_dir(), reason=f"realdata not found at {EDGI}")
@pytest.mark.parametrize(("name", "phrase"), EDGI_PAIRS.items(), ids=EDGI_PAIRS.keys())
def test_edgi_labelled_pairs(name: str, phrase: str | None) -> None:
    found = _removals(list(_edgi(name, "a").blocks), list(_edgi(name, "b").blocks))
    if phrase is None:
        assert found == ()
    else:
        assert any(phrase in c.old for c in found), [c.old for c in found]


@pytest.mark.skipif(not EDGI.is_dir(), reason=f"realdata not found at {EDGI}")
def test_edgi_dataset_removal_names_the_lost_link() -> None:
    name = "truepos-dataset-removal"
    (change,) = _removals(list(_edgi(name, "a").blocks), list(_edgi(name, "b").blocks))
    assert change.lost_links == ("http://catalog.data.gov/dataset/noaa-national-weather-"
                                 "service-national-mosaic-of-weathe-radar",)


@pytest.mark.skipif(not EDGI.is_dir(), reason=f"realdata not found at {EDGI}")
def test_edgi_rotation_is_reported_as_changed_slots() -> None:
    result = blocks_diff(_edgi("falsepos-footer", "a").blocks, _edgi("falsepos-footer", "b").blocks)
    assert result.removed == ()
    assert any(c.old.startswith("The golden-cheeked warbler") for c in result.changed)


# --- encoding: web-monitoring-diff pair A ------------------------------------------------------

FEMA_BEFORE = "f2d5d701-707a-42e0-8881-653346d01e0a"
FEMA_AFTER = "fc74d750-c651-46b7-bf74-434ad8c62e04"  # double-encoded UTF-8


def _fema(name: str, spoil=None):
    html = (VERSIONS / f"{name}.html").read_text(encoding="utf-8")
    return extract(spoil(html) if spoil else html, "https://www.fema.gov/hurricane-maria")


# windows-1252 as browsers decode it (WHATWG): the five bytes cp1252 leaves undefined map to
# the C1 controls of the same value, as in latin-1.
CP1252_WHATWG = {code: bytes([code]).decode("cp1252", errors="ignore") or chr(code)
                 for code in range(0x80, 0xA0)}


@pytest.mark.skipif(not VERSIONS.is_dir(), reason=f"realdata not found at {VERSIONS}")
@pytest.mark.parametrize("codec", ["latin-1", "windows-1252"])
def test_double_encoding_alone_changes_nothing(codec: str) -> None:
    def spoil(html: str) -> str:
        text = html.encode("utf-8").decode("latin-1")
        return text.translate(CP1252_WHATWG) if codec == "windows-1252" else text

    before = _fema(FEMA_BEFORE)
    assert "Español" in before.main_text + " ".join(lk.text for lk in before.links)
    spoiled = _fema(FEMA_BEFORE, spoil)
    assert blocks_diff(before.blocks, spoiled.blocks).change_count == 0
    assert [lk.text for lk in spoiled.links] == [lk.text for lk in before.links]


@pytest.mark.skipif(not VERSIONS.is_dir(), reason=f"realdata not found at {VERSIONS}")
def test_fema_pair_flags_only_the_real_update() -> None:
    before, after = _fema(FEMA_BEFORE), _fema(FEMA_AFTER)
    raw_after = (VERSIONS / f"{FEMA_AFTER}.html").read_text(encoding="utf-8")
    assert "EspaÃ±ol" in raw_after and "Español" not in raw_after
    result = blocks_diff(before.blocks, after.blocks)
    # Paragraphs with non-ASCII text that the update did not touch are not diffed ...
    count_before = Counter(b.key for b in before.blocks)
    count_after = Counter(b.key for b in after.blocks)
    untouched = [b for b in before.blocks if not b.text.isascii()
                 and count_before[b.key] <= count_after[b.key]]
    assert len(untouched) >= 3
    olds = {c.old for c in result.changes}
    assert not olds & {b.text for b in untouched}
    # ... and no change is an encoding difference only.
    assert not [c for c in result.changed if fix_mojibake(c.new) == c.old]
    # Bound: the real 2017-10-03 -> 10-05 update replaced status bullets and embedded
    # tweets: 18 blocks were removed outright (hand-checked: figures such as "USS Wasp
    # scheduled to arrive Tuesday", "900 sandbags", two FEMA tweets). Of the page's 329
    # main blocks, 41 hold non-ASCII text; had the mojibake come through, each would have
    # become a change, so the removed+changed count would pass 60.
    assert len(result.removed) <= 20
    assert len(result.removed) + len(result.changed) <= 30


# --- text-diff vectors -------------------------------------------------------------------------

def _lines(name: str) -> list[Block]:
    text = (CHANGEDETECTION / name).read_text(encoding="utf-8")
    return [Block.of(line, path="body>pre") for line in text.splitlines() if line.strip()]


@pytest.mark.skipif(not CHANGEDETECTION.is_dir(), reason=f"realdata not found at {CHANGEDETECTION}")
@pytest.mark.parametrize("pair", ["before.txt -> after.txt", "before.txt -> after-2.txt"])
def test_changedetection_line_expectations(pair: str) -> None:
    expected = json.loads((CHANGEDETECTION / "expected.json").read_text(encoding="utf-8"))[pair]
    old_name, new_name = pair.split(" -> ")
    result = blocks_diff(_lines(old_name), _lines(new_name))
    assert [c.old for c in result.removed] == expected["removed"]
    # changedetection reports "ok" changed to the two lines "xok" and "next-x-ok"; a block
    # diff pairs "ok" with its closest line and reports the other as added.
    rest: set[str] = set()
    for change in expected.get("changed", []):
        (paired,) = [c for c in result.changed if c.old == change["from"]]
        assert paired.new in change["to"]
        rest |= set(change["to"]) - {paired.new}
    assert len(result.changed) == len(expected.get("changed", []))
    assert {c.new for c in result.added} == set(expected["added"]) | rest


@pytest.mark.skipif(not DMP.is_file(), reason=f"realdata not found at {DMP}")
def test_dmp_vectors_characters_as_blocks() -> None:
    """Characters as blocks, fuzzy pairing off: what is removed is exactly what
    diff-match-patch's expected diff deletes and does not re-insert elsewhere."""
    vectors = json.loads(DMP.read_text(encoding="utf-8"))["diff_main"]
    for vector in vectors:
        old = [Block.of(ch) for ch in vector["text1"] if mask(ch)]
        new = [Block.of(ch) for ch in vector["text2"] if mask(ch)]
        result = blocks_diff(old, new, fuzzy=1.01)
        deleted = Counter(mask(ch) for op, text in vector["expected"] if op == -1
                          for ch in text if mask(ch))
        inserted = Counter(mask(ch) for op, text in vector["expected"] if op == 1
                           for ch in text if mask(ch))
        assert Counter(mask(c.old) for c in result.removed) == deleted - inserted, vector


# --- hand-made cases ---------------------------------------------------------------------------

LONG = [
    "The municipal office reported deleting thirty items about integration.",
    "Residents were told to submit comments through the provincial portal.",
    "The regulation takes effect on the first day of next month for all agencies.",
    "Officials declined to say how many accounts had been closed this week.",
    "关于进一步做好军民融合宣传工作的通知全文如下",
]


def test_identical_pages_have_no_changes() -> None:
    blocks = [Block.of(t) for t in LONG]
    assert blocks_diff(blocks, blocks) == DiffResult(0, ())


def test_removed_paragraph_is_substantive() -> None:
    old = [Block.of(t) for t in LONG]
    (change,) = _removals(old, old[:2] + old[3:])
    assert change.old == LONG[2] and change.path == "body>p"


def test_edited_paragraph_is_changed_not_removed() -> None:
    old = [Block.of(t) for t in LONG]
    new = list(old)
    new[1] = Block.of(LONG[1].replace("provincial", "municipal"))
    result = blocks_diff(old, new)
    assert result.removed == () and len(result.changed) == 1
    assert result.changed[0].ratio >= 0.6


def test_moved_and_merged_blocks_are_not_removed() -> None:
    old = [Block.of(t) for t in LONG[:4]]
    moved = [old[3], old[0], old[1], old[2]]
    assert blocks_diff(old, moved).removed == ()
    merged = [old[0], Block.of(LONG[1] + " " + LONG[2] + " And a new closing sentence."), old[3]]
    assert _removals(old, merged) == ()


def test_volatile_changes_are_not_changes() -> None:
    old = [Block.of(LONG[0]), Block.of("Wednesday, February 01, 2017"),
           Block.of("Number of views (4099)/Comments (0)"),
           Block.of("发布时间：2018-06-20 阅读 12")]
    new = [Block.of(LONG[0]), Block.of("Thursday, February 02, 2017"),
           Block.of("Number of views (4116)/Comments (2)"),
           Block.of("发布时间：2018-06-21 阅读 99")]
    assert blocks_diff(old, new).change_count == 0


SUBSTANTIVE = {
    "long-english": ("A sentence long enough to matter to anyone.", 0.0, (), True),
    "short-english": ("Too short to matter", 0.0, (), False),
    "eight-cjk": ("军民融合相关内容", 0.0, (), True),
    "seven-cjk": ("军民融合相关内", 0.0, (), False),
    "volatile-only": ("2021-03-15 10:00 阅读 1234 评论 5", 0.0, (), False),
    "link-list-still-linked": ("Energy Systems Integration Facility", 1.0, (), False),
    "link-lost": ("View this Dataset", 1.0, ("http://catalog/x",), True),
    "link-lost-too-short": ("More", 1.0, ("http://catalog/x",), False),
    "link-lost-cjk": ("查看原文链接", 1.0, ("http://x/1",), True),
}


@pytest.mark.parametrize(("text", "share", "lost", "kept"), SUBSTANTIVE.values(),
                         ids=SUBSTANTIVE.keys())
def test_substantive_thresholds(text: str, share: float, lost: tuple, kept: bool) -> None:
    change = Change("removed", text, None, "body>p", None, share, lost)
    assert (substantive_removals(DiffResult.of([change])) == (change,)) is kept


def test_lost_links_are_links_gone_from_the_new_page() -> None:
    old = [Block.of("Report A", link_share=1.0, hrefs=("http://x/a",)),
           Block.of("Report B", link_share=1.0, hrefs=("http://x/b",))]
    new = [Block.of("Report B (PDF) — see report A there too", hrefs=("http://x/b",
                                                                       "http://x/a"))]
    result = blocks_diff(old, new)
    assert all(c.lost_links == () for c in result.removed)


SLOTS = itertools.count(100)


def _slot(text: str, path: str = "body>ul.slides>li>p", link: str = "") -> Block:
    """A block alone in its own slot (list item, card), optionally a title link."""
    hrefs, share = ((link,), 1.0) if link else ((), 0.0)
    return Block.of(text, path=path, slot=next(SLOTS), hrefs=hrefs, link_share=share)


CAPTIONS = ["The golden-cheeked warbler has been considered endangered since 1990.",
            "November is Manatee Awareness Month; manatees deserve to be celebrated.",
            "Spring is coming early in three quarters of national parks, a study says.",
            "Crab Orchard National Wildlife Refuge offers safe public use programs.",
            "Mingo National Wildlife Refuge manages more than twelve thousand acres.",
            "Recreational photography in Yukon Delta refuge can be amazing indeed."]


def test_rotation_in_repeated_slots_is_not_removal() -> None:
    intro = Block.of("Mission statement of the department, unchanged between captures.")
    old = [intro] + [_slot(t) for t in CAPTIONS[:3]]
    new = [intro] + [_slot(t) for t in CAPTIONS[3:]]
    result = blocks_diff(old, new)
    assert result.removed == () and len(result.changed) == 3
    assert substantive_removals(result) == ()


def test_pagination_shift_is_rotation() -> None:
    old = [_slot(t, "body>div.list>div.item") for t in CAPTIONS[:4]]
    new = [_slot(t, "body>div.list>div.item") for t in CAPTIONS[4:]] + old[:2]
    assert _removals(old, new) == ()


def test_list_that_only_shrinks_lost_an_item() -> None:
    old = [_slot(t) for t in CAPTIONS]
    (change,) = _removals(old, old[:2] + old[3:])
    assert change.old == CAPTIONS[2] and not change.entry_gone


def _card(n: int, title: str, summary: str) -> list[Block]:
    path = "body>div.list>div.card"
    return [Block.of("2018年6月13日", path=path + ">div.date", slot=n),
            Block.of(title, path=path + ">h4", slot=n, link_share=1.0,
                     hrefs=(f"http://x/s/{n}",)),
            Block.of(summary, path=path + ">p", slot=n)]


def test_list_entry_leaving_whole_is_for_the_listing_differs() -> None:
    # a card (date, title link, summary) gone from an account's article list: delisting,
    # not an edit of the list page; the listing and item differs report it
    cards = [_card(n, LONG[n][:30], LONG[n]) for n in range(4)]
    old = [b for card in cards for b in card]
    new = [b for card in cards[:1] + cards[2:] for b in card]
    result = blocks_diff(old, new)
    assert {c.old for c in result.removed} == {"2018年6月13日", LONG[1][:30], LONG[1]}
    # (which of the identical date lines counts as removed is arbitrary: dates are noise)
    assert all(c.entry_gone for c in result.removed if c.old != "2018年6月13日")
    assert substantive_removals(result) == ()


def test_link_scrubbed_from_an_entry_that_stays_is_an_edit() -> None:
    # EDGI's dataset removal: the highlight stays, its "View this Dataset" link goes
    cards = [_card(n, LONG[n][:30], LONG[n]) for n in range(3)]
    link = Block.of("View this Dataset", path="body>div.list>div.card>div.dataset-link",
                    slot=1, link_share=1.0, hrefs=("http://catalog/radar",))
    old = [b for card in cards for b in card] + [link]
    new = [b for card in cards for b in card]
    (change,) = _removals(old, new)
    assert change.old == "View this Dataset" and not change.entry_gone


def test_unbalanced_slot_refill_is_not_rotation() -> None:
    # five items gone, one short one in their place: a purge, not a carousel turning
    old = [_slot(t) for t in CAPTIONS[:5]]
    new = [_slot("A single new short item.")]
    assert len(_removals(old, new)) == 5


def test_rewritten_prose_is_not_rotation() -> None:
    old = [Block.of(t, path="body>div.article>p") for t in LONG[:3]]
    new = [old[0], Block.of(CAPTIONS[0], path="body>div.article>p"), old[2]]
    (change,) = _removals(old, new)
    assert change.old == LONG[1]


# --- properties ------------------------------------------------------------------------------

WORDS = st.sampled_from("energy climate water policy federal agency report program data "
                        "research national department public service health safety project "
                        "军民 融合 通知 删除 内容 网站".split())
SHORT = st.lists(WORDS, min_size=1, max_size=4).map(" ".join)
LONG_TEXT = st.lists(WORDS, min_size=6, max_size=14).map(" ".join)
PATHS = st.sampled_from(["body>p", "body>div>p", "body>ul>li"])
ANY_BLOCK = st.builds(Block.of, st.one_of(SHORT, LONG_TEXT), path=PATHS,
                      link_share=st.sampled_from([0.0, 0.0, 0.3, 1.0]),
                      hrefs=st.sampled_from([(), ("http://x/a",), ("http://x/b",)]),
                      slot=st.integers(-1, 3))
PAGE = st.lists(ANY_BLOCK, max_size=25)
LONG_PAGE = st.lists(st.builds(Block.of, LONG_TEXT), min_size=1, max_size=20,
                     unique_by=lambda b: b.key)


@given(PAGE)
def test_diff_of_a_page_with_itself_is_empty(page: list[Block]) -> None:
    assert blocks_diff(page, page).change_count == 0


@given(PAGE, PAGE)
def test_removed_keys_are_surplus_keys_of_the_old_page(a: list[Block], b: list[Block]) -> None:
    surplus = Counter(x.key for x in a) - Counter(x.key for x in b)
    removed = Counter(mask(c.old) for c in blocks_diff(a, b).removed)
    assert not removed - surplus  # a key removed n times occurs n more times in a than in b


@given(LONG_PAGE, PAGE)
def test_removed_unique_key_is_in_a_and_not_in_b(a: list[Block], b: list[Block]) -> None:
    b_keys = {x.key for x in b}
    a_keys = {x.key for x in a}
    for change in blocks_diff(a, b).removed:
        assert mask(change.old) in a_keys and mask(change.old) not in b_keys


@given(PAGE, PAGE)
def test_every_change_comes_from_its_side(a: list[Block], b: list[Block]) -> None:
    a_texts, b_texts = {x.text for x in a}, {x.text for x in b}
    for change in blocks_diff(a, b).changes:
        assert change.old is None or change.old in a_texts
        assert change.new is None or change.new in b_texts


@given(LONG_PAGE, st.data())
def test_removing_one_long_block_is_exactly_that_removal(page: list[Block], data) -> None:
    k = data.draw(st.integers(0, len(page) - 1))
    found = _removals(page, page[:k] + page[k + 1:])
    assert [c.old for c in found] == [page[k].text]


@settings(max_examples=60)
@given(PAGE, st.randoms(use_true_random=False))
def test_reordering_blocks_removes_nothing(page: list[Block], rnd) -> None:
    shuffled = list(page)
    rnd.shuffle(shuffled)
    assert _removals(page, shuffled) == ()
    assert blocks_diff(page, shuffled).removed == ()


# Texts whose key is the same whatever whole number fills them in (counters, bare numbers):
# refilled with numbers of other lengths, their shapes differ while their keys do not, which
# is where the diff falls back from shapes to keys.
TICKING = st.sampled_from(["阅读 {}", "Views: {}", "{} comments", "第{}页",
                           "Chapter {}: the {} shadows", "共{}条回复 · 浏览 {}"])
NUMBERS = st.lists(st.integers(0, 10**7), min_size=2, max_size=2)
TICKING_PAGE = st.lists(st.one_of(
    st.tuples(TICKING, NUMBERS),
    st.tuples(LONG_TEXT, st.just([])),
), max_size=25)


def _fill(page: list[tuple[str, list[int]]], numbers: list[list[int]]) -> list[Block]:
    return [Block.of(text.format(*n), path="body>ul>li" if n else "body>p", slot=k if n else -1)
            for k, ((text, _), n) in enumerate(zip(page, numbers, strict=True))]


@given(TICKING_PAGE, st.data())
def test_counters_that_ticked_to_any_length_are_not_changes(page, data) -> None:
    old = _fill(page, [n for _t, n in page])
    new = _fill(page, [data.draw(NUMBERS) if n else [] for _t, n in page])
    assert [b.key for b in old] == [b.key for b in new]  # the premise: keys unchanged
    assert blocks_diff(old, new).change_count == 0


@given(TICKING_PAGE, LONG_TEXT, st.data())
def test_a_removal_among_ticking_counters_is_found_alone(page, gone, data) -> None:
    old = _fill(page, [n for _t, n in page])
    new = _fill(page, [data.draw(NUMBERS) if n else [] for _t, n in page])
    at = data.draw(st.integers(0, len(old)))
    removed = Block.of(gone + " (withdrawn paragraph)")
    assert [c.old for c in _removals([*old[:at], removed, *old[at:]], new)] == [removed.text]


def test_a_diff_masks_only_the_blocks_whose_shape_changed() -> None:
    """Equal shapes (digits written 0) mean equal keys: a counter that ticked within its
    digit count is matched without masking, which is what keeps a 1 MB diff fast."""
    old = [Block.of(LONG[0]), Block.of("阅读 4099"), Block.of(LONG[1]), Block.of("Views: 99")]
    new = [Block.of(LONG[0]), Block.of("阅读 4116"), Block.of("Views: 100")]
    assert [c.old for c in _removals(old, new)] == [LONG[1]]
    assert [b.text for b in old + new if "key" in vars(b)] == [LONG[1], "Views: 99",
                                                               "Views: 100"]
