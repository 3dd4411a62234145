"""`python -m bench [NAME ...]`: run the benchmarks (all by default) and print medians."""

from __future__ import annotations

import sys

from bench import startup

SUITES = {"startup": startup.run}


def main(names: list[str]) -> int:
    for name in names or list(SUITES):
        if name not in SUITES:
            print(f"unknown benchmark {name!r}; known: {', '.join(SUITES)}", file=sys.stderr)
            return 3
        SUITES[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
