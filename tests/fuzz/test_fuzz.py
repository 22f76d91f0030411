"""The fuzz corpus: every mutated example is refused cleanly (exit 2 with a message) or runs to finite,
non-negative outputs, within a time limit per case. ``make test`` runs 1,000 cases; the slow suite
10,000 more (another seed); the terminal summary prints the tally of each."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import FUZZ_TALLY_ENV
from tests.fuzz.corpus import case
from tests.fuzz.runner import run_case, tally

FAST = (1, 1000, 100)  # corpus seed, cases, cases per chunk
SLOW = (2, 10000, 250)


def _chunks(spec: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    seed, n, per = spec
    return [(seed, a, min(a + per, n)) for a in range(0, n, per)]


def _run(seed: int, a: int, b: int, folder: Path) -> None:
    outcomes = [run_case(case(seed, i), folder) for i in range(a, b)]
    counts = tally(outcomes)
    with open(os.environ[FUZZ_TALLY_ENV], "a", encoding="utf-8") as f:
        f.write(json.dumps({"seed": seed, "tally": dict(counts)}) + "\n")
    bad = [o.detail for o in outcomes if o.kind not in ("refused", "ran")]
    assert not bad, "\n".join(bad[:20])


@pytest.mark.parametrize(("seed", "a", "b"), _chunks(FAST), ids=lambda v: str(v))
def test_fuzz_corpus(seed: int, a: int, b: int, tmp_path: Path) -> None:
    _run(seed, a, b, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "a", "b"), _chunks(SLOW), ids=lambda v: str(v))
def test_fuzz_corpus_large(seed: int, a: int, b: int, tmp_path: Path) -> None:
    _run(seed, a, b, tmp_path)


def test_the_corpus_is_deterministic_and_varied() -> None:
    assert case(1, 17) == case(1, 17)
    kinds = {case(1, i).mutations[0].split(":")[0] for i in range(300)}
    assert {"delete", "rename", "type", "number", "huge", "deep", "scale", "text"} <= kinds
    assert any(case(1, i).suffix == ".toml" for i in range(300))
