"""Every user-facing string exists in Bahasa Indonesia and in English."""

from __future__ import annotations

import os
import re
import string
import time
from pathlib import Path

import click
import pytest

from jmo_doctor import catalogue, plugins
from jmo_doctor.cli import run_cli
from jmo_doctor.cli_language import help_key, language_of
from jmo_doctor.commands import cli
from jmo_doctor.i18n import WordsError, parse_words, words
from jmo_doctor.runner import RUNNER_MESSAGES
from tests.i18n_scan import problems_in

ROOT = Path(__file__).parent.parent
FINDINGS_DOC = ROOT / "docs" / "findings.md"
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


# --- the words catalogue -------------------------------------------------------------------


def test_the_words_file_is_checked_when_read() -> None:
    assert len(words()) > 100
    with pytest.raises(WordsError, match="exactly the keys id and en"):
        parse_words({"a": {"id": "x"}}, "<test>")
    with pytest.raises(WordsError, match="different placeholders"):
        parse_words({"a": {"id": "{n} x", "en": "{count} x"}}, "<test>")
    with pytest.raises(WordsError, match="empty"):
        parse_words({"a": {"id": " ", "en": "x"}}, "<test>")


#: ``say("key"``, ``label("key"``, ``said("key"`` … in the code; f-string keys by prefix.
_KEY_USE = re.compile(r"""\b(?:say|label|said|both|_word)\(\s*f?["']([a-z][a-z0-9_.-]*)(["'{])""")


def _keys_in_code() -> list[tuple[str, str, bool]]:
    """(file, key, is a prefix) for every key the code looks up (an f-string's: a prefix)."""
    used = []
    for path in sorted((ROOT / "jmo_doctor").rglob("*.py")):
        for key, after in _KEY_USE.findall(path.read_text()):
            used.append((path.name, key, after == "{" or key.endswith(".")))  # "probe." + x
    return used


def test_every_key_the_code_uses_is_in_the_catalogue() -> None:
    known = words()
    used = _keys_in_code()
    assert len(used) > 60
    history_words = {f"history.{k}" for k in ("empty", "title", "time", "status", "cause")}
    assert history_words <= set(known)
    for where, key, prefix in used:
        if where == "history.py" and f"history.{key}" in known:
            continue  # report/history.py's _word() adds the prefix
        if prefix:  # an f-string: some key must start so
            assert any(k.startswith(key) for k in known), f"{where}: no key starts {key!r}"
        else:
            assert key in known, f"{where}: {key!r} is not in words.toml"


def test_every_status_confidence_and_verdict_reason_has_words() -> None:
    for key in ("ok", "warning", "critical", "unknown"):
        assert f"status.{key}" in words()
    for key in ("pass", "warn", "fail", "skip", "error"):
        assert f"probe.{key}" in words()
    for key in ("high", "medium", "low"):
        assert f"confidence.{key}" in words()
    for key in ("not_selected", "quick", "skipped", "error", "incomplete"):
        assert f"verdict.reason.{key}" in words()


# --- no code and no English in what an Indonesian reader reads -------------------------------


def test_the_scan_finds_codes_and_english() -> None:
    assert problems_in("Masalah DNS: dns.servfail ×5.") == ["dns.servfail"]
    assert set(problems_in("tidak terukur: no_time (dns: x has no address)")) >= {"has", "no"}
    assert problems_in("Jabat tangan TLS gagal: timeout.") == ["timeout"]
    assert problems_in("Server DNS menjawab gagal (SERVFAIL) ×5.") == []


def _indonesian_texts() -> dict[str, str]:
    """Every built-in text a person reads in Indonesian, by where it comes from."""
    texts = {f"words.toml [{k}]": v["id"] for k, v in words().items()}
    for cause_id in catalogue.cause_ids():
        said = catalogue.text(cause_id, "id")
        texts[f"causes.toml {cause_id}.title"] = said.title
        texts[f"causes.toml {cause_id}.explanation"] = said.explanation
        for n, step in enumerate(said.fix, start=1):
            texts[f"causes.toml {cause_id}.fix[{n}]"] = step
    for owner, messages in {**_builtin_messages(), **_probe_word_tables()}.items():
        for code, text in messages.items():
            texts[f"{owner} {code}"] = text["id"]
    return texts


def _probe_word_tables() -> dict[str, dict[str, dict[str, str]]]:
    from probes import dns, http, tcp, tls
    from probes._common import errors
    from probes.bandwidth import probe as bandwidth

    tables = {
        "dns.PROBLEM_NAMES": dns.PROBLEM_NAMES,
        "tls.PROBLEM_NAMES": tls.PROBLEM_NAMES,
        "http.PROBLEM_NAMES": http.PROBLEM_NAMES,
        "tcp.PROBLEM_NAMES": tcp.PROBLEM_NAMES,
        "bandwidth.UNAVAILABLE_REASONS": bandwidth.UNAVAILABLE_REASONS,
        "errors.ERROR_WORDS": errors.ERROR_WORDS,
    }
    return {owner: {k: dict(v) for k, v in table.items()} for owner, table in tables.items()}


def test_every_finding_code_has_a_short_name_for_the_summary() -> None:
    messages = _builtin_messages()
    tables = _probe_word_tables()
    for probe in ("dns", "tls", "http", "tcp"):
        assert set(messages[probe]) == set(tables[f"{probe}.PROBLEM_NAMES"]), probe
    for owner, table in tables.items():
        for key, text in table.items():
            assert text.get("id") and text.get("en") and text["id"] != text["en"], (owner, key)


