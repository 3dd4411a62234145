"""Hostile text on a terminal and in a ticket (issue 9, items 5 and 6).

What a support agent would notice opening a hostile report: the screen is not cleared,
nothing is recoloured, the window title stays, no hyperlink to an attacker's site, no
right-to-left override turning ``gpj.exe`` around; ``[bold red]`` and ``[link=…]`` print
as the text they are. The same for ``kpj check``, ``causes`` and ``run --kpj`` echoing
their arguments, and for the live progress. In Markdown the data cannot add structure to
the ticket: no HTML, links, images, headings, rows or cells of its own.

And size: the layout is linear in the report. Each character is copied once by the
wrapping (textwrap copied the rest of a long word once per line: 4 MB took 9 s), and
the output grows with the input, not with its square.
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from jmo_doctor.api import BaseProbe, ProbeContext, ProbeResult
from jmo_doctor.cli import run_cli
from jmo_doctor.report import markdown, text
from jmo_doctor.report.live import LiveProgress
from jmo_doctor.runner import Board
from tests.helpers import loaded
from tests.test_golden import _document as golden_document

#: What must never reach a terminal from data: C0 controls but newline and tab (ESC, BEL,
#: CR, BS…), DEL, C1 controls (CSI, OSC, ST as single characters) and the bidi overrides
#: and isolates. Written out here, not imported: the test must not trust the code.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: What rich itself writes on a terminal: colours and styles (SGR), cursor moves, and the
#: carriage return before it moves up to erase the live display.
OWN_SEQUENCES = re.compile(r"\x1b\[[0-9;?]*[mAKlh]|\r(?=\x1b\[)")

# (id, payload, what the reader still sees of it)
PAYLOADS = [
    ("clear-screen", "\x1b[2J\x1b[3J\x1b[Hall gone", "all gone"),
    ("colour", "\x1b[32mOK\x1b[0m everything fine", "everything fine"),
    ("window-title", "\x1b]0;pwned\x07title", "pwned"),
    ("window-title-st", "\x1b]2;pwned\x1b\\title", "pwned"),
    ("osc8-hyperlink", "\x1b]8;;http://evil.example/\x1b\\click here\x1b]8;;\x1b\\", "click here"),
    ("c1-csi-clear", "\x9b2J\x9bHgone", "gone"),
    ("c1-osc8-hyperlink", "\x9d8;;http://evil.example/\x9cclick\x9d8;;\x9c", "click"),
    ("bidi-override", "invoice\u202egpj.exe", "gpj.exe"),
    ("bidi-isolate", "\u2066rtl\u2069 text", "rtl"),
    ("bell-backspace-del", "ding\x07\x08\x08\x7fX", "ding"),
    ("carriage-return-overwrite", "all good\rEVIL", "EVIL"),
    ("nul-and-reset", "\x00\x1bc reset", "reset"),
    ("vertical-tab-form-feed", "page\x0bone\x0ctwo", "two"),
    ("rich-markup", "[bold red]ALERT[/] [link=http://evil.example]x[/link]", "[bold red]ALERT[/]"),
]  # fmt: skip
PAYLOAD_PARAMS = [pytest.param(payload, seen, id=name) for name, payload, seen in PAYLOADS]


def _hostile_report(payload: str) -> dict[str, Any]:
    """A valid report with ``payload`` in every string the schema leaves free."""
    doc = golden_document("captive-portal", "en")
    doc["tool"]["version"] = f"0.0.0 {payload}"
    doc["run"]["id"] = f"run {payload}"
    doc["environment"]["os"] = payload
    doc["targets"] = [{"name": f"t {payload}", "host": f"h {payload}", "role": "bpjs"}]
    doc["warnings"] = [f"warning {payload}"]
    for probe in doc["probes"]:
        probe["summary"] = f"{probe['summary']} {payload}"
        probe["details"] = {"note": payload}
        for finding in probe["findings"]:
            finding.update(message=f"message {payload}", target=f"target {payload}")
            finding["data"]["location"] = payload
    for cause in doc["causes"]:
        cause["title"] = f"Title {payload}"
        cause["explanation"] = f"{payload} explained"
        cause["fix"] = [payload, f"step {payload}"]
        cause["evidence"] = [f"http.captive_portal ({payload})"]
    return doc


def _show(tmp_path: Path, doc: dict[str, Any], *args: str) -> str:
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert run_cli(["report", "show", str(path), *args]) == 0
    return str(path)


def _assert_inert(out: str, seen: str) -> None:
    assert UNSAFE.search(out) is None, repr(UNSAFE.findall(out))
    assert seen in out  # the text is still there, only harmless


def _ticket() -> MarkdownIt:
    """CommonMark with raw HTML allowed and GFM tables: the harshest common renderer."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


