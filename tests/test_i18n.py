"""Every user-facing string exists in Bahasa Indonesia and in English."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from jmo_doctor import catalogue, plugins
from jmo_doctor.i18n import words
from jmo_doctor.runner import RUNNER_MESSAGES

FINDINGS_DOC = Path(__file__).parent.parent / "docs" / "findings.md"
# finding-code prefix → the probe that emits it (latency.* comes from the tcp probe)
PREFIX_OWNER = {"latency": "tcp"}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _builtin_messages() -> dict[str, dict[str, dict[str, str]]]:
    found = plugins.discover()
    assert not found.warnings, found.warnings
    return {p.id: {k: dict(v) for k, v in p.messages.items()} for p in found.probes if p.builtin}


def test_every_finding_message_has_both_languages_with_the_same_fields() -> None:
    everything = {**_builtin_messages(), "runner": {k: dict(v) for k, v in RUNNER_MESSAGES.items()}}
    for owner, messages in everything.items():
        for code, text in messages.items():
            assert set(text) >= {"id", "en"}, f"{owner}: {code} lacks a language"
            assert text["id"].strip() and text["en"].strip(), f"{owner}: {code} is empty"
            assert text["id"] != text["en"] or not re.search(r"[a-z]{4}", text["en"]), (
                f"{owner}: {code} is not translated"
            )
            assert _fields(text["id"]) == _fields(text["en"]), f"{owner}: {code} fields differ"


def test_every_spec_finding_code_of_an_installed_probe_has_a_message() -> None:
    messages = _builtin_messages()
    first_cells = [
        line.split("|")[1]
        for line in FINDINGS_DOC.read_text().splitlines()
        if line.startswith("| `")
    ]
    codes = {code for cell in first_cells for code in re.findall(r"`([a-z]+\.[a-z_0-9]+)`", cell)}
    assert "dns.tampered" in codes and "kpj.invalid" in codes
    for code in sorted(codes):
        prefix = code.split(".")[0]
        if prefix == "probe":
            assert code in RUNNER_MESSAGES
            continue
        owner = PREFIX_OWNER.get(prefix, prefix)
        if owner not in messages:
            continue  # that probe is not part of this build yet
        assert code in messages[owner], f"{owner} has no message for {code}"


@pytest.mark.parametrize("cause_id", catalogue.cause_ids())
def test_every_cause_reads_in_both_languages(cause_id: str) -> None:
    texts = [catalogue.text(cause_id, lang) for lang in ("id", "en")]
    assert texts[0].title != texts[1].title
    for text in texts:
        assert text.title and text.explanation and text.fix


def test_every_word_has_both_languages() -> None:
    for key, text in words().items():
        assert text.get("id") and text.get("en"), key


def test_probe_titles_have_both_languages() -> None:
    for probe in plugins.discover().probes:
        if probe.builtin:
            assert isinstance(probe.title, dict), probe.id
            assert probe.title.get("id") and probe.title.get("en"), probe.id
