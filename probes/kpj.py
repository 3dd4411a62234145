"""The ``kpj`` probe: is the KPJ number given with ``--kpj`` well formed (11 digits)?

Offline and instant. The full number never leaves this module: the result, its summary
and its data carry only the masked form (at most the last 3 digits).
"""

from __future__ import annotations

from typing import ClassVar

from jmo_doctor.api import (
    KPJ_LENGTH,
    BaseProbe,
    LocalText,
    Messages,
    ProbeContext,
    ProbeResult,
    Status,
    check_kpj,
    verdict_message,
)


class KpjProbe(BaseProbe):
    id: ClassVar[str] = "kpj"
    title: ClassVar[LocalText] = {"id": "Nomor KPJ", "en": "KPJ number"}
    order: ClassVar[int] = 20
    timeout: ClassVar[float | None] = 2.0
    messages: ClassVar[Messages] = {
        "kpj.invalid": {
            "id": "Nomor KPJ tidak valid. {detail}",
            "en": "Invalid KPJ number. {detail}",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        raw = ctx.options.kpj
        if raw is None:
            return ProbeResult(
                id=self.id,
                status=Status.SKIP,
                summary=ctx.text(
                    id="Tidak ada nomor KPJ yang diberikan (periksa dengan --kpj NOMOR).",
                    en="No KPJ number was given (use --kpj NUMBER to check one).",
                ),
            )
        verdict = check_kpj(raw)
        detail = verdict_message(verdict, ctx.lang)
        details = {"masked": verdict.masked, "length": verdict.length, "expected": KPJ_LENGTH}
        if verdict.valid:
            return ProbeResult(id=self.id, status=Status.PASS, summary=detail, details=details)
        finding = ctx.finding(
            "kpj.invalid",
            reason=verdict.reason,
            length=verdict.length,
            masked=verdict.masked,
            detail=detail,
        )
        return ProbeResult(
            id=self.id,
            status=Status.FAIL,
            summary=detail,
            findings=(finding,),
            details=details,
        )
