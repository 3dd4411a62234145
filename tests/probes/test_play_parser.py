"""The Play page parser (probes.store._play) on real pages of 2018, 2019, 2021, 2022 and
2025, on pages derived from them, and on arbitrary or mutated input (hypothesis): it never
raises, never hangs, and names a version only when the page holds one."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probes.store._play import clean_notes, iter_blocks, parse_play_page

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "play"
PAGE_2018 = (FIXTURES / "2018-huoyinghui-ds7-function-form.html").read_text("utf-8")
PAGE_2022 = (FIXTURES / "2022-upgrader-com.moonwink.treasury.html").read_text("utf-8")
PAGE_2025 = (FIXTURES / "2025-upgrader-issue520-com.raiseright.edumarketapp.html").read_text(
    "utf-8"
)
PAGE_LABEL = (FIXTURES / "built-2019-layout-current-version.html").read_text("utf-8")
PAGE_2019 = (FIXTURES / "2019-jomingyu-com.instagram.igtv.html").read_text("utf-8")
PAGE_2021_AUG = (FIXTURES / "2021-upgrader-page1-com.moonwink.treasury.html").read_text("utf-8")
PAGE_2021_NOV = (FIXTURES / "2021-upgrader-page2-com.moonwink.treasury.html").read_text("utf-8")
PAGE_2025_KO = (
    FIXTURES / "2025-upgrader-issue521-com.youngkiu.stock_knee_shoulder.html"
).read_text("utf-8")
REAL_PAGES = [
    PAGE_2018,
    PAGE_2019,
    PAGE_2021_AUG,
    PAGE_2021_NOV,
    PAGE_2022,
    PAGE_2025,
    PAGE_2025_KO,
]
REAL_PAGES.append(PAGE_LABEL)


# (page, version, varies, released, notes starts with, minimum Android, SDK level)
EVERY_REAL_PAGE = [
    (PAGE_2018, "1.0.2", False, None, None, "4.0.3", None),
    (PAGE_2019, "120.0.0.29.118", False, "2019-11-21", "The latest version", "4.4", None),
    (PAGE_2021_AUG, "1.23.0", False, "2021-05-25", "Minor updates", "6.0", None),
    (PAGE_2021_NOV, "2.0.2", False, "2021-11-10", "Minor updates", "6.0", None),
    (PAGE_2022, "2.3.0", False, "Feb 21, 2022", "Minor updates", "6.0", 23),
    (PAGE_2025, None, True, "Sep 3, 2025", "Enhancements in User", None, None),
    (PAGE_2025_KO, "1.5.1", False, "2025. 10. 21.", "[신규 기능]", "7.0", 24),
]


@pytest.mark.parametrize(
    ("page", "version", "varies", "released", "notes", "min_android", "min_sdk"),
    EVERY_REAL_PAGE,
    ids=["2018", "2019", "2021-08", "2021-11", "2022", "2025-varies", "2025-ko"],
)
def test_every_real_page(
    page: str,
    version: str | None,
    varies: bool,
    released: str | None,
    notes: str | None,
    min_android: str | None,
    min_sdk: int | None,
) -> None:
    listing = parse_play_page(page)
    assert (listing.version, listing.varies, listing.problem) == (version, varies, "")
    assert listing.released == released
    assert (listing.notes or "")[: len(notes or "")] == (notes or "")
    assert (listing.min_android, listing.min_sdk) == (min_android, min_sdk)


def test_2021_size_varies_is_not_the_version() -> None:
    # 2021's triple is [size, version, requires]: the size says "Varies with device"
    assert '["Varies with device","2.0.2","6.0 and up"]' in PAGE_2021_NOV
    assert parse_play_page(PAGE_2021_NOV).version == "2.0.2"


def test_empty_slot_alone_is_not_varies() -> None:
    # [null, []] is common; only next to the SDK levels is it the version slot
    page = PAGE_2025.replace('"141":[[null,[]],[[[35]],[null,[]]]]', '"141":[[null,[]],7]')
    assert parse_play_page(page).problem == "no_version"


def test_2022_details_block_under_a_renumbered_key() -> None:
    listing = parse_play_page(PAGE_2022)
    assert listing.version == "2.3.0"
    assert listing.how == "about:ds:4"  # google-play-scraper's ds:5 path would miss it
    assert listing.released == "Feb 21, 2022"
    assert listing.notes == "Minor updates and improvements."
    assert not listing.varies and not listing.problem


def test_2022_reviewer_version_is_not_the_store_version() -> None:
    assert "1.19.2" in PAGE_2022
    assert parse_play_page(PAGE_2022).version != "1.19.2"


def test_2018_function_form_block() -> None:
    listing = parse_play_page(PAGE_2018)
    assert listing.version == "1.0.2"
    assert listing.how == "legacy:ds:7"


def test_2025_empty_version_slot_is_varies_not_the_reviewers_version() -> None:
    # field 141 is [[null, []], …]: "Varies with device" in any language; the only
    # version-looking string is a review's (1.0.11), and guessing from it would be wrong
    listing = parse_play_page(PAGE_2025)
    assert "1.0.11" in PAGE_2025
    assert listing.version is None and listing.varies and listing.problem == ""
    assert listing.blocks == 7


def test_2025_layout_with_field_140_in_the_sparse_object() -> None:
    about = '"140":[[["4.15.14"]],[[[23,"7.0"]]],[["Nov 10, 2026"]]],'
    page = PAGE_2025.replace('{"137":', "{" + about + '"137":', 1)
    assert parse_play_page(page).version == "4.15.14"


def test_old_layout_visible_label() -> None:
    listing = parse_play_page(PAGE_LABEL)
    assert listing.version == "4.2.1"  # not the "Current Version 5.0" phrase in the notes
    assert listing.how == "label"


def test_indonesian_label() -> None:
    page = PAGE_LABEL.replace(">Current Version<", ">Versi Saat Ini<")
    assert parse_play_page(page).version == "4.2.1"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('[[["2.3.0"]]', '[[["Varies with device"]]'),
        ('[[["2.3.0"]]', '[[["Bervariasi menurut perangkat"]]'),
    ],
)
def test_varies_with_device_is_unknown_not_an_error(old: str, new: str) -> None:
    listing = parse_play_page(PAGE_2022.replace(old, new))
    assert listing.version is None
    assert listing.varies
    assert listing.problem == ""


def test_varies_in_the_2018_form_and_the_label() -> None:
    page = PAGE_2018.replace('"1.0.2"', '"Varies with device"')
    assert parse_play_page(page).varies
    label = PAGE_LABEL.replace(">4.2.1<", ">Varies with device<")
    assert parse_play_page(label).varies


def test_two_different_current_versions_are_ambiguous() -> None:
    block = PAGE_2022[PAGE_2022.index("<script") : PAGE_2022.index("</body>")]
    other = block.replace('"2.3.0"', '"2.4.0"').replace("'ds:4'", "'ds:40'")
    listing = parse_play_page(PAGE_2022.replace("</body>", other + "</body>"))
    assert listing.version is None
    assert listing.problem == "ambiguous"


def test_data_beats_the_label() -> None:
    # a page with both: the structured data is the reliable one
    page = PAGE_LABEL.replace("</body>", PAGE_2022[PAGE_2022.index("<script") :])
    assert parse_play_page(page).version == "2.3.0"


def test_iter_blocks_reads_keys_of_every_era() -> None:
    assert [key for key, _ in iter_blocks(PAGE_2022)] == ["ds:5", "ds:4", "ds:8"]
    assert [key for key, _ in iter_blocks(PAGE_2018)] == ["ds:7"]
    assert len(list(iter_blocks(PAGE_2025))) == 7


def test_clean_notes() -> None:
    raw = "Enhancements in User Experience<br><br><br>Welcome in Edu Market!!! &amp; <b>more</b>"
    assert clean_notes(raw) == "Enhancements in User Experience\nWelcome in Edu Market!!! & more"


@pytest.mark.parametrize(
    "page",
    [
        "",
        "<html></html>",
        "AF_initDataCallback(",
        "AF_initDataCallback({key: 'ds:5', data:",
        'AF_initDataCallback({key: \'ds:5\', data:[[["4.1"]],[["Jan 1, 2026"]]',  # truncated
        "AF_initDataCallback({key: 'ds:5', data:function(){return",
        "AF_initDataCallback({key: 'ds:5', data:" + "[" * 200_000,  # deeper than json allows
        "AF_initDataCallback({key: 'ds:5', data:[\"" + 'AF_initDataCallback({data:["' * 20_000,
        "Current Version" * 100_000,
        ">Current Version<" + "<" * 100_000,
        "<" * 1_000_000,
        PAGE_2022[: len(PAGE_2022) // 2],  # truncated transfer
    ],
)
def test_malformed_pages_have_no_version_and_finish_fast(page: str) -> None:
    started = time.perf_counter()
    listing = parse_play_page(page)
    assert time.perf_counter() - started < 2.0
    assert listing.version is None


def test_huge_page_is_bounded() -> None:
    block = "[1," * 50_000 + "1" + "]" * 50_001
    filler = "AF_initDataCallback({key: 'ds:1', data:[" + block + "});"
    page = filler * 40 + PAGE_2022  # ~12 MB: the real block lies past the size cap
    started = time.perf_counter()
    listing = parse_play_page(page)
    assert time.perf_counter() - started < 5.0
    assert listing.version is None


def test_wide_tree_is_bounded() -> None:
    data = json.dumps([[0] * 10 for _ in range(200_000)])
    started = time.perf_counter()
    parse_play_page(f"AF_initDataCallback({{key: 'ds:5', data:{data}}});" + PAGE_2022)
    assert time.perf_counter() - started < 5.0


# --- property-based: arbitrary and mutated pages -----------------------------------------

PROPERTY = settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def _check(page: str) -> None:
    listing = parse_play_page(page)
    if listing.version is not None:
        assert listing.version in page  # never a version the page does not hold
        assert not listing.varies


@PROPERTY
@given(st.text(max_size=3000))
def test_arbitrary_text(page: str) -> None:
    _check(page)


@PROPERTY
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_decoded_leniently(body: bytes) -> None:
    _check(body.decode("utf-8", errors="replace"))


@PROPERTY
@given(st.sampled_from(REAL_PAGES), st.data())
def test_real_page_with_slices_deleted_or_duplicated(page: str, data: st.DataObject) -> None:
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(page)))
        end = data.draw(st.integers(start, min(len(page), start + 2000)))
        if data.draw(st.booleans()):
            page = page[:start] + page[end:]
        else:
            page = page[:end] + page[start:end] + page[end:]
    _check(page)


@PROPERTY
@given(st.sampled_from(REAL_PAGES), st.data())
def test_real_page_with_random_characters_spliced_in(page: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(page)))
    noise = data.draw(st.text(alphabet='[]{}",:0123456789.nul AF_initDataCallback', max_size=50))
    _check(page[:at] + noise + page[at:])


json_trees = st.recursive(
    st.none() | st.integers(-5, 50) | st.sampled_from(["4.1", "2.3.0", "Feb 1, 2024", "x", ""]),
    lambda children: (
        st.lists(children, max_size=6)
        | st.dictionaries(st.sampled_from(["140", "145", "a"]), children, max_size=3)
    ),
    max_leaves=40,
)


@PROPERTY
@given(json_trees)
def test_arbitrary_data_blocks(tree: object) -> None:
    _check(f"<script>AF_initDataCallback({{key: 'ds:5', hash: '1', data:{json.dumps(tree)}}});")


@settings(max_examples=30, deadline=5000)
@given(st.integers(1, 50_000))
def test_deep_nesting(depth: int) -> None:
    _check("AF_initDataCallback({key: 'ds:5', data:" + "[" * depth + "]" * depth + "});")


def test_a_minimum_that_is_not_a_bare_number_is_dropped() -> None:
    # the page's words reach the terminal: nothing but digits and dots may pass
    page = PAGE_2025_KO.replace('[[[24,"7.0"]]]', '[[[24,"7.0\\u001b[2J"]]]')
    listing = parse_play_page(page)
    assert (listing.version, listing.min_android, listing.min_sdk) == ("1.5.1", None, 24)
