"""`report summary` on a desk's folder: 10,000 reports, reports per second and peak memory.

The reports are the two captured from the lab (``tests/fixtures/reports``, ~30 KB each,
real size and shape), copied with what differs between workers varied: the run id and
day, the status and first cause, the installed and latest JMO version, the operator. The
CLI runs as a user runs it (a new process, ``--format json``), three times; the median
wall time gives reports per second, the CPU time reports per CPU-second (less dependent
on what else the machine runs), and the largest resident set of the runs shows that the
documents are streamed, not kept.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "tests" / "fixtures" / "reports"
OPERATORS = ("Telkomsel", "Indosat Ooredoo", "XL Axiata", "Smartfren", "by.U")
VERSIONS = ("4.0.3", "4.1.0", "4.1.1", "4.2.0")


def _variant(base: dict[str, Any], index: int, rng: random.Random) -> dict[str, Any]:
    doc = json.loads(json.dumps(base))
    doc["run"]["id"] = f"bench-{index:05d}"
    doc["run"]["started_at"] = f"2026-11-{1 + index % 30:02d}T{index % 24:02d}:00:00Z"
    for probe in doc["probes"]:
        if probe["id"] == "system" and rng.random() < 0.7:
            probe["details"]["cellular"] = {"operator": rng.choice(OPERATORS)}
        if probe["id"] == "store":
            probe["details"]["installed"]["version"] = rng.choice(VERSIONS)
    return doc


def make_reports(folder: Path, count: int, seed: int = 15) -> int:
    """``count`` report files in ``folder`` (100 per subfolder, as tickets pile up)."""
    rng = random.Random(seed)
    bases = [json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))]
    written = 0
    for index in range(count):
        sub = folder / f"ticket-{index // 100:03d}"
        sub.mkdir(exist_ok=True)
        doc = _variant(bases[index % len(bases)], index, rng)
        (sub / f"{index:05d}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=2))
        written += 1
    return written


def run(count: int = 10_000, runs: int = 3) -> dict[str, float]:
    script = shutil.which("jmo-doctor") or str(Path(sys.executable).parent / "jmo-doctor")
    with tempfile.TemporaryDirectory(prefix="jmo-bench-summary-") as folder:
        made = make_reports(Path(folder), count)
        size = sum(path.stat().st_size for path in Path(folder).rglob("*.json"))
        times, cpu = [], []
        for _ in range(runs):
            used = _children_cpu()
            started = time.perf_counter()
            done = subprocess.run(
                [script, "report", "summary", folder, "--format", "json"],
                check=True,
                capture_output=True,
                text=True,
            )
            times.append(time.perf_counter() - started)
            cpu.append(_children_cpu() - used)
            assert json.loads(done.stdout)["reports"] == made, done.stderr
    # ru_maxrss: kilobytes on Linux, the largest of the finished children
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    median, cpu_median = statistics.median(times), statistics.median(cpu)
    print(f"summary: {made} reports, {size / 2**20:.0f} MiB, median of {runs}: {median:.2f} s")
    print(f"summary: {made / median:,.0f} reports/second  peak RSS {peak_mb:.0f} MiB")
    # the wall time depends on what else runs; CPU time per report does not as much
    print(f"summary: {made / cpu_median:,.0f} reports per CPU-second (one core)")
    return {
        "reports_per_second": made / median,
        "reports_per_cpu_second": made / cpu_median,
        "seconds": median,
        "peak_rss_mb": peak_mb,
    }


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
