"""A third-party plug-in that brings a probe and the causes its findings point to.

The office VPN it checks is make-believe: ``JMO_DOCTOR_CORPVPN`` says what the probe
finds — ``down`` (a finding the plug-in's own cause explains), ``odd`` (a finding no
cause explains), anything else (all is well). Only the public API is used.
"""

import os
from importlib import resources

from jmo_doctor.api import BaseProbe, ProbeContext, ProbeResult, Status

#: The plug-in's cause catalogue, shipped as a resource next to this module.
CAUSES = resources.files(__name__).joinpath("causes.toml")

#: A catalogue still being written: it lacks its English words, so jmo-doctor refuses it
#: with a warning and goes on with the rest.
DRAFT_CAUSES = """
[corpvpn_expired]
severity = "warning"
codes = ["corpvpn.expired"]

[corpvpn_expired.id]
title = "Sertifikat VPN kantor kedaluwarsa"
summary = "Sertifikat VPN kantor sudah kedaluwarsa."
explanation = "Sertifikat VPN kantor sudah kedaluwarsa."
fix = ["Minta sertifikat baru ke bagian IT."]
"""


class CorpVpnProbe(BaseProbe):
    id = "corpvpn"
    title = {"id": "VPN kantor", "en": "Office VPN"}
    messages = {
        "corpvpn.down": {
            "id": "Terowongan VPN kantor {tunnel} terputus.",
            "en": "The office VPN tunnel {tunnel} is down.",
        },
        "corpvpn.odd": {
            "id": "VPN kantor menjawab dengan kode {answer} yang tidak dikenal.",
            "en": "The office VPN answered with an unknown code {answer}.",
        },
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        state = os.environ.get("JMO_DOCTOR_CORPVPN", "up")
        if state == "down":
            finding = ctx.finding("corpvpn.down", tunnel="tun-kantor")
        elif state == "odd":
            finding = ctx.finding("corpvpn.odd", answer=417)
        else:
            summary = ctx.text(id="VPN kantor tersambung.", en="The office VPN is connected.")
            return ProbeResult(id=self.id, status=Status.PASS, summary=summary)
        return ProbeResult(
            id=self.id, status=Status.FAIL, summary=finding.message, findings=(finding,)
        )
