"""Evaluate a scenario over the rows of a design, in chunks, on any execution backend.

A *design* is a matrix of uniform numbers in (0, 1), one row per evaluation
and one column per sampled parameter; each row becomes a parameter set through
the inverse CDF of every parameter's distribution
(:meth:`exoforge.parameters.ParameterSet.from_uniform`), so random, Latin
hypercube, Sobol, Saltelli and Morris designs share one path.

Reproducibility whatever the backend and chunking:

* random designs are drawn in blocks of :data:`BLOCK_ROWS` rows; block ``k``
  uses child ``k`` of ``numpy.random.SeedSequence(seed).spawn(...)``, so row
  ``i`` is the same number whichever chunk or worker draws it;
* explicit designs (LHS, Sobol, Saltelli, Morris, optimiser populations) are
  generated once and cut into chunks;
* the batch integrator treats every row independently (fixed steps), so a row's
  result does not depend on the other rows of its chunk.

Failed rows never stop a run: a chunk that raises is bisected down to the
rows that raise, and a row whose KPIs are NaN where the central parameter set
gives numbers is failed too; failed rows are NaN with a counted reason.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from exoforge import special
from exoforge.engine.backends import Backend, LocalBackend
from exoforge.parameters import ParameterBatch, ParameterSet
from exoforge.plugins import PluginError
from exoforge.scenario import Scenario
from exoforge.simulation import evaluate
from exoforge.upstream.platforms import PlatformNotModelled

#: Errors that cannot depend on a sampled row (the scenario's platform is unknown, a plug-in cannot
#: load): :func:`evaluate_rows` raises them at once instead of bisecting down to every single row.
SCENARIO_LEVEL_ERRORS: tuple[type[Exception], ...] = (PlatformNotModelled, PluginError)

#: KPIs a valid sample leaves undefined (NaN) where its batch releases no lot: no number of batches
#: then meets the demand (:mod:`exoforge.economics.demand`). Such a sample is an outcome the statistics
#: keep (0 doses a year, an infinite number of lines), not a failed row they drop.
UNDEFINED_WITHOUT_A_RELEASE = frozenset({"line_utilisation"})

#: Rows per block of random numbers (one ``SeedSequence`` child per block).
BLOCK_ROWS = 1024
#: Largest number of rows per task; a multiple of BLOCK_ROWS. The integrator works through a
#: task's rows in cache-sized blocks (``exoforge.upstream.simulate.COARSE_BLOCK_COLUMNS``), so a
#: large task costs no cache misses, while its fixed costs (the fine-step pass over the members
#: whose substrate runs out, the isolation and cost stages) are paid once for more rows. At
#: N = 1e5 in one process (integrator blocks of 16,384 columns): 16,384 rows per task 9,500
#: evaluations/s and 221 MB peak, 65,536 rows 11,300/s and 534 MB, measured side by side.
#: Tasks are also cut evenly over the workers.
DEFAULT_CHUNK_ROWS = 64 * BLOCK_ROWS
#: The normal CDF and its inverse (``exoforge.special``, used by the distributions and the
#: isolation physics) take a pure-Python path for arrays of up to this many values and
#: scipy's above it, which can differ in the last bit. Every block of rows is mapped and
#: evaluated with more rows than this (short blocks padded with median rows, dropped
#: afterwards), so a row's result never depends on the size of its chunk
#: (``tests/test_analysis_uncertainty.py`` checks chunk sizes either side).
MIN_MAPPED_ROWS = max(2048, int(getattr(special, "_SMALL", 2048)))

ProgressCallback = Callable[[int, int], None]


def random_rows(seed: int, columns: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of the random design of ``seed`` (uniform in [0, 1), ``columns`` wide)."""
    if stop <= start:
        return np.empty((0, columns))
    first, last = start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS
    children = np.random.SeedSequence(seed).spawn(last + 1)
    blocks = [np.random.default_rng(children[k]).random((BLOCK_ROWS, columns)) for k in range(first, last + 1)]
    u = np.vstack(blocks)
    offset = first * BLOCK_ROWS
    return u[start - offset : stop - offset]


