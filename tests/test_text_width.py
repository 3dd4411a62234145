"""The text report fits the terminal (SPEC §3): 40 to 100 columns, words never split.

Golden files at 40, 60 and 100 columns in both languages (UPDATE_GOLDEN=1 rewrites
them: review the diff), and for every scenario and width the properties a person on a
phone relies on: no line wider than the screen, every word of the report whole, nothing
of the evidence lost, the verdict last.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor import catalogue
from jmo_doctor.api import Finding, ProbeResult, Status
from jmo_doctor.report import text
from tests.test_golden import SCENARIOS, golden_document

GOLDEN = Path(__file__).parent / "golden" / "width"
WIDTHS = (40, 60, 100)
LONG_URL = "http://login.wifi-kampus.example/portal/authenticate?redirect=https%3A%2F%2Fjmo"

MORE: dict[str, list[ProbeResult]] = {
    "offline": [
        ProbeResult(
            "system",
            Status.FAIL,
            "No active interface; no default route.",
            findings=(
                Finding(
                    "system.offline",
                    "The device has no usable network connection: no default route.",
                    None,
                    {"reason": "no_route"},
                ),
            ),
            duration_s=0.01,
        ),
        ProbeResult("dns", Status.FAIL, "0/5 names resolved.", duration_s=5.0),
        ProbeResult("kpj", Status.SKIP, "No KPJ number given (check one with --kpj NUMBER)."),
    ],
    # a token longer than the narrowest line: it may be cut, never lost
    "long-url": [
        ProbeResult(
            "http",
            Status.FAIL,
            "The portal check was redirected.",
            findings=(
                Finding("http.captive_portal", f"Redirected to {LONG_URL}.", "captive_portal"),
            ),
            duration_s=0.3,
        ),
    ],
}
ALL = {**SCENARIOS, **MORE}


def _document(name: str, lang: str) -> dict[str, Any]:
    return golden_document(ALL[name], lang)


def _render(name: str, lang: str, width: int) -> str:
    return text.plain(text.layout(_document(name, lang), width=width))


GOLDEN_CASES = [
    (n, lang) for n in ("healthy", "captive-portal", "offline") for lang in ("id", "en")
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("name", "lang"), GOLDEN_CASES)
def test_text_report_at_a_width_matches_golden(name: str, lang: str, width: int) -> None:
    path = GOLDEN / f"{name}.{lang}.{width}.txt"
    rendered = _render(name, lang, width)
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert rendered == path.read_text(encoding="utf-8")


def _words(rendered: str) -> list[str]:
    return rendered.split()


@pytest.mark.parametrize("width", [40, 45, 52, 60, 80, 100])
@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("name", sorted(ALL))
def test_lines_fit_and_no_word_is_split(name: str, lang: str, width: int) -> None:
    rendered = _render(name, lang, width)
    lines = rendered.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    # the same words as the widest layout, in the same order: none split, none lost
    widest = _render(name, lang, 1000)  # clamped to the maximum, 100
    if name == "long-url":  # longer than a line at 40: cut into whole lines, no hyphen
        assert "".join(_words(rendered)) == "".join(_words(widest))
        assert any(LONG_URL[:30] in line for line in lines)
    else:
        assert _words(rendered) == _words(widest)
    # an evidence code is one word, never split; which hosts it was found on, --verbose says
    verbose = text.plain(text.layout(_document(name, lang), width=width, verbose=True))
    for cause in _document(name, lang)["causes"]:
        for evidence in cause["evidence"]:
            assert evidence.partition("@")[0] in rendered
            assert evidence in verbose
    code = _document(name, lang)["exit_code"]
    assert lines[-1].endswith(f" {code})")  # the verdict's exit code ends the report


def test_a_long_token_starts_its_own_line_and_is_cut_only_when_longer_than_one() -> None:
    assert text.wrap_words(f"see {'x' * 30} now", 20) == ["see", "x" * 20, "x" * 10 + " now"]
    assert text.wrap_words(f"see {'x' * 17} now", 20) == ["see", "x" * 17, "now"]


def test_the_verdict_wraps_and_keeps_its_styles() -> None:
    lines = text.layout(_document("captive-portal", "en"), width=40)
    verdict = lines[-3:]
    assert verdict[0][0] == ("Verdict: ", "bold")
    assert verdict[0][1] == ("CRITICAL", "bold red")
    assert all(len("".join(t for t, _ in line)) <= 40 for line in verdict)
    assert "".join(t for t, _ in verdict[-1]).endswith("(exit code 2)")


@pytest.mark.parametrize(
    ("columns", "expected"), [("45", 45), ("20", 40), ("300", 100), ("", 80), ("abc", 80)]
)
def test_the_width_comes_from_columns_clamped(
    monkeypatch: pytest.MonkeyPatch, columns: str, expected: int
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert text.terminal_width(None) == expected


def test_a_file_or_pipe_gets_80_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    with (tmp_path / "report.txt").open("w") as stream:
        assert text.terminal_width(stream) == 80


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("cause_id", catalogue.cause_ids())
def test_short_form_is_one_phone_screen_for_every_cause(cause_id: str, lang: str) -> None:
    # every cause can be the first one: its summary, steps and the verdict at 40 columns
    doc = _document("captive-portal", lang)
    words = catalogue.text(cause_id, lang)
    doc["causes"] = [
        dict(doc["causes"][0], id=cause_id, title=words.title, summary=words.summary,
             fix=list(words.fix))
    ]  # fmt: skip
    lines = text.plain(text.short_layout(doc, width=40)).splitlines()
    assert len(lines) <= 24, "\n".join(lines)  # the longest (vpn_or_proxy, id) is 24
    assert all(len(line) <= 40 for line in lines)
    assert _words(words.summary) == _words("\n".join(lines))[: len(_words(words.summary))]
    assert lines[-1].strip().endswith("2)")


def test_short_form_of_an_old_report_without_summaries_still_shows_the_steps() -> None:
    doc = _document("captive-portal", "en")
    del doc["causes"][0]["summary"]
    shown = text.plain(text.short_layout(doc, width=60))
    assert shown.startswith("What to do:\n1. Open a browser")


@pytest.mark.parametrize("args", [["causes"], ["causes", "vpn_or_proxy"]])
def test_causes_fit_40_columns_without_losing_a_word(
    isolated_cli: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
) -> None:
    from jmo_doctor.cli import run_cli

    monkeypatch.setenv("COLUMNS", "100")
    assert run_cli(args) == 0
    wide = capsys.readouterr().out
    monkeypatch.setenv("COLUMNS", "40")
    assert run_cli(args) == 0
    narrow = capsys.readouterr().out
    assert all(len(line) <= 40 for line in narrow.splitlines()), narrow
    assert _words(narrow) == _words(wide)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_help_at_40_columns_leaves_the_options_room_to_speak(
    isolated_cli: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lang: str,
) -> None:
    from jmo_doctor.cli import run_cli

    monkeypatch.setenv("COLUMNS", "40")
    assert run_cli(["run", "--help", "--lang", lang]) == 0
    shown = capsys.readouterr().out
    lines = shown.splitlines()
    # only an option's own spelling (one token, e.g. its choices) may pass the edge
    assert all(len(line) <= 40 or len(line.split()) <= 2 for line in lines), shown
    # click's 30-column option column left the help 10 characters: now it starts by 20
    helps = [line for line in lines if line.startswith("  --") and "  " in line.strip()]
    assert helps, shown
    starts = [len(line) - len(line.split("  ", 2)[-1].lstrip()) for line in helps]
    assert max(starts) <= 20, shown
