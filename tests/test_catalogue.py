"""The cause catalogue: every cause of SPEC §6, in both languages, with the article's steps."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from jmo_doctor import catalogue
from jmo_doctor.exitcodes import ExitStatus

#: SPEC §6 and §3: cause id → (article section, exit status it implies).
SPEC_CAUSES: dict[str, tuple[int | str | None, ExitStatus]] = {
    "offline": (3, ExitStatus.CRITICAL),
    "captive_portal": (3, ExitStatus.CRITICAL),
    "dns_failure": (3, ExitStatus.CRITICAL),
    "dns_tampered": (None, ExitStatus.CRITICAL),
    "unstable_connection": (3, ExitStatus.WARNING),
    "slow_connection": (3, ExitStatus.WARNING),
    "bpjs_unreachable": (None, ExitStatus.CRITICAL),
    "tls_intercepted": (None, ExitStatus.CRITICAL),
    "clock_skew": (None, ExitStatus.CRITICAL),
    "vpn_or_proxy": (None, ExitStatus.CRITICAL),
    "app_outdated": (2, ExitStatus.WARNING),
    "kpj_invalid": (1, ExitStatus.WARNING),
    "kpj_not_linked": (1, ExitStatus.OK),
    "membership_data": ("intro", ExitStatus.OK),
    "mtu_blackhole": (3, ExitStatus.CRITICAL),
    "ipv6_broken": (3, ExitStatus.WARNING),
    "device_unsupported": ("intro", ExitStatus.WARNING),
    "unexplained_failure": (None, ExitStatus.WARNING),
}

#: The article's own steps for section 3 (connection), word for word.
ARTICLE_CONNECTION_STEPS = (
    "Periksa koneksi internet kamu, pastikan sinyal Wi-Fi atau data seluler cukup kuat.",
    "Coba matikan dan nyalakan kembali koneksi internet kamu.",
    "Jika menggunakan Wi-Fi, coba pindah ke jaringan yang lebih stabil atau restart router kamu.",
    "Jika memungkinkan, gunakan koneksi internet yang berbeda untuk mengakses aplikasi JMO.",
)


def steps(cause_id: str, lang: str = "id") -> str:
    return "\n".join(catalogue.text(cause_id, lang).fix)


def test_the_catalogue_has_exactly_the_spec_causes() -> None:
    assert sorted(catalogue.cause_ids()) == sorted(SPEC_CAUSES)


@pytest.mark.parametrize("cause_id", SPEC_CAUSES)
def test_severity_and_article_section_follow_the_spec(cause_id: str) -> None:
    entry = catalogue.entry(cause_id)
    assert (entry.article_section, entry.severity) == SPEC_CAUSES[cause_id]


@pytest.mark.parametrize("cause_id", SPEC_CAUSES)
def test_every_cause_is_told_in_indonesian_and_english(cause_id: str) -> None:
    indonesian, english = catalogue.text(cause_id, "id"), catalogue.text(cause_id, "en")
    for words in (indonesian, english):
        assert words.title and words.summary and words.explanation
        assert words.fix and all(step.strip() for step in words.fix)
    # a translation, not a copy
    assert indonesian.title != english.title
    assert indonesian.explanation != english.explanation
    assert len(indonesian.fix) == len(english.fix)


def test_kpj_not_linked_carries_the_articles_steps_in_order() -> None:
    text = steps("kpj_not_linked")
    landmarks = ["login", '"Profil Saya"', '"Ubah Profil"', '"Tambah Kartu Peserta"', "11 digit"]
    positions = [text.index(word) for word in [*landmarks, '"Simpan"']]
    assert positions == sorted(positions)
    assert "Tambah Kartu Peserta" in steps("kpj_not_linked", "en")


def test_app_outdated_carries_the_articles_steps_in_order() -> None:
    text = steps("app_outdated")
    landmarks = ["Google Play Store", "App Store", '"Jamsostek Mobile (JMO)"', '"Update"', "saldo"]
    positions = [text.index(word) for word in landmarks]
    assert positions == sorted(positions)
    assert "Jamsostek Mobile (JMO)" in steps("app_outdated", "en")


def test_unstable_connection_carries_the_articles_connection_steps_word_for_word() -> None:
    assert catalogue.text("unstable_connection", "id").fix == ARTICLE_CONNECTION_STEPS


@pytest.mark.parametrize("cause_id", ["offline", "slow_connection"])
def test_other_connection_causes_keep_the_articles_checks(cause_id: str) -> None:
    fix = catalogue.text(cause_id, "id").fix
    assert ARTICLE_CONNECTION_STEPS[0] in fix
    assert ARTICLE_CONNECTION_STEPS[-1] in fix
    assert any("restart router" in step for step in fix)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_membership_data_names_every_official_channel(lang: str) -> None:
    text = steps("membership_data", lang)
    assert re.search(r"\b175\b", text)
    assert "BPJSTKinfo" in text
    assert re.search(r"kantor cabang|branch office", text)
    assert re.search(r"HRD|HR", text)


@pytest.mark.parametrize(
    ("cause_id", "must_say"),
    [
        ("captive_portal", "browser"),
        ("dns_tampered", "dns.google"),
        ("dns_failure", "dns.google"),
        ("tls_intercepted", "antivirus"),
        ("clock_skew", "otomatis"),
        ("vpn_or_proxy", "Matikan VPN"),
        ("bpjs_unreachable", "175"),
        ("bpjs_unreachable", "BPJSTKinfo"),
        ("kpj_invalid", "11 digit"),
    ],
)
def test_causes_outside_the_article_give_concrete_steps(cause_id: str, must_say: str) -> None:
    assert must_say in steps(cause_id)


def test_render_shows_title_explanation_and_numbered_steps() -> None:
    shown = catalogue.render("app_outdated", "id")
    words = catalogue.text("app_outdated", "id")
    assert shown.startswith(words.title + "\n")
    assert words.explanation in shown
    assert "Langkah perbaikan:" in shown
    assert f"  {len(words.fix)}. {words.fix[-1]}" in shown
    assert "What to do:" in catalogue.render("app_outdated", "en")


def test_an_unknown_language_falls_back_to_indonesian() -> None:
    assert catalogue.text("offline", "fr") == catalogue.text("offline", "id")


def test_an_unknown_cause_names_the_known_ones() -> None:
    with pytest.raises(catalogue.UnknownCauseError, match="kpj_not_linked"):
        catalogue.entry("no_such_cause")


def test_the_file_is_parsed_once() -> None:
    assert catalogue.entries() is catalogue.entries()


_GOOD_TEXT = 'title = "t"\nsummary = "s"\nexplanation = "e"\nfix = ["a"]\n'


def _entry(head: str = 'severity = "ok"\n', id_text: str = _GOOD_TEXT) -> str:
    return f"[x]\n{head}[x.id]\n{id_text}[x.en]\n{_GOOD_TEXT}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no causes"),
        ("x = [", "not valid TOML"),
        (_entry('severity = "fatal"\n'), "severity"),
        (_entry('severity = "ok"\narticle_section = true\n'), "article_section"),
        (_entry('severity = "ok"\narticle_section = 4\n'), "article_section"),
        (_entry('severity = "ok"\ncolour = "red"\n'), "unknown keys: colour"),
        (_entry(id_text=_GOOD_TEXT.replace('["a"]', "[]")), "'fix'"),
        (_entry(id_text=_GOOD_TEXT.replace('"t"', '" "')), "'title'"),
        ('[x]\nseverity = "ok"\n[x.id]\n' + _GOOD_TEXT, r"\[x\.en\] must be a table"),
    ],
)
def test_a_malformed_catalogue_is_refused_with_the_place_named(text: str, problem: str) -> None:
    with pytest.raises(catalogue.CatalogueError, match=problem):
        catalogue.parse(text, "causes.toml")


def test_a_well_formed_catalogue_parses() -> None:
    parsed = catalogue.parse(_entry('severity = "warning"\narticle_section = "intro"\n'))
    assert parsed["x"].severity is ExitStatus.WARNING
    assert parsed["x"].text("en").fix == ("a",)


# --- causes from plug-ins (SPEC §5) -----------------------------------------------------------


def _plugin_cause(
    cause_id: str, head: str = 'severity = "critical"\ncodes = ["vpn.down"]\n'
) -> str:
    return _entry(head).replace("[x", f"[{cause_id}")


#: What an entry point of ``jmo_doctor.causes`` may name, and what it must not.
PLUGIN_TEXT = _plugin_cause("vpn_down")
PLUGIN_BYTES = _plugin_cause("vpn_bytes").encode()
PLUGIN_TABLE = tomllib.loads(_plugin_cause("vpn_table"))
PLUGIN_RESOURCE = Path(__file__).parent / "plugins/corpvpn/jmo_doctor_corpvpn/causes.toml"
NOT_A_CATALOGUE = 42
TAKES_A_BUILTIN_ID = _plugin_cause("offline") + _plugin_cause("vpn_kept")
WITHOUT_CODES = _plugin_cause("vpn_nocodes", 'severity = "critical"\n')
WITH_OK_SEVERITY = _plugin_cause("vpn_fine", 'severity = "ok"\ncodes = ["vpn.up"]\n')
WITH_A_BAD_CODE = _plugin_cause("vpn_badcode", 'severity = "warning"\ncodes = ["VPN DOWN"]\n')
WITH_A_BAD_ID = _plugin_cause("Vpn-Down")
NOT_TOML = "[vpn"


def _entry_point(attribute: str, name: str = "vpn") -> EntryPoint:
    return EntryPoint(name, f"{__name__}:{attribute}", catalogue.PLUGIN_GROUP)


@pytest.mark.parametrize(
    ("attribute", "loaded", "warning"),
    [
        ("PLUGIN_TEXT", ["vpn_down"], ""),
        ("PLUGIN_BYTES", ["vpn_bytes"], ""),
        ("PLUGIN_TABLE", ["vpn_table"], ""),
        ("PLUGIN_RESOURCE", ["corpvpn_down"], "cause id 'offline' is already taken"),
        ("TAKES_A_BUILTIN_ID", ["vpn_kept"], "cause id 'offline' is already taken by jmo-doctor"),
        ("NOT_A_CATALOGUE", [], "is of type int, not a catalogue"),
        ("WITHOUT_CODES", [], "'codes' must be a non-empty list"),
        ("WITH_OK_SEVERITY", [], "'severity' must be one of critical, warning"),
        ("WITH_A_BAD_CODE", [], "'codes' must be a non-empty list of finding codes"),
        ("WITH_A_BAD_ID", [], "a cause id is lower case letters"),
        ("NOT_TOML", [], "not valid TOML"),
        ("NO_SUCH_ATTRIBUTE", [], "AttributeError"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_plugin_catalogue_is_validated_like_the_shipped_one(
    attribute: str, loaded: list[str], warning: str
) -> None:
    found = catalogue.load_plugins([_entry_point(attribute)])
    assert list(found.entries) == loaded
    if warning:
        assert len(found.warnings) == 1 and warning in found.warnings[0], found.warnings
        assert found.warnings[0].startswith("cause plug-in 'vpn' (")
    else:
        assert found.warnings == ()
    for item in found.entries.values():
        assert item.codes and item.source.startswith("cause plug-in 'vpn'")
        assert item.severity in (ExitStatus.WARNING, ExitStatus.CRITICAL)


def test_a_broken_plugin_catalogue_does_not_cost_the_others() -> None:
    found = catalogue.load_plugins(
        [_entry_point("NOT_TOML", "a-broken"), _entry_point("PLUGIN_TEXT", "b-good")]
    )
    assert list(found.entries) == ["vpn_down"]
    assert len(found.warnings) == 1 and "'a-broken'" in found.warnings[0]
    assert "the run goes on without its causes" in found.warnings[0]


def test_two_plugins_cannot_share_a_cause_id() -> None:
    found = catalogue.load_plugins(
        [_entry_point("PLUGIN_TEXT", "first"), _entry_point("PLUGIN_TEXT", "second")]
    )
    assert found.entries["vpn_down"].source.startswith("cause plug-in 'first'")
    assert found.warnings == (
        "cause plug-in 'second' (tests.test_catalogue:PLUGIN_TEXT): cause id 'vpn_down' is "
        "already taken by cause plug-in 'first' (tests.test_catalogue:PLUGIN_TEXT); ignored",
    )


def test_the_shipped_catalogue_may_not_name_finding_codes() -> None:
    # built-in causes have rules; "codes" is the plug-ins' way in
    with pytest.raises(catalogue.CatalogueError, match="unknown keys: codes"):
        catalogue.parse(_plugin_cause("x"))