@dataclass(frozen=True)
class Design:
    """Uniform numbers for ``names``: an explicit matrix, or random blocks from ``seed``."""

    names: tuple[str, ...]
    n: int
    matrix: np.ndarray | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if (self.matrix is None) == (self.seed is None):
            raise ValueError("a design is either an explicit matrix or a seed, not both")
        if self.matrix is not None and self.matrix.shape != (self.n, len(self.names)):
            raise ValueError(f"design matrix has shape {self.matrix.shape}, expected {(self.n, len(self.names))}")

    @classmethod
    def random(cls, names: Sequence[str], n: int, seed: int) -> Design:
        return cls(tuple(names), n, seed=seed)

    @classmethod
    def from_matrix(cls, names: Sequence[str], u: np.ndarray) -> Design:
        u = np.asarray(u, dtype=float)
        return cls(tuple(names), u.shape[0], matrix=u)

    def rows(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        stop = self.n if stop is None else min(stop, self.n)
        if self.matrix is not None:
            return self.matrix[start:stop]
        assert self.seed is not None
        return random_rows(self.seed, len(self.names), start, stop)


@dataclass
class RowOutcomes:
    """What the rows of a design gave; arrays of shape (n,).

    Attributes
    ----------
    kpis : every KPI of :func:`exoforge.simulation.evaluate` (NaN on failed rows)
    checks : pass/fail of every engineering check (False on failed rows)
    failed : rows that failed
    reasons : why each row failed ('' when it did not)
    """

    kpis: dict[str, np.ndarray]
    checks: dict[str, np.ndarray]
    failed: np.ndarray
    reasons: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.failed)

    @property
    def all_checks_pass(self) -> np.ndarray:
        ok = ~self.failed
        for arr in self.checks.values():
            ok = ok & arr
        return ok

    def failure_counts(self) -> dict[str, int]:
        """Failed rows by reason, most frequent first."""
        return dict(Counter(r for r in self.reasons if r).most_common())

    @staticmethod
    def concatenate(parts: Sequence[RowOutcomes]) -> RowOutcomes:
        parts = [p for p in parts if p.n]
        if not parts:
            raise ValueError("no rows to concatenate")
        keys = list(parts[0].kpis)
        checks = list(parts[0].checks)
        return RowOutcomes(
            {k: np.concatenate([p.kpis[k] for p in parts]) for k in keys},
            {c: np.concatenate([p.checks[c] for p in parts]) for c in checks},
            np.concatenate([p.failed for p in parts]),
            [r for p in parts for r in p.reasons],
        )

    def take(self, index: np.ndarray | slice) -> RowOutcomes:
        reasons = np.asarray(self.reasons, dtype=object)[index].tolist()
        return RowOutcomes(
            {k: v[index] for k, v in self.kpis.items()},
            {k: v[index] for k, v in self.checks.items()},
            self.failed[index],
            reasons,
        )


def batch_from_design(params: ParameterSet, u: np.ndarray, names: Sequence[str]) -> ParameterBatch:
    """Parameter sets for the rows of ``u``, independent of how many rows are mapped at once."""
    n = u.shape[0]
    if not names:
        return params.nominal(n)
    if n > MIN_MAPPED_ROWS:
        return params.from_uniform(u, list(names))
    padded = np.vstack([u, np.full((MIN_MAPPED_ROWS + 1 - n, u.shape[1]), 0.5)])
    return params.from_uniform(padded, list(names)).subset(slice(0, n))


def _failed_rows(n: int, kpis: Sequence[str], checks: Sequence[str], reason: str) -> RowOutcomes:
    return RowOutcomes(
        {k: np.full(n, np.nan) for k in kpis},
        {c: np.zeros(n, dtype=bool) for c in checks},
        np.ones(n, dtype=bool),
        [reason] * n,
    )


@dataclass(frozen=True)
class Probe:
    """What the central parameter set gives: the KPI and check names, and KPIs that are NaN by design."""

    kpis: tuple[str, ...]
    checks: tuple[str, ...]
    nan_by_design: frozenset[str]
    central: tuple[tuple[str, float], ...] = ()  # (KPI, value at the central parameter values)


def probe(scn: Scenario, params: ParameterSet) -> Probe:
    """Evaluate the central parameter set once; its failure is the scenario's, not a sample's (it raises)."""
    with np.errstate(all="ignore"):
        ev = evaluate(scn, params.nominal(1))
    return Probe(
        tuple(ev.kpis),
        tuple(c.name for c in ev.checks),
        frozenset(k for k, v in ev.kpis.items() if np.isnan(v[0])),
        tuple((k, float(v[0])) for k, v in ev.kpis.items()),
    )


