"""The iTunes lookup answer (probes.store._appstore): good, empty and malformed answers."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probes.store._appstore import ListingError, parse_lookup

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "appstore"
ONE = (FIXTURES / "lookup-one-result.json").read_bytes()
NONE = (FIXTURES / "lookup-no-result.json").read_bytes()


def test_reads_version_date_notes_and_link() -> None:
    listing = parse_lookup(ONE)
    assert listing.available
    assert listing.version == "4.15.14"
    assert listing.released == "2026-11-10T03:12:45Z"
    assert listing.notes is not None and listing.notes.startswith("Perbaikan tampilan saldo JHT")
    assert listing.url == "https://apps.apple.com/id/app/jmo-jamsostek-mobile/id1444834757?uo=4"


def test_result_count_zero_means_not_in_this_country() -> None:
    listing = parse_lookup(NONE)
    assert not listing.available
    assert listing.version is None


def _with_first(**changes: object) -> bytes:
    document = json.loads(ONE)
    document["results"][0].update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "bad_json"),
        (b"<html>captive portal</html>", "bad_json"),
        (ONE[: len(ONE) // 2], "bad_json"),  # truncated transfer
        (b"\xff\xfe{}", "not_utf8"),
        (b"[]", "bad_shape"),
        (b'{"resultCount": 1}', "bad_shape"),
        (b'{"resultCount": "1", "results": []}', "bad_shape"),
        (b'{"resultCount": 1, "results": ["x"]}', "bad_shape"),
        (_with_first(version="latest"), "bad_version"),
        (_with_first(version=None), "bad_version"),
        (_with_first(version=4.1), "bad_version"),
        (b"[" * 100_000 + b"]" * 100_000, "bad_json"),  # nesting deeper than json allows
        (b" " * 5_000_001, "too_large"),
    ],
)
def test_malformed_answers_are_listing_errors(body: bytes, reason: str) -> None:
    with pytest.raises(ListingError) as caught:
        parse_lookup(body)
    assert caught.value.reason == reason


def test_odd_link_is_dropped_not_trusted() -> None:
    listing = parse_lookup(_with_first(trackViewUrl="javascript:alert(1)"))
    assert listing.url is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["resultCount", "results", "version", "releaseNotes", "x"]),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=1000)
@given(json_values)
def test_any_json_is_a_listing_or_a_listing_error(value: object) -> None:
    try:
        listing = parse_lookup(json.dumps(value).encode())
    except ListingError:
        return
    if listing.version is not None:
        assert listing.version in json.dumps(value)


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=2000))
def test_any_bytes_is_a_listing_or_a_listing_error(body: bytes) -> None:
    with contextlib.suppress(ListingError):
        parse_lookup(body)


@settings(max_examples=200, deadline=1000)
@given(st.data())
def test_mutated_real_answer_never_raises_anything_else(data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(ONE)))
    end = data.draw(st.integers(start, len(ONE)))
    body = ONE[:start] + data.draw(st.binary(max_size=20)) + ONE[end:]
    try:
        listing = parse_lookup(body)
    except ListingError:
        return
    if listing.version is not None:
        assert listing.version.encode() in body


def test_real_2018_lookup_with_minimum_os() -> None:
    # feidao90/iTunes-upgrade-APP README (2018): a real lookup answer, see play/README.md
    real = Path(__file__).resolve().parent.parent / "fixtures" / "appstore"
    listing = parse_lookup((real / "2018-feidao90-voffice-lookup.json").read_bytes())
    assert (listing.version, listing.minimum_os) == ("1.2.7", "9.0")
    assert listing.released == "2018-05-04T00:50:47Z"


def test_minimum_os_that_is_no_version_is_dropped() -> None:
    body = b'{"resultCount":1,"results":[{"version":"4.1","minimumOsVersion":"latest"}]}'
    assert parse_lookup(body).minimum_os is None


def test_minimum_os_with_control_characters_is_dropped() -> None:
    body = b'{"resultCount":1,"results":[{"version":"4.1","minimumOsVersion":"13.0\\u001b[2J"}]}'
    assert parse_lookup(body).minimum_os is None
