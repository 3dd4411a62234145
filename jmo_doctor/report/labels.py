"""Words the renderers print around the report's own text, in both languages."""

from __future__ import annotations

from jmo_doctor.i18n import pick

LABELS: dict[str, dict[str, str]] = {
    "probes": {"id": "Pemeriksaan", "en": "Checks"},
    "causes": {"id": "Penyebab yang paling mungkin", "en": "Most likely causes"},
    "fix": {"id": "Langkah perbaikan", "en": "What to do"},
    "evidence": {"id": "Bukti", "en": "Evidence"},
    "verdict": {"id": "Kesimpulan", "en": "Verdict"},
    "exit_code": {"id": "kode keluar", "en": "exit code"},
    "seconds": {"id": "dtk", "en": "s"},
    "data_used": {"id": "Kuota data terpakai: sekitar {amount}", "en": "Data used: about {amount}"},
    "confidence": {"id": "keyakinan", "en": "confidence"},
    "article": {"id": "artikel bagian", "en": "article section"},
    "article_intro": {"id": "pendahuluan artikel", "en": "article introduction"},
    "warnings": {"id": "Peringatan", "en": "Warnings"},
    "redacted": {
        "id": "Data pribadi (nomor KPJ, alamat IP, nama perangkat) disamarkan.",
        "en": "Personal data (KPJ number, IP addresses, device name) is redacted.",
    },
    "not_redacted": {
        "id": "Laporan TIDAK disamarkan: jangan bagikan ke orang lain.",
        "en": "Report NOT redacted: do not share it with others.",
    },
    "all_clear": {
        "id": "Tidak ada masalah pada perangkat, jaringan, atau versi aplikasi.",
        "en": "Nothing is wrong with the device, the network or the app version.",
    },
    "most_likely": {"id": "Kemungkinan besar:", "en": "Most likely:"},
    "follow_steps": {
        "id": "Ikuti langkah perbaikan di atas.",
        "en": "Follow the steps above.",
    },
    "saved": {"id": "Laporan disimpan ke {path}", "en": "Report saved to {path}"},
    "nothing": {"id": "tidak ada", "en": "none"},
    "verdict.quick": {
        "id": "Kecepatan internet tidak diukur (--quick).",
        "en": "Bandwidth was not measured (--quick).",
    },
    "verdict.version_unknown": {
        "id": "Versi JMO yang terpasang tidak diketahui (gunakan --app-version).",
        "en": "The installed JMO version is not known (use --app-version).",
    },
    "verdict.partial": {
        "id": "Tidak ada masalah pada yang diperiksa ({checked}); "
        "tidak diperiksa: {not_checked} ({why}).",
        "en": "Nothing wrong found in what was checked ({checked}); "
        "not checked: {not_checked} ({why}).",
    },
    "verdict.reason.not_selected": {
        "id": "dilewati oleh --only/--skip",
        "en": "left out by --only/--skip",
    },
    "verdict.reason.quick": {"id": "dilewati oleh --quick", "en": "skipped by --quick"},
    "verdict.reason.skipped": {
        "id": "tidak ada yang bisa diukur",
        "en": "nothing it could measure",
    },
    "verdict.reason.error": {"id": "tidak selesai", "en": "did not finish"},
    "verdict.reason.incomplete": {"id": "tidak dapat diperiksa", "en": "could not be checked"},
    "verdict.unfinished": {
        "id": "Ada pemeriksaan yang tidak selesai ({probes}); tidak ada kesimpulan.",
        "en": "A check did not finish ({probes}); no verdict.",
    },
    "interrupted_by": {
        "id": "Dihentikan oleh {signal}: laporan berisi yang sudah diperiksa sampai saat itu.",
        "en": "Stopped by {signal}: the report holds what was checked until then.",
    },
    "builtin": {"id": "bawaan", "en": "built-in"},
    "skipped_by_quick": {"id": "dilewati oleh --quick", "en": "skipped by --quick"},
    "no_causes": {
        "id": "Pemeriksaan tidak dapat diselesaikan; tidak ada kesimpulan.",
        "en": "The checks could not be completed; no verdict.",
    },
    "status.ok": {"id": "OK", "en": "OK"},
    "status.warning": {"id": "PERINGATAN", "en": "WARNING"},
    "status.critical": {"id": "KRITIS", "en": "CRITICAL"},
    "status.unknown": {"id": "TIDAK DIKETAHUI", "en": "UNKNOWN"},
    "confidence.high": {"id": "tinggi", "en": "high"},
    "confidence.medium": {"id": "sedang", "en": "medium"},
    "confidence.low": {"id": "rendah", "en": "low"},
    "probe.pass": {"id": "ok", "en": "ok"},
    "probe.warn": {"id": "awas", "en": "warn"},
    "probe.fail": {"id": "gagal", "en": "fail"},
    "probe.skip": {"id": "lewat", "en": "skip"},
    "probe.error": {"id": "galat", "en": "error"},
    "running": {"id": "berjalan", "en": "running"},
    "waiting": {"id": "menunggu", "en": "waiting"},
}


def label(key: str, lang: str) -> str:
    return pick(LABELS.get(key, {"en": key}), lang)