#: Words English and Indonesian share, or names of things: allowed in Indonesian text.
_SHARED = {"no"}  # "no" stays out of the scan here: "No." abbreviates "nomor"


def test_indonesian_texts_have_no_codes_and_no_english() -> None:
    bad = []
    for where, text in _indonesian_texts().items():
        if where.startswith("words.toml [click."):
            continue  # click's Indonesian is checked through the CLI below
        problems = [p for p in problems_in(_without_placeholders(text)) if p not in _SHARED]
        if problems:
            bad.append(f"{where}: {problems}: {text}")
    assert not bad, "\n".join(bad)


def _without_placeholders(text: str) -> str:
    return re.sub(r"\{[^}]*\}", "", text)


# --- the command line: --help and click's usage errors ------------------------------------


def _commands() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command with its path (``()`` is jmo-doctor itself), subcommands included."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            for name in command.list_commands(click.Context(command)):
                sub = command.get_command(click.Context(command), name)
                assert sub is not None
                walk(sub, (*path, name))

    walk(cli, ())
    return found


def test_every_command_and_option_help_has_words_in_both_languages() -> None:
    known = words()
    for path, command in _commands():
        key = help_key(path)
        assert key in known, f"{key}: add the help of `{' '.join(path)}` to words.toml"
        for param in command.params:
            if isinstance(param, click.Option) and param.help and param.name != "version":
                keys = (f"{key}.{param.name}", f"help.option.{param.name}")
                assert any(k in known for k in keys), f"{keys[0]}: no words for {param.opts}"


def _speaking(lang: str, isolated_cli: Path) -> None:
    config = isolated_cli.parent / "config" / "jmo-doctor" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'lang = "{lang}"\n')


#: Option names, metavars, choice lists and a listing's command names: syntax, not words.
_SYNTAX = re.compile(r"^ +[a-z-]+(?= {2})|--?[\w-]+|\[[^\]]*\]|\b[A-Z][A-Z_]+\b|`[^`]*`")


@pytest.mark.usefixtures("isolated_cli")
def test_every_help_speaks_the_language(
    isolated_cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown: dict[str, dict[tuple[str, ...], str]] = {"id": {}, "en": {}}
    for lang in ("id", "en"):
        _speaking(lang, isolated_cli)
        for path, _ in _commands():
            assert run_cli([*path, "--help"]) == 0
            shown[lang][path] = capsys.readouterr().out
    for path, indonesian in shown["id"].items():
        english = shown["en"][path]
        assert indonesian.startswith("Penggunaan: jmo-doctor") and "Opsi:" in indonesian
        assert english.startswith("Usage: jmo-doctor") and "Options:" in english
        described = indonesian.splitlines()[1:]  # after the usage line, which is syntax
        bad = [p for line in described for p in problems_in(_SYNTAX.sub("", line))]
        assert not bad, f"{path}: {bad}\n{indonesian}"


@pytest.mark.usefixtures("isolated_cli")
@pytest.mark.parametrize(
    ("args", "indonesian"),
    [
        (["run", "--nope"], "Tidak ada opsi '--nope'"),
        (["kpj", "check"], "Argumen tidak diberikan"),
        (["run", "--format", "xml"], "bukan salah satu dari"),
        (["nosuchcommand"], "Tidak ada perintah 'nosuchcommand'"),
        (["run", "--timeout"], "Opsi '--timeout' memerlukan sebuah nilai"),
        (["report", "show", "/nonexistent/r.json"], "berkas tidak ditemukan"),
        (["causes", "nosuch"], "id penyebab 'nosuch' tidak dikenal"),
    ],
)
def test_usage_and_other_errors_speak_indonesian(
    args: list[str], indonesian: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(args) == 3
    line = capsys.readouterr().err.strip()
    assert line.startswith("jmo-doctor: galat: ") and indonesian in line, line
    words_only = re.sub(r"\(lihat: [^)]*\)|\(yang dikenal: .*", "", line)
    assert not problems_in(_SYNTAX.sub("", words_only)), line
    assert run_cli([*args, "--lang", "en"]) == 3
    assert capsys.readouterr().err.startswith("jmo-doctor: error: ")


@pytest.mark.usefixtures("isolated_cli")
def test_the_command_line_language_comes_from_lang_then_config_then_indonesian(
    isolated_cli: Path, tmp_path: Path
) -> None:
    assert language_of(["run"]) == "id"
    assert language_of(["run", "--lang", "en"]) == "en"
    assert language_of(["run", "--lang=en"]) == "en"
    assert language_of(["schedule", "install", "--", "--lang", "en"]) == "id"  # run's own
    assert language_of(["run", "--lang", "xx"]) == "id"
    _speaking("en", isolated_cli)
    assert language_of(["history"]) == "en"
    assert language_of(["history", "--lang", "id"]) == "id"
    broken = tmp_path / "broken.toml"
    broken.write_text('lang = "en"\ncolour = 1\n')  # does not load cleanly: not trusted
    assert language_of(["run", "--config", str(broken)]) == "id"
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert language_of(["run", "--config", str(fifo)]) == "id"  # not waited on
    assert time.monotonic() - started < 0.5
