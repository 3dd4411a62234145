"""Soak: hundreds of consecutive runs in ONE process against the healthy network lab.

Cron runs jmo-doctor every few minutes for months. Each run is a fresh process there,
but the code must not depend on that (Termux job schedulers, the Python API, and
`jmo-doctor` embedded in other tools keep a process alive): open file descriptors,
threads and memory must stay flat from run to run, and the history database must stay
within its retention however many runs go by.

``run()`` starts the lab (tests/lab: needs root and network namespaces), writes a config
with ``[history] max_runs``, and starts bench/soak_worker.py in the phone namespace,
which calls ``jmo_doctor.cli.run_cli`` ``runs`` times and samples itself every
``runs // 10`` runs. The table and the verdict are printed; the figures are returned.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.lab import Lab

REPO = Path(__file__).resolve().parent.parent
#: RSS may grow this much between the end of the warm-up and the last run.
RSS_GROWTH_LIMIT_MB = 4.0
#: What a cron health check typically runs: everything but the bandwidth probe.
RUN_ARGS = ("--quick", "--format", "text", "--app-version", "3.10.2")


def soak(
    lab: Lab,
    runs: int = 500,
    *,
    max_runs: int = 100,
    run_args: Sequence[str] = RUN_ARGS,
    samples: int = 2,
) -> dict[str, Any]:
    """The soak on a running (healthy) lab; returns the worker's figures with the verdict."""
    every = max(1, runs // 10)
    config = lab.write_config(
        lab.tmp / "soak-config.toml",
        latency={"samples": samples},
        history={"max_runs": max_runs},
    )
    home = lab.tmp / "soak-home"
    argv = [
        sys.executable,
        "-m",
        "bench.soak_worker",
        "--runs",
        str(runs),
        "--every",
        str(every),
        "--",
        *run_args,
        "--config",
        str(config),
    ]
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    proc = lab.run_in_phone(
        argv,
        env={"PYTHONPATH": pythonpath, "JMO_DOCTOR_HOME": str(home), "NO_COLOR": "1"},
        timeout=60 + runs * 10,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"soak worker failed ({proc.returncode}): {proc.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures.update(judge(figures["samples"], runs, max_runs, figures["exit_codes"]))
    figures["stderr_lines"] = sorted(set(proc.stderr.splitlines()))[:20]
    return figures


def judge(
    samples: list[dict[str, Any]], runs: int, max_runs: int, exit_codes: dict[str, int]
) -> dict[str, Any]:
    """Growth after the warm-up, and the retention check.

    The warm-up lasts until the imports are done and the history has reached its
    retention (the database stops growing there), and at least a fifth of the runs.
    """
    problems: list[str] = []
    warmup_runs = min(runs, max(runs // 5, max_runs))
    warm = next((s for s in samples if s["run"] >= max(1, warmup_runs)), samples[-1])
    after = [s for s in samples if s["run"] >= warm["run"]]
    last = samples[-1]
    # descriptors and threads need no warm-up: flat from the first run on
    ran = samples[1:] or samples
    fds = sorted({s["fds"] for s in ran})
    threads = sorted({s["threads"] for s in ran})
    rss_growth_mb = (last["rss_kb"] - warm["rss_kb"]) / 1024
    rows_seen = [s["rows"] for s in samples if s["rows"] is not None]
    if len(fds) > 1:
        problems.append(f"open file descriptors changed from run to run: {fds}")
    if len(threads) > 1:
        problems.append(f"thread count changed from run to run: {threads}")
    if rss_growth_mb > RSS_GROWTH_LIMIT_MB:
        problems.append(
            f"RSS grew {rss_growth_mb:.1f} MB after warm-up (limit {RSS_GROWTH_LIMIT_MB} MB)"
        )
    if any(rows > max_runs for rows in rows_seen):
        problems.append(f"history exceeded max_runs {max_runs}: {max(rows_seen)} rows")
    if last["rows"] != min(runs, max_runs):
        problems.append(f"history holds {last['rows']} runs, expected {min(runs, max_runs)}")
    if last["db_bytes"] > 1.5 * warm["db_bytes"]:
        problems.append(
            f"history database grew from {warm['db_bytes']} to {last['db_bytes']} bytes "
            "after reaching its retention"
        )
    if set(exit_codes) != {"0"}:
        problems.append(f"runs did not all exit 0 on the healthy lab: {exit_codes}")
    rss = [s["rss_kb"] / 1024 for s in after]
    return {
        "warmup_runs": warm["run"],
        "rss_spread_mb": round(max(rss) - min(rss), 2),
        "fds_growth": last["fds"] - ran[0]["fds"],
        "threads_growth": last["threads"] - ran[0]["threads"],
        "rss_growth_mb": round(rss_growth_mb, 2),
        "rows": last["rows"],
        "problems": problems,
        "ok": not problems,
    }


def table(figures: dict[str, Any]) -> str:
    lines = [
        f"{'run':>6} {'fds':>5} {'RSS MB':>7} {'threads':>7} {'rows':>5} {'DB KB':>7} "
        f"{'elapsed s':>9}"
    ]
    for s in figures["samples"]:
        rows = "-" if s["rows"] is None else str(s["rows"])
        lines.append(
            f"{s['run']:>6} {s['fds']:>5} {s['rss_kb'] / 1024:>7.1f} {s['threads']:>7} "
            f"{rows:>5} {s['db_bytes'] / 1024:>7.0f} {s['elapsed_s']:>9.1f}"
        )
    return "\n".join(lines)


def report(figures: dict[str, Any], runs: int, max_runs: int) -> None:
    print(
        f"soak: {runs} runs of `jmo-doctor run {' '.join(RUN_ARGS)}` in one process, "
        f"healthy lab, [history] max_runs = {max_runs}"
    )
    print(table(figures))
    print(
        f"soak: from the first run to the last: fds {figures['fds_growth']:+d}, threads "
        f"{figures['threads_growth']:+d}; from run {figures['warmup_runs']} (warm-up) on: RSS "
        f"{figures['rss_growth_mb']:+.2f} MB (limit {RSS_GROWTH_LIMIT_MB}, spread "
        f"{figures['rss_spread_mb']:.2f} MB); history rows {figures['rows']} (max {max_runs})"
    )
    print(
        f"soak: exit codes {figures['exit_codes']}; run median "
        f"{figures['run_s']['median'] * 1000:.0f} ms, max {figures['run_s']['max'] * 1000:.0f} ms"
    )
    for line in figures["stderr_lines"]:
        print(f"soak: worker stderr: {line}")
    for problem in figures["problems"]:
        print(f"soak: PROBLEM: {problem}")
    print("soak: OK" if figures["ok"] else "soak: FAILED")


def run(runs: int = 500, *, max_runs: int = 100) -> dict[str, Any]:
    """`python -m bench soak`: start a lab, soak, print the table; {} where no lab can run."""
    sys.path.insert(0, str(REPO))
    from tests.lab import Lab

    reason = Lab.unavailable_reason()
    if reason:
        print(f"soak: skipped: {reason}")
        return {}
    with Lab() as lab:
        figures = soak(lab, runs, max_runs=max_runs)
    report(figures, runs, max_runs)
    return figures


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
