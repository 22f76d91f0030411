"""``python -m tests.golden --write``: regenerate the golden results of every example (on purpose)."""

from __future__ import annotations

import sys

from tests.golden import write_all

if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.golden --write   (regenerates tests/golden/results/)")
    for path in write_all():
        print(f"written: {path}")