# --- report show: text, verbose text, Markdown ------------------------------------------


@pytest.mark.parametrize("args", [[], ["--verbose"], ["--format", "markdown"]], ids=str)
@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
def test_report_show_prints_hostile_text_inert(
    payload: str, seen: str, args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _show(tmp_path, _hostile_report(payload), *args)
    captured = capsys.readouterr()
    assert UNSAFE.search(captured.out + captured.err) is None, repr(UNSAFE.findall(captured.out))
    shown = _visible(_ticket().render(captured.out)) if "markdown" in args else captured.out
    assert seen in shown  # the text is still there, only harmless


class _Terminal(io.StringIO):
    """stdout as a colour terminal: the rich path of ``report show``."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
def test_report_show_on_a_colour_terminal_writes_only_its_own_styles(
    payload: str, seen: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    _show(tmp_path, _hostile_report(payload))
    out = terminal.getvalue()
    assert OWN_SEQUENCES.search(out), "expected a styled report"
    assert UNSAFE.search(payload) is None or payload not in out  # colours look like ours
    _assert_inert(OWN_SEQUENCES.sub("", out), seen)
    assert "\x1b]8;" not in out and "\x9d" not in out  # no hyperlink, whatever the data said


def test_rich_markup_in_data_prints_literally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    _show(tmp_path, _hostile_report("[bold red]ALERT[/] [link=http://evil.example]x[/link]"))
    out = OWN_SEQUENCES.sub("", terminal.getvalue())
    assert "Title [bold red]ALERT[/] [link=http://evil.example]x[/link]" in out


# --- arguments echoed: kpj check, causes, run --kpj ------------------------------------


@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
@pytest.mark.parametrize("lang", ["id", "en"])
def test_kpj_check_echoes_only_printable_characters(
    payload: str, seen: str, lang: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["kpj", "check", f"1234567{payload}", "--lang", lang]) == 1
    captured = capsys.readouterr()
    assert UNSAFE.search(captured.out + captured.err) is None
    assert "11" in captured.out


@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
def test_causes_with_a_hostile_id_is_one_printable_line(
    payload: str, seen: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["causes", f"x{payload}"]) == 3
    captured = capsys.readouterr()
    assert UNSAFE.search(captured.out + captured.err) is None
    assert captured.err.startswith("jmo-doctor: error: unknown cause id")


@pytest.mark.parametrize("output_format", ["text", "markdown"])
@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
def test_run_with_a_hostile_kpj_prints_it_inert(
    payload: str, seen: str, output_format: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--only", "kpj", "--no-history", "--format", output_format]
    assert run_cli([*args, "--kpj", f"1234567{payload}", "--lang", "en"]) == 1  # kpj_invalid
    captured = capsys.readouterr()
    assert UNSAFE.search(captured.out + captured.err) is None
    assert "KPJ number is 11 digits" in captured.out


def test_kpj_check_names_invisible_characters_by_code_point(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli(["kpj", "check", "1234\u200b5678\x1b901", "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "U+200B" in out and "U+001B" in out


# --- live progress -----------------------------------------------------------------------


class _Probe(BaseProbe):
    id = "dns"

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        raise NotImplementedError


@pytest.mark.parametrize(("payload", "seen"), PAYLOAD_PARAMS)
def test_live_progress_shows_probe_notes_inert(
    payload: str, seen: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    probe = loaded(_Probe())
    probe = type(probe)(**{**probe.__dict__, "title": f"title {payload}"})
    board = Board([probe])
    board.start("dns")
    board.progress("dns", 0.5, f"note {payload}")
    terminal = _Terminal()
    with LiveProgress([probe], "en", terminal) as tick:
        tick(board)
    out = terminal.getvalue()
    assert "note" in out and "title" in out
    assert UNSAFE.search(payload) is None or payload not in out
    assert UNSAFE.search(OWN_SEQUENCES.sub("", out)) is None
    if payload.startswith("[bold red]"):
        assert "[bold red]ALERT[/]" in out


# --- Markdown for a ticket: the data adds no structure ---------------------------------

MARKDOWN_PAYLOADS = [
    ("html-script", "<script>alert(1)</script>"),
    ("html-img", "<img src=x onerror=alert(1)>"),
    ("html-comment-hides-text", "<!-- the rest is hidden"),
    ("entity-bidi-override", "&#x202E;gpj.exe &amp; more"),
    ("link", "[click here](http://evil.example/)"),
    ("image", "![logo](http://evil.example/x.png)"),
    ("autolink", "<http://evil.example/>"),
    ("reference-link", "[click][1]\n\n[1]: http://evil.example/"),
    ("emphasis-faking-verdict", "**Verdict: OK** _all clear_ *fine*"),
    ("strikethrough", "~~not a problem~~"),
    ("table-pipes", "a | b | c"),
    ("new-table-row", "x\n| fake | row | here |"),
    ("heading", "# Fake heading"),
    ("heading-after-newline", "text\n## Fake heading"),
    ("setext-heading", "Fake heading\n==="),
    ("quote", "> quoted"),
    ("bullet-list", "- item"),
    ("plus-list", "+ item"),
    ("ordered-list", "1. item"),
    ("thematic-break", "***"),
    ("code-fence", "```\nfenced\n```"),
    ("tilde-fence", "~~~\nfenced"),
    ("indented-code", "    indented code"),
    ("backticks-close-code-span", "` <b>bold</b> ``x``"),
    ("backslash", "\\<b>still text\\</b>"),
    ("hard-break", "line  \nbreak"),
]


def _structure(rendered_html: str) -> list[str]:
    """The sequence of HTML tags: what a ticket shows apart from the words."""
    return re.findall(r"</?[a-z0-9]+", rendered_html)


def _visible(rendered_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered_html))


@pytest.mark.parametrize(
    "payload", [pytest.param(payload, id=name) for name, payload in MARKDOWN_PAYLOADS]
)
def test_markdown_data_adds_no_structure(payload: str) -> None:
    renderer = _ticket()
    clean = renderer.render(markdown.render(_hostile_report("plain")))
    hostile = renderer.render(markdown.render(_hostile_report(payload)))
    assert _structure(hostile) == _structure(clean)
    shown = re.sub(r"\s*\n\s*", " ", f"Title {payload}").strip()
    assert shown in _visible(hostile)  # the reader sees the characters as sent
    assert "\u202e" not in hostile


# --- size: rendering is linear in the report --------------------------------------------


class _CountingText(str):
    """A string that counts the characters sliced out of it."""

    copied = 0

    def __getitem__(self, key: Any) -> str:
        piece = super().__getitem__(key)
        _CountingText.copied += len(piece)
        return piece


WRAPPED = [
    ("one-long-word", "x" * 100_000),
    ("prose", "word " * 20_000),
    ("long-words-among-short", ("a " + "y" * 5_000 + " ") * 20),
    ("long-word-after-text", "some words first " + "z" * 50_000),
]


@pytest.mark.parametrize("source", [pytest.param(source, id=name) for name, source in WRAPPED])
@pytest.mark.parametrize("width", [1, 40, 88])
def test_wrapping_copies_each_character_once(source: str, width: int) -> None:
    counted = _CountingText(source)
    _CountingText.copied = 0
    lines = text.wrap_words(counted, width)
    non_space = len(source) - source.count(" ")
    assert _CountingText.copied == non_space  # textwrap: once per line left, n²/width
    assert all(len(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == source.replace(" ", "")


Shape = Callable[[int], dict[str, Any]]


def _many_probes_one_long_id(size: int) -> dict[str, Any]:
    doc = golden_document("captive-portal", "en")
    probe = doc["probes"][0]
    doc["probes"] = [dict(probe, id=f"p{n}") for n in range(size // 100)]
    doc["probes"][0]["id"] = "p" * size  # once padded every row to its length
    return doc


def _long_head_long_summary(size: int) -> dict[str, Any]:
    doc = golden_document("captive-portal", "en")
    doc["probes"][0].update(id="p" * 200, summary="word " * (size // 5))
    return doc


def _long_cause_texts(size: int) -> dict[str, Any]:
    doc = golden_document("captive-portal", "en")
    doc["causes"][0].update(title="t" * size, fix=["f" * size], evidence=["e" * size])
    return doc


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(_many_probes_one_long_id, id="long-probe-id-among-many"),
        pytest.param(_long_head_long_summary, id="summary-beside-a-long-head"),
        pytest.param(_long_cause_texts, id="long-title-fix-evidence"),
    ],
)
def test_rendered_size_grows_with_the_report_not_its_square(shape: Shape) -> None:
    size = 100_000
    doc = shape(size)
    source = len(json.dumps(doc))
    assert len(text.plain(text.layout(doc, verbose=True))) < 3 * source
    assert len(markdown.render(doc)) < 3 * source


def test_a_long_word_is_shown_whole_in_lines_that_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = golden_document("captive-portal", "en")
    doc["probes"][0]["summary"] = "x" * 1_000_000
    _show(tmp_path, doc)
    lines = [line for line in capsys.readouterr().out.splitlines() if "xxxxxxxx" in line]
    assert all(len(line) <= text.WIDTH for line in lines)
    assert sum(line.count("x") for line in lines) == 1_000_000
