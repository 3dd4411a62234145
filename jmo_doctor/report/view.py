"""One read-only view of a report document, parsed once, for every renderer.

Text, Markdown, Nagios, Prometheus, the history and the notifications all show the same
document; each once read the JSON dict itself, with its own fallbacks. Here the document
is read once, tolerant as those readers were: a live document is complete, a saved one
passed the schema (``document.load``), but older reports lack optional fields (``scope``,
``targets``, ``all_clear``, ``error``) and garbage in an optional field reads as absent.
The facts derived from several fields live here too: the language, the first cause,
which targets are BPJS's and the key metrics of the run.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from jmo_doctor.report.metrics import KEY_METRICS, TCP_STATS

LANGS = ("id", "en")
DEFAULT_LANG = "id"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def as_number(value: Any) -> float | None:
    """``value`` as a float when it is a JSON number (not a boolean), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def _items(value: Any) -> tuple[Mapping[str, Any], ...]:
    """The objects of a JSON array; anything else in it (or no array) is left out."""
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item for item in value if isinstance(item, Mapping))


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(each) for each in value) if isinstance(value, list | tuple) else ()


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class RunView:
    id: str
    started_at_text: str  # as the document says it (shown as is)
    started_at: datetime  # parsed, in UTC; now when the text is no ISO time
    duration_s: float | None  # int or float as the document has it (Markdown shows it raw)
    lang: str  # "id" or "en": anything else reads as Indonesian
    data_bytes: float | None = None  # data the run used (reports before it: None)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> RunView:
        text = str(raw.get("started_at", ""))
        duration = raw.get("duration_s")
        lang = raw.get("lang")
        return cls(
            id=str(raw.get("id", "")),
            started_at_text=text,
            started_at=_parse_time(text),
            duration_s=duration if as_number(duration) is not None else None,
            lang=lang if isinstance(lang, str) and lang in LANGS else DEFAULT_LANG,
            data_bytes=as_number(raw.get("data_bytes")),
        )


def _parse_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


@dataclass(frozen=True)
class FindingView:
    code: str
    target: str | None  # None for a finding about no target (or an empty name)
    message: str | None  # None when the document has none: show the code

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> FindingView:
        return cls(
            code=str(raw.get("code", "")),
            target=str(raw["target"]) if raw.get("target") else None,
            message=_optional_str(raw.get("message")),
        )


@dataclass(frozen=True)
class ProbeView:
    id: str
    status: str  # pass | warn | fail | skip | error; a probe with no status did not finish
    summary: str
    duration_s: float | None
    findings: tuple[FindingView, ...]
    metrics: Mapping[str, float]  # numbers only, by metric name
    details: Mapping[str, Any]  # the probe's own shape (tcp: per target, per family)

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ProbeView:
        metrics = {
            str(name): number
            for name, value in _mapping(raw.get("metrics")).items()
            if (number := as_number(value)) is not None
        }
        return cls(
            id=str(raw.get("id", "")),
            status=str(raw.get("status", "error")),
            summary=str(raw.get("summary", "")),
            duration_s=as_number(raw.get("duration_s")),
            findings=tuple(FindingView.of(item) for item in _items(raw.get("findings"))),
            metrics=MappingProxyType(metrics),
            details=_mapping(raw.get("details")),
        )

    def first_metric(self, names: Sequence[str]) -> float | None:
        """The first of ``names`` this probe measured (probes may rename a metric)."""
        return next((self.metrics[name] for name in names if name in self.metrics), None)


@dataclass(frozen=True)
class CauseView:
    id: str
    rank: int | None
    confidence: str  # high | medium | low; "" when the document has none
    article_section: int | str | None  # a section number or "intro"
    severity: str
    title: str | None  # None when the document has none: show the id
    explanation: str
    fix: tuple[str, ...]
    evidence: tuple[str, ...]
    summary: str = ""  # one line for the short verdict; "" in reports older than it

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> CauseView:
        rank = raw.get("rank")
        section = raw.get("article_section")
        return cls(
            id=str(raw.get("id", "")),
            rank=rank if isinstance(rank, int) and not isinstance(rank, bool) else None,
            confidence=str(raw.get("confidence", "")),
            article_section=section if isinstance(section, int | str) else None,
            severity=str(raw.get("severity", "ok")),
            title=_optional_str(raw.get("title")),
            explanation=str(raw.get("explanation", "")),
            fix=_strings(raw.get("fix")),
            evidence=_strings(raw.get("evidence")),
            summary=str(raw.get("summary") or ""),
        )


@dataclass(frozen=True)
class ScopeView:
    """What the verdict speaks for; empty for reports older than the scope."""

    checked: tuple[str, ...]
    not_checked: Mapping[str, str]  # probe id → why it gave no verdict
    installed_version_known: bool | None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> ScopeView:
        missing = raw.get("not_checked")
        known = raw.get("installed_version_known")
        return cls(
            checked=_strings(raw.get("checked") or ()),
            not_checked=MappingProxyType(
                {str(k): str(v) for k, v in missing.items()} if isinstance(missing, Mapping) else {}
            ),
            installed_version_known=known if isinstance(known, bool) else None,
        )