def evaluate_rows(
    scn: Scenario, params: ParameterSet, u: np.ndarray, names: Sequence[str], expected: Probe
) -> RowOutcomes:
    """Evaluate every row of ``u``; rows that raise or give NaN are failed with a reason, never raised."""
    n = u.shape[0]
    if n == 0:
        return _failed_rows(0, expected.kpis, expected.checks, "")
    try:
        rows = max(n, MIN_MAPPED_ROWS + 1)
        padded = u if rows == n else np.vstack([u, np.full((rows - n, u.shape[1]), 0.5)])
        batch = batch_from_design(params, padded, names)
        with np.errstate(all="ignore"):
            ev = evaluate(scn, batch)
    except SCENARIO_LEVEL_ERRORS:
        raise  # the same for every row: stop the run with it rather than isolating each row
    except Exception as exc:  # a sample the model cannot evaluate: isolate it, never stop the run
        if n == 1:
            return _failed_rows(1, expected.kpis, expected.checks, f"{type(exc).__name__}: {exc}")
        half = n // 2
        return RowOutcomes.concatenate(
            [
                evaluate_rows(scn, params, u[:half], names, expected),
                evaluate_rows(scn, params, u[half:], names, expected),
            ]
        )
    kpis = {k: np.array(np.broadcast_to(ev.kpis[k], (rows,))[:n], dtype=float) for k in expected.kpis}
    checks = {c.name: np.array(np.broadcast_to(c.ok, (rows,))[:n], dtype=bool) for c in ev.checks}
    failed = np.zeros(n, dtype=bool)
    reasons = [""] * n
    released = kpis.get("doses_released_per_batch")
    for k, arr in kpis.items():
        if k in expected.nan_by_design:
            continue
        bad = np.isnan(arr) & ~failed
        if k in UNDEFINED_WITHOUT_A_RELEASE and released is not None:
            bad &= released >= 1  # a sample whose batch releases no lot is an outcome, not a failure
        for i in np.flatnonzero(bad):
            reasons[i] = f"NaN {k}"
        failed |= bad
    if failed.any():
        for arr in kpis.values():
            arr[failed] = np.nan
        for arr in checks.values():
            arr[failed] = False
    return RowOutcomes(kpis, checks, failed, reasons)


@dataclass(frozen=True)
class ChunkTask:
    """One task: rows ``start:stop`` of a design (its own rows, or the seed to draw them)."""

    scenario: Scenario
    params: ParameterSet
    names: tuple[str, ...]
    start: int
    stop: int
    expected: Probe
    u: np.ndarray | None = None
    seed: int | None = None


def run_chunk(task: ChunkTask) -> RowOutcomes:
    """Evaluate one chunk (a top-level function, so process and Dask workers can import it)."""
    if task.u is not None:
        u = task.u
    else:
        assert task.seed is not None
        u = random_rows(task.seed, len(task.names), task.start, task.stop)
    return evaluate_rows(task.scenario, task.params, u, task.names, task.expected)


def chunk_bounds(n: int, chunk_rows: int, workers: int = 1) -> list[tuple[int, int]]:
    """Row ranges of at most ``chunk_rows`` rows (rounded up to whole random blocks).

    The ranges are of nearly equal size, and their number a multiple of ``workers`` when there
    are enough blocks, so that no worker is left with a short last task while another works on.
    """
    if n <= 0:
        return []
    blocks = math.ceil(n / BLOCK_ROWS)
    per_task = max(1, math.ceil(chunk_rows / BLOCK_ROWS))
    count = math.ceil(blocks / per_task)
    if workers > 1:
        count = min(blocks, math.ceil(count / workers) * workers)
    base, extra = divmod(blocks, count)
    bounds, start = [], 0
    for i in range(count):
        stop = min(n, start + (base + (i < extra)) * BLOCK_ROWS)
        bounds.append((start, stop))
        start = stop
    return bounds


def run_design(
    scn: Scenario,
    params: ParameterSet,
    design: Design,
    backend: Backend | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    progress: ProgressCallback | None = None,
    expected: Probe | None = None,
) -> RowOutcomes:
    """Evaluate every row of ``design`` for ``scn``, in chunks, on ``backend`` (this process by default).

    ``progress(done_rows, total_rows)`` is called as chunks finish.
    """
    from exoforge.upstream.budget import check as check_budget

    check_budget(
        scn, design.n, f"an analysis of {design.n:,} evaluations", chunk_members=chunk_rows, kept_rows=design.n
    )
    expected = expected or probe(scn, params)
    runner = backend or LocalBackend(1)
    tasks = [
        ChunkTask(
            scn,
            params,
            design.names,
            a,
            b,
            expected,
            u=design.rows(a, b) if design.matrix is not None else None,
            seed=design.seed,
        )
        for a, b in chunk_bounds(design.n, chunk_rows, runner.workers)
    ]
    done = [0]

    def on_result(i: int, result: RowOutcomes) -> None:
        done[0] += result.n
        if progress is not None:
            progress(done[0], design.n)

    parts = runner.map(run_chunk, tasks, on_result)
    if not parts:
        return _failed_rows(0, expected.kpis, expected.checks, "")
    return RowOutcomes.concatenate(parts)
