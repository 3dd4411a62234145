"""Version strings as stores and devices write them (probes.store._versions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probes.store._versions import compare, is_newer, is_varies, parse_version


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("4.15.14", (4, 15, 14)),
        ("4.15.5 (123)", (4, 15, 5)),  # build number in brackets: not PEP 440
        ("v4.2", (4, 2)),
        (" 4.0.3 ", (4, 0, 3)),
        ("Versi 4.1", (4, 1)),
        ("4.2-beta", (4, 2)),
        ("2024", (2024,)),
    ],
)
def test_parses_store_and_device_shapes(text: str, release: tuple[int, ...]) -> None:
    parsed = parse_version(text)
    assert parsed is not None
    assert parsed.release == release


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "Varies with device",
        "Bervariasi menurut perangkat",
        "build 12 of 3.1",
        "1.2.3.4.5.6.7.8",
        "9" * 5000,  # int() would refuse it; never get that far
        None,
        42,
        ["4.1"],
    ],
)
def test_garbage_is_no_version(text: object) -> None:
    assert parse_version(text) is None


@pytest.mark.parametrize(
    ("latest", "installed", "newer"),
    [
        ("4.15.14", "4.15.5", True),  # numeric, not string order
        ("4.15.14", "4.0.3", True),
        ("4.0.3", "4.0.3", False),
        ("4.0.3", "4.0.3.0", False),  # trailing zeros are the same version
        ("4.0.3", "4.0.10", False),
        ("4.15.5 (123)", "4.15.5", False),
        ("v4.2", "4.1.9", True),
        ("4.2", "4.2rc1", True),
        ("Varies with device", "4.0.3", None),
        ("4.0.3", "garbage", None),
        (None, "4.0.3", None),
    ],
)
def test_is_newer(latest: str | None, installed: str | None, newer: bool | None) -> None:
    assert is_newer(latest, installed) is newer


def test_varies_in_both_languages() -> None:
    assert is_varies("Varies with device")
    assert is_varies(" bervariasi menurut perangkat ")
    assert not is_varies("4.1")
    assert not is_varies(None)


@given(st.text(max_size=80))
def test_parse_never_raises(text: str) -> None:
    parsed = parse_version(text)
    if parsed is not None:
        assert 0 < len(parsed.release) <= 6


versions = st.lists(st.integers(0, 10**6), min_size=1, max_size=5).map(
    lambda parts: ".".join(map(str, parts))
)


@given(versions, versions)
def test_compare_is_antisymmetric(a: str, b: str) -> None:
    left, right = parse_version(a), parse_version(b)
    assert left is not None and right is not None
    assert compare(left, right) == -compare(right, left)


@pytest.mark.parametrize(
    ("latest", "installed", "newer"),
    [
        ("2.0.2c", "2.0.2", True),  # a build letter is later, not PEP 440's "rc"
        ("2.0.2c", "2.0.2b", True),
        ("2.0.3", "2.0.2c", True),
        ("2.0.2", "2.0.2c", False),
        ("2.0.2c", "2.0.2c", False),
        ("4.2", "4.2rc1", True),  # a numbered marker is still a pre-release
    ],
)
def test_letter_suffix_is_a_later_build(latest: str, installed: str, newer: bool) -> None:
    assert is_newer(latest, installed) is newer