@dataclass(frozen=True)
class TargetView:
    name: str
    host: str
    role: str  # bpjs | reference | …


@dataclass(frozen=True)
class ReportView:
    version: str  # jmo-doctor's, that wrote the report
    platform: str
    run: RunView
    status: str  # ok | warning | critical | unknown
    exit_code: int
    error: str | None  # why the check could not be done at all (exit code 3)
    all_clear: bool
    scope: ScopeView
    targets: tuple[TargetView, ...]  # with roles; empty in reports older than the list
    probes: tuple[ProbeView, ...]
    causes: tuple[CauseView, ...]  # in the document's order
    warnings: tuple[str, ...]
    redacted: bool

    @classmethod
    def of(cls, doc: Mapping[str, Any] | ReportView) -> ReportView:
        """The view of ``doc``; a view is returned as it is (renderers call each other)."""
        if isinstance(doc, ReportView):
            return doc
        code = doc.get("exit_code", 3)
        error = doc.get("error")
        return cls(
            version=str(_mapping(doc.get("tool")).get("version", "")),
            platform=str(_mapping(doc.get("environment")).get("platform", "")),
            run=RunView.of(_mapping(doc.get("run"))),
            status=str(doc.get("status", "unknown")),
            exit_code=code if isinstance(code, int) and not isinstance(code, bool) else 3,
            error=error if isinstance(error, str) and error else None,
            all_clear=bool(doc.get("all_clear")),
            scope=ScopeView.of(_mapping(doc.get("scope"))),
            targets=tuple(
                TargetView(item["name"], str(item.get("host", "")), str(item.get("role", "")))
                for item in _items(doc.get("targets"))
                if isinstance(item.get("name"), str)
            ),
            probes=tuple(ProbeView.of(item) for item in _items(doc.get("probes"))),
            causes=tuple(CauseView.of(item) for item in _items(doc.get("causes"))),
            warnings=_strings(doc.get("warnings")),
            redacted=bool(doc.get("redacted")),
        )

    @property
    def lang(self) -> str:
        return self.run.lang

    @property
    def started_at(self) -> datetime:
        return self.run.started_at

    @property
    def findings(self) -> tuple[FindingView, ...]:
        return tuple(finding for probe in self.probes for finding in probe.findings)

    def probe(self, probe_id: str) -> ProbeView | None:
        return next((probe for probe in self.probes if probe.id == probe_id), None)

    @property
    def first_cause(self) -> CauseView | None:
        """The cause ranked first (a cause without a rank counts as rank 0)."""
        if not self.causes:
            return None
        return min(self.causes, key=lambda cause: float(cause.rank or 0))

    def tcp_targets(self) -> dict[str, dict[str, float]]:
        """Per target name: the tcp probe's stats (``TCP_STATS`` keys present, plus ``samples``).

        A target no family could reach has no metrics, only details: its loss (100 %) is
        taken from there so that an outage shows up as loss rather than as a missing value.
        """
        probe = self.probe("tcp")
        if probe is None:
            return {}
        found: dict[str, dict[str, float]] = {}
        for key, number in probe.metrics.items():
            target, _, name = key.rpartition(".")
            if target and name in (*TCP_STATS, "samples"):
                found.setdefault(target, {})[name] = number
        for target, info in probe.details.items():
            families = info.get("families") if isinstance(info, Mapping) else None
            if not isinstance(families, Mapping) or "loss_pct" in found.get(target, {}):
                continue
            losses = [
                loss
                for fam in families.values()
                if isinstance(fam, Mapping) and (loss := as_number(fam.get("loss_pct"))) is not None
            ]
            if losses:
                found.setdefault(str(target), {})["loss_pct"] = min(losses)
        return found

    def bpjs_targets(self, explicit: Collection[str] | None = None) -> set[str]:
        """The names of the BPJS-role targets of the run.

        The document's own ``targets`` list (with roles) decides; the caller's list wins
        when given; reports older than that list fall back to the tcp details, then to the
        default config's naming (``bpjs-*``).
        """
        if explicit is not None:
            return set(explicit)
        roles = {target.name: target.role for target in self.targets}
        probe = self.probe("tcp")
        for name, info in probe.details.items() if probe else ():
            if isinstance(info, Mapping) and isinstance(info.get("role"), str):
                roles.setdefault(str(name), info["role"])
        if roles:
            return {name for name, role in roles.items() if role == "bpjs"}
        return {name for name in self.tcp_targets() if name.lower().startswith("bpjs")}

    def key_metrics(self, bpjs: Collection[str] | None = None) -> dict[str, float | None]:
        """Every ``KEY_METRICS`` column; None where the run did not measure it."""
        targets = self.tcp_targets()
        chosen = self.bpjs_targets(bpjs)
        values: dict[str, float | None] = {}
        for metric in KEY_METRICS:
            if metric.per_bpjs_target:
                found = [
                    value
                    for target, stats in targets.items()
                    if target in chosen
                    and (value := next((stats[n] for n in metric.names if n in stats), None))
                    is not None
                ]
                # the worst BPJS host: the app needs all of them
                values[metric.column] = max(found) if found else None
            else:
                probe = self.probe(metric.probe)
                values[metric.column] = probe.first_metric(metric.names) if probe else None
        return values
