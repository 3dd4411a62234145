"""The HTML report and history page: self-contained, escaped, in both languages.

Parsed with the standard library's HTML parser, as a browser would tokenise it: what
counts is which elements and attributes exist, not what the text looks like.
"""

from __future__ import annotations

import copy
import html
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.cli import run_cli
from jmo_doctor.monitor import history
from jmo_doctor.report import html as html_report
from jmo_doctor.report import svg, verdict
from jmo_doctor.safetext import one_line
from tests.hostile.test_terminal import MARKDOWN_PAYLOADS

REPORTS = Path(__file__).parent / "fixtures" / "reports"
SLOW_OUTDATED_ID = REPORTS / "lab-slow-outdated.id.json"
HEALTHY_EN = REPORTS / "lab-healthy.en.json"
#: Elements that fetch, run or navigate: none may exist on the page.
ACTIVE = {"script", "img", "link", "a", "iframe", "object", "embed", "image", "use", "form"}


class Page(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def _self_contained(page: Page) -> None:
    assert not ACTIVE & set(page.tags), ACTIVE & set(page.tags)
    for name, value in page.attributes:
        assert not name.startswith("on"), name
        assert name not in ("src", "href", "xlink:href", "srcset", "action"), name
        assert "://" not in value and "url(" not in value, (name, value)


@pytest.mark.parametrize("path", [SLOW_OUTDATED_ID, HEALTHY_EN], ids=lambda p: p.stem)
def test_a_lab_report_is_one_page_with_its_verdict(path: Path) -> None:
    doc = _load(path)
    lang = doc["run"]["lang"]
    rendered = html_report.render(doc)
    page = Page(rendered)
    _self_contained(page)
    assert f'<html lang="{lang}">' in rendered
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in rendered
    assert verdict.sentence(doc, lang) in page.words
    assert page.tags.count("svg") >= 2  # latency per target, throughput
    for cause in doc["causes"]:
        assert cause["title"] in page.words
        for step in cause["fix"]:
            assert " ".join(step.split()) in page.words
    for probe in doc["probes"]:
        assert " ".join(probe["summary"].split()) in page.words


def test_latency_bars_show_min_median_p95_of_every_target() -> None:
    doc = _load(SLOW_OUTDATED_ID)
    words = Page(html_report.render(doc)).words
    tcp = next(p for p in doc["probes"] if p["id"] == "tcp")
    targets = {key.rpartition(".")[0] for key in tcp["metrics"]}
    assert targets >= {"bpjs-www", "bpjs-sso", "google"}
    for target in targets:
        assert target in words
        for stat in ("rtt_min_ms", "rtt_median_ms", "rtt_p95_ms"):
            assert f"{svg.number(tcp['metrics'][f'{target}.{stat}'])} ms" in words
    assert "Latensi per tujuan" in words
    assert "tidak diukur" in words  # --quick: no throughput, said, not drawn as zero


def test_throughput_is_drawn_in_english() -> None:
    doc = _load(HEALTHY_EN)
    words = Page(html_report.render(doc)).words
    speeds = next(p for p in doc["probes"] if p["id"] == "bandwidth")["metrics"]
    assert "Internet speed" in words
    assert f"{svg.number(speeds['download_mbps'])} Mbit/s" in words
    assert f"{svg.number(speeds['upload_mbps'])} Mbit/s" in words


def hostile_copy(payload: str) -> dict[str, Any]:
    doc = copy.deepcopy(_load(SLOW_OUTDATED_ID))
    cause = doc["causes"][0]
    cause["title"] = cause["explanation"] = payload
    cause["fix"] = [payload]
    cause["evidence"] = [payload]
    doc["warnings"] = [payload]
    doc["run"]["id"] = payload
    doc["environment"]["platform"] = payload
    tcp = next(p for p in doc["probes"] if p["id"] == "tcp")
    tcp["summary"] = payload
    tcp["metrics"][f"{payload}.rtt_median_ms"] = 1.0
    tcp["findings"] = [{"code": payload, "target": payload, "message": payload, "data": {}}]
    return doc


PAYLOADS = [
    *MARKDOWN_PAYLOADS,
    ("attribute-break", '" onmouseover="alert(1)" x="'),
    ("svg-script", "<svg><script>alert(1)</script></svg>"),
    ("style-break", "</style><script>alert(1)</script>"),
    ("title-break", "</title><script>alert(1)</script>"),
    ("terminal-escape", "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07"),
]


@pytest.mark.parametrize(("name", "payload"), PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_hostile_report_text_stays_text(name: str, payload: str) -> None:
    rendered = html_report.render(hostile_copy(payload))
    page = Page(rendered)
    _self_contained(page)
    assert page.tags.count("style") == 1  # one title per chart, one for the page:
    assert page.tags.count("title") == 1 + page.tags.count("svg")
    shown = " ".join(one_line(payload).split())
    assert shown in page.words, name
    assert "\x1b" not in rendered and "\x07" not in rendered


def test_report_show_html_and_run_accept_the_format(
    capsys: pytest.CaptureFixture[str], isolated_cli: Path
) -> None:
    assert run_cli(["report", "show", str(HEALTHY_EN), "--format", "html"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")
    offline = ["run", "--only", "kpj", "--kpj", "123", "--no-history", "--format", "html"]
    assert run_cli(offline) == 1  # an invalid KPJ: a warning
    words = Page(capsys.readouterr().out).words
    assert "Nomor KPJ tidak valid" in words


def test_history_page_draws_the_trends(
    capsys: pytest.CaptureFixture[str], isolated_cli: Path
) -> None:
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    for index, path in enumerate([HEALTHY_EN, SLOW_OUTDATED_ID, HEALTHY_EN, SLOW_OUTDATED_ID]):
        doc = _load(path)
        doc["run"]["id"] = f"run-{index}"
        doc["run"]["started_at"] = (start + timedelta(hours=index)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert history.record(doc, isolated_cli).saved
    for lang, title in (("id", "Riwayat jmo-doctor"), ("en", "jmo-doctor history")):
        assert run_cli(["history", "--format", "html", "--lang", lang]) == 0
        rendered = capsys.readouterr().out
        page = Page(rendered)
        _self_contained(page)
        assert title in page.words
        assert rendered.count("<polyline") >= 2  # latency and loss over 4 runs
        strip = rendered.split("<svg")[1]
        colours = [svg.STATUS_COLOURS[s] for s in ("ok", "warning", "ok", "warning")]
        cells = [part.split('fill="')[1][:7] for part in strip.split("<rect")[1:5]]
        assert cells == colours


def test_empty_history_page(capsys: pytest.CaptureFixture[str], isolated_cli: Path) -> None:
    assert run_cli(["history", "--format", "html", "--lang", "en"]) == 0
    assert "No history yet. Run: jmo-doctor run" in Page(capsys.readouterr().out).words


def test_every_word_has_both_languages() -> None:
    for key, text in html_report.WORDS.items():
        assert text["id"] and text["en"] and text["id"] != text["en"], key


def test_escape_leaves_no_markup() -> None:
    assert svg.esc('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert html.unescape(svg.esc("\u202egpj.exe")) == "\ufffdgpj.exe"


def test_a_check_that_could_not_be_done_says_why() -> None:
    from jmo_doctor.report.unknown import unknown_document

    doc = unknown_document("another run holds the lock", "en")
    page = Page(html_report.render(doc))
    _self_contained(page)
    assert "UNKNOWN" in page.words and "another run holds the lock (exit code 3)" in page.words
    assert "svg" not in page.tags  # nothing was measured: no empty charts


def test_history_page_says_when_damaged_runs_were_skipped() -> None:
    from jmo_doctor.report.history import HistoryRows

    words = Page(html_report.render_history(HistoryRows([], skipped=2), "en")).words
    assert "Warning: 2 stored run(s) damaged and skipped" in words
