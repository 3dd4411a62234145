"""`python -m bench [NAME ...]`: run the benchmarks (all by default) and print medians.

The lab benchmarks need root (network namespaces); they say so and are skipped elsewhere.
"""

from __future__ import annotations

import importlib
import os
import sys

# name → "module:function"; imported only when run, so one suite's imports cost the others nothing
SUITES = {
    "startup": "bench.startup:run",
    "connectivity": "bench.connectivity:run",
    "bandwidth": "bench.bandwidth:run",
    "spread": "bench.spread:run",
    "soak": "bench.soak:run",
    "summary": "bench.summary:run",
    "verdict": "bench.verdict:run",
}
NEEDS_ROOT = {"connectivity", "bandwidth", "spread", "soak", "verdict"}


def main(names: list[str]) -> int:
    for name in names or list(SUITES):
        if name not in SUITES:
            print(f"unknown benchmark {name!r}; known: {', '.join(SUITES)}", file=sys.stderr)
            return 3
        if name in NEEDS_ROOT and os.geteuid() != 0:
            print(f"== {name}: skipped (needs root for the network lab)")
            continue
        module, _, function = SUITES[name].partition(":")
        print(f"== {name}")
        getattr(importlib.import_module(module), function)()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
