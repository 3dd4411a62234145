"""KPJ validation (jmo_doctor.kpj) and the ``kpj`` probe."""

from __future__ import annotations

import asyncio

import pytest

from jmo_doctor.api import ProbeResult, RunOptions, Status
from jmo_doctor.kpj import check_kpj, mask_kpj, verdict_message
from probes.kpj import KpjProbe
from tests.helpers import make_context


def run_kpj(kpj: str | None, lang: str = "en") -> ProbeResult:
    ctx = make_context(probe=KpjProbe, lang=lang, options=RunOptions(kpj=kpj))
    return asyncio.run(KpjProbe().run(ctx))


@pytest.mark.parametrize(
    ("raw", "valid", "reason", "length", "masked"),
    [
        ("1234-5678-901", True, None, 11, "********901"),
        ("1234 5678 901", True, None, 11, "********901"),
        (" 1234.5678.901 ", True, None, 11, "********901"),
        ("12345678901", True, None, 11, "********901"),
        ("１２３４５６７８９０１", True, None, 11, "********901"),  # full-width digits
        ("12ab", False, "non_digit", 4, "***b"),
        ("KPJ 12345678901", False, "non_digit", 14, "***********901"),
        ("123", False, "length", 3, "***"),
        ("1234567890", False, "length", 10, "*******890"),
        ("123456789012", False, "length", 12, "*********012"),
        ("", False, "empty", 0, ""),
        (" - . ", False, "empty", 0, ""),
    ],
)
def test_check_kpj(raw: str, valid: bool, reason: str | None, length: int, masked: str) -> None:
    verdict = check_kpj(raw)
    assert (verdict.valid, verdict.reason, verdict.length, verdict.masked) == (
        valid,
        reason,
        length,
        masked,
    )


def test_digits_are_cleaned_but_hidden_from_repr() -> None:
    verdict = check_kpj("1234-5678-901")
    assert verdict.digits == "12345678901"
    assert "12345678901" not in repr(verdict)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("1234-5678-901", "********901"), ("12", "**"), ("1234", "***4"), ("", "")],
)
def test_mask_shows_at_most_three_and_hides_at_least_three(raw: str, masked: str) -> None:
    assert mask_kpj(raw) == masked


def test_messages_say_why_in_both_languages() -> None:
    letters = check_kpj("12ab")
    assert "'a', 'b'" in verdict_message(letters, "id")
    assert "bukan angka" in verdict_message(letters, "id")
    assert "not digits" in verdict_message(letters, "en")

    short = check_kpj("123")
    assert "3 digit (kurang 8)" in verdict_message(short, "id")
    assert "has 3 (8 too few)" in verdict_message(short, "en")
    assert "1 too many" in verdict_message(check_kpj("123456789012"), "en")

    assert "kosong" in verdict_message(check_kpj(""), "id")
    assert "empty" in verdict_message(check_kpj(""), "en")

    valid = verdict_message(check_kpj("12345678901"), "en")
    assert "********901" in valid
    assert "12345678901" not in valid


def test_probe_skips_without_a_number() -> None:
    result = run_kpj(None)
    assert result.status is Status.SKIP
    assert "--kpj" in result.summary
    assert not result.findings
    assert "--kpj" in run_kpj(None, lang="id").summary


def test_probe_passes_a_valid_number_and_shows_it_masked_only() -> None:
    result = run_kpj("1234-5678-901")
    assert result.status is Status.PASS
    assert "********901" in result.summary
    assert not result.findings
    assert "12345678901" not in repr(result)
    assert "1234-5678-901" not in repr(result)
    assert "5678" not in repr(result)


@pytest.mark.parametrize(
    ("raw", "reason", "length"),
    [
        ("12ab", "non_digit", 4),
        ("123", "length", 3),
        ("", "empty", 0),
        ("1234567890", "length", 10),
    ],
)
@pytest.mark.parametrize("lang", ["id", "en"])
def test_probe_fails_an_invalid_number(raw: str, reason: str, length: int, lang: str) -> None:
    result = run_kpj(raw, lang=lang)
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.code == "kpj.invalid"
    assert finding.data["reason"] == reason
    assert finding.data["length"] == length
    assert finding.message.startswith("Nomor KPJ tidak valid." if lang == "id" else "Invalid KPJ")
    if len(raw) > 3:
        assert raw not in repr(result)


def test_full_number_with_wrong_length_never_appears() -> None:
    result = run_kpj("1234-5678-9012")
    assert result.status is Status.FAIL
    assert "123456789012" not in repr(result)
    assert "1234-5678-9012" not in repr(result)
