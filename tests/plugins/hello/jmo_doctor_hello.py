"""A third-party probe, written the way an outside author would: only the public API."""

from jmo_doctor.api import BaseProbe, ProbeContext, ProbeResult, Status


class HelloProbe(BaseProbe):
    id = "hello"
    title = {"id": "Sapaan dari plug-in", "en": "Greeting from a plug-in"}
    messages = {
        "hello.greeting": {"id": "Halo dari {who}.", "en": "Hello from {who}."},
    }

    async def run(self, ctx: ProbeContext) -> ProbeResult:
        finding = ctx.finding("hello.greeting", who="plug-in")
        return ProbeResult(
            id=self.id,
            status=Status.PASS,
            summary=ctx.text(id="Plug-in berjalan.", en="The plug-in ran."),
            findings=(finding,),
            metrics={"answer": 42.0},
        )
