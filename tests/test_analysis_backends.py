"""Backends: the same seed gives identical results in this process, in worker processes and on Dask."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import exoforge as xf
from exoforge.analysis.uncertainty import monte_carlo
from exoforge.engine.backends import DaskBackend, LocalBackend, default_processes, open_backend
from tests.conftest import ROOT

STR = ROOT / "examples" / "stirred_tank_tff_sec.yaml"


def _square(x: int) -> int:
    return x * x


@pytest.fixture(scope="module")
def reference():
    scn = xf.load_scenario(STR)
    return scn, monte_carlo(scn, n=2500, seed=9, chunk_rows=1024)


def _same(a, b) -> None:
    assert a.kpis.keys() == b.kpis.keys()
    for key in a.kpis:
        np.testing.assert_array_equal(a.kpis[key], b.kpis[key], err_msg=key)
    for name in a.outcomes.checks:
        np.testing.assert_array_equal(a.outcomes.checks[name], b.outcomes.checks[name])
    assert a.to_json()["kpis"] == b.to_json()["kpis"]


def test_local_processes_match_this_process(reference) -> None:
    scn, ref = reference
    with LocalBackend(2) as backend:
        mc = monte_carlo(scn, n=2500, seed=9, chunk_rows=1024, backend=backend)
    assert mc.workers == 2
    _same(ref, mc)


def test_dask_local_cluster_matches_this_process(reference) -> None:
    scn, ref = reference
    with DaskBackend(workers=2, processes=False) as backend:
        assert backend.workers == 2
        mc = monte_carlo(scn, n=2500, seed=9, chunk_rows=2048, backend=backend)
    assert mc.backend == "dask"
    _same(ref, mc)


def test_results_come_back_in_task_order_with_progress() -> None:
    seen: list[int] = []
    with DaskBackend(workers=2, processes=False) as backend:
        out = backend.map(_square, list(range(12)), lambda i, r: seen.append(i))
    assert out == [i * i for i in range(12)]
    assert sorted(seen) == list(range(12))


def test_open_backend_options() -> None:
    assert isinstance(open_backend("local", workers=1), LocalBackend)
    with pytest.raises(ValueError, match="dask backend only"):
        open_backend("local", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ValueError, match="not one of"):
        open_backend("slurm")
    assert default_processes(10) == 1


def _nap(x: int) -> int:
    import time

    time.sleep(0.0 if x == 0 else 5.0)
    return x


def test_interrupted_local_map_stops_its_workers_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C mid-run: the workers are gone at once and the pool's own thread ends without an error."""
    import threading
    import time

    thread_errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))

    backend = LocalBackend(2)
    workers: list[Any] = []

    def interrupt(i: int, result: int) -> None:
        workers.extend(backend._pool._processes.values())
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        backend.map(_nap, list(range(8)), interrupt)
    assert time.monotonic() - start < 4.0
    assert len(workers) == 2
    assert not [p for p in workers if p.is_alive()]
    assert backend._pool is None
    assert thread_errors == []
