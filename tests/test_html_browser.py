"""The HTML report in a real headless browser (Debian's chromium), in both languages.

What a person opening the attachment would see: the page renders with no console message
at all (no script error, and no blocked load: the page's Content-Security-Policy makes any
attempt to fetch something a console message), the DOM holds the verdict, and the
screenshot is a picture, not a blank page: it shows the verdict's status colour.

Chromium must never touch the network: the page has no URL to fetch; as belts, chromium
runs in an empty network namespace when the tests run as root, every host name resolves
to nothing and every request would go to a dead local proxy.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jmo_doctor.report import html as html_report
from jmo_doctor.report import svg, verdict

REPORTS = Path(__file__).parent / "fixtures" / "reports"
CASES = {"id": REPORTS / "lab-slow-outdated.id.json", "en": REPORTS / "lab-healthy.en.json"}
WIDTH, HEIGHT = 412, 1400  # a common Android phone, CSS pixels
BROWSER_TIMEOUT_S = 90  # generous: 8 helpers share two cores


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
    return found


@dataclass(frozen=True)
class Rendered:
    dom: str
    console: list[str]
    png: bytes


@functools.cache
def _offline() -> tuple[str, ...]:
    """``unshare -n``: an empty network namespace, where no packet can leave, if allowed."""
    argv = ("unshare", "--net", "--")
    if os.geteuid() == 0 and shutil.which("unshare"):
        tried = subprocess.run([*argv, "true"], capture_output=True, timeout=10)
        if tried.returncode == 0:
            return argv
    return ()  # the page's CSP and the flags below still keep it off the network


def _run_browser(page: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="jmo-chromium-") as profile:
        argv = [
            *_offline(),
            _chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            # and no background traffic of its own (updates, sync, field trials)
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={WIDTH},{HEIGHT}",
            *mode,
            page.as_uri(),
        ]
        # its own process group, so that a hang takes its helpers down with it
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=profile,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=BROWSER_TIMEOUT_S)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
        return subprocess.CompletedProcess(argv, process.returncode, out, err)


def render_in_browser(page: Path) -> Rendered:
    shot = page.with_suffix(".png")
    dumped = _run_browser(page, "--dump-dom")
    pictured = _run_browser(page, f"--screenshot={shot}")
    assert pictured.returncode == 0 and shot.exists(), pictured.stderr[-2000:]
    console = [
        line
        for line in (dumped.stderr + pictured.stderr).splitlines()
        if ":CONSOLE" in line or "Uncaught" in line
    ]
    return Rendered(dumped.stdout, console, shot.read_bytes())


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, unfiltered."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, chunks, header = 8, bytearray(), b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(bytes(chunks))
    stride = width * size
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up = previous[x]
            corner = previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0), (abs(guess - up), 1), (abs(guess - corner), 2))
                line[x] = (line[x] + (left, up, corner)[near[1]]) & 0xFF
        rows.append(bytes(line) if size == 3 else bytes(b for i, b in enumerate(line) if i % 4 < 3))
        previous = line
    return width, height, rows


def _colour(hex_colour: str) -> bytes:
    return bytes.fromhex(hex_colour.lstrip("#"))


Pages = dict[str, tuple[dict[str, Any], Rendered]]


@pytest.fixture(scope="module")
def pages() -> Iterator[Pages]:
    with tempfile.TemporaryDirectory(prefix="jmo-html-") as folder:
        found = {}
        for lang, report in CASES.items():
            doc = json.loads(report.read_text())
            page = Path(folder) / f"report.{lang}.html"
            page.write_text(html_report.render(doc), encoding="utf-8")
            found[lang] = (doc, render_in_browser(page))
        yield found


@pytest.mark.parametrize("lang", list(CASES))
def test_the_page_renders_without_console_messages(lang: str, pages: Pages) -> None:
    doc, seen = pages[lang]
    assert seen.console == []
    assert f'<html lang="{lang}">' in seen.dom
    text = " ".join(html.unescape(seen.dom).split())
    assert " ".join(verdict.sentence(doc, lang).split()) in text


@pytest.mark.parametrize("lang", list(CASES))
def test_the_screenshot_shows_the_verdict_colour(lang: str, pages: Pages) -> None:
    doc, seen = pages[lang]
    assert len(seen.png) > 20_000, "a page of text and charts compresses to more than this"
    width, height, rows = png_pixels(seen.png)
    assert (width, height) == (WIDTH, HEIGHT)
    pixels = {row[x : x + 3] for row in rows for x in range(0, len(row), 3)}
    assert len(pixels) > 50, "a blank or one-colour page"
    status_colour = _colour(svg.STATUS_COLOURS[str(doc["status"])])
    top = rows[: HEIGHT // 4]  # the verdict is at the top, where the eye lands
    assert any(status_colour in row for row in top)
    assert any(_colour(svg.SERIES_COLOURS[1]) in row for row in rows), "no chart drawn"


def test_the_console_check_can_fail(tmp_path: Path) -> None:
    """A page that loads an image and runs a broken script is caught by the same check."""
    page = tmp_path / "bad.html"
    doc = json.loads(CASES["en"].read_text())
    page.write_text(
        html_report.render(doc).replace(
            "<h1>", '<img src="http://evil.example/x.png"><script>broken()</script><h1>', 1
        )
    )
    seen = render_in_browser(page)
    assert len(seen.console) >= 2, seen.console


def test_hostile_report_text_runs_nothing_in_the_browser(tmp_path: Path) -> None:
    """Script and image payloads in every field: the browser sees text, so nothing is
    even attempted (an attempt would be a CSP console message, as above)."""
    from tests.test_html import hostile_copy

    payload = '<script>broken()</script><img src="http://evil.example/x.png" onerror="broken()">'
    page = tmp_path / "hostile.html"
    page.write_text(html_report.render(hostile_copy(payload)), encoding="utf-8")
    seen = render_in_browser(page)
    assert seen.console == []
    assert "<script" not in seen.dom and "<img" not in seen.dom
    assert payload in html.unescape(seen.dom)
