"""One long-lived process that runs `jmo-doctor run` many times in-process (see soak.py).

``python -m bench.soak_worker --runs N --every K -- RUN_ARGS...`` calls
``jmo_doctor.cli.run_cli(["run", *RUN_ARGS])`` N times, its stdout thrown away, and
samples this process every K runs: open file descriptors, resident memory, threads, and
the history database (rows, file size). A resource a run forgets to give back (a socket,
a thread, an event loop, a cache that only grows) shows up here as a column that climbs,
where a fresh process per run would hide it. Prints one JSON document on stdout.

Runs inside the lab's phone namespace; ``$JMO_DOCTOR_HOME`` says where the history is.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) - 1  # minus the listing's own descriptor


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def history_rows(path: Path) -> int | None:
    if not path.exists():
        return None
    # read-only, and closed at once: the sampler must not hold anything open itself
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])


def db_bytes(path: Path) -> int:
    """The database with its write-ahead log: what the history costs on disk."""
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


def sample(run: int, db: Path, started: float) -> dict[str, Any]:
    gc.collect()  # what is still referenced, not what the collector has yet to visit
    return {
        "run": run,
        "fds": open_fds(),
        "rss_kb": rss_kb(),
        "threads": threading.active_count(),
        "rows": history_rows(db),
        "db_bytes": db_bytes(db),
        "elapsed_s": round(time.monotonic() - started, 2),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_worker")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("run_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    run_args = [a for a in options.run_args if a != "--"]

    from jmo_doctor import paths
    from jmo_doctor.cli import run_cli
    from jmo_doctor.monitor.history import history_path

    db = history_path(paths.data_home())
    started = time.monotonic()
    codes: collections.Counter[int] = collections.Counter()
    durations: list[float] = []
    with open(os.devnull, "w") as devnull:
        samples = [sample(0, db, started)]
        for number in range(1, options.runs + 1):
            began = time.monotonic()
            with contextlib.redirect_stdout(devnull):
                codes[run_cli(["run", *run_args])] += 1
            durations.append(time.monotonic() - began)
            if number % options.every == 0 or number == options.runs:
                samples.append(sample(number, db, started))
    durations.sort()
    json.dump(
        {
            "samples": samples,
            "exit_codes": {str(k): v for k, v in sorted(codes.items())},
            "run_s": {
                "median": durations[len(durations) // 2],
                "max": durations[-1],
            },
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
