"""Start-up cost: `jmo-doctor --version` against `python -c pass`, same interpreter."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _wall(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def run(runs: int = 21) -> dict[str, float]:
    script = shutil.which("jmo-doctor") or str(Path(sys.executable).parent / "jmo-doctor")
    # interleave so that machine noise hits both sides alike
    ours: list[float] = []
    peer: list[float] = []
    for _ in range(runs):
        ours += _wall([script, "--version"], 1)
        peer += _wall([sys.executable, "-c", "pass"], 1)
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    ratio = ours_median / peer_median
    print(f"startup: jmo-doctor --version  median {ours_median * 1000:6.1f} ms  ({runs} runs)")
    print(f"startup: python -c pass        median {peer_median * 1000:6.1f} ms")
    print(f"startup: ratio {ratio:.2f}x  (goals < 3x; ≤ 1.1x)")
    return {"version_ms": ours_median * 1000, "python_ms": peer_median * 1000, "ratio": ratio}
