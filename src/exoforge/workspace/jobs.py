"""Analyses as background jobs: queued in the store, run in worker processes, polled and cancellable.

A job row is created by :func:`start_job` (checked against the caps); a :class:`JobRunner` hands
its id to a worker, which claims it (queued -> running, so two servers never run one job twice),
reports progress into the row as chunks finish, stops when a cancellation was requested, and
stores the result document or the reason it failed. Workers open the database themselves, so the
same code runs in a thread, a worker process of this server, or any process that can reach the
database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from exoforge._version import __version__
from exoforge.report.plotly_html import kpi_unit
from exoforge.store import repository as repo
from exoforge.store.access import Actor
from exoforge.store.engine import Store, open_store
from exoforge.store.errors import NotFound
from exoforge.store.models import Job
from exoforge.workspace.records import data_hash

JOB_KINDS = ("monte_carlo", "sensitivity", "fit")
SAMPLERS = ("random", "lhs", "sobol")
SENSITIVITY_METHODS = ("tornado", "morris", "sobol")
#: KPIs a tornado is drawn for in a Monte Carlo job, and the default KPIs of a sensitivity job.
TORNADO_KPIS = ("cost.per_dose", "ev.final_particles")
#: Least time between two progress writes of one job, s.
PROGRESS_INTERVAL_S = 0.25
#: A running job's worker records that it is alive this often, s.
HEARTBEAT_S = 10.0
#: A running job whose worker has not beaten for this long is failed as interrupted, s.
STALE_AFTER_S = 120.0


class JobCancelled(Exception):
    """Raised inside a running analysis when its cancellation was requested."""


@dataclass(frozen=True)
class Limits:
    """Caps applied when a job is started."""

    mc_max_n: int = 20_000
    sensitivity_max_n: int = 1024
    max_active_per_user: int = 2
    max_active: int = 8


def validate_settings(kind: str, settings: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """The settings of a job with defaults filled in; ValueError names the first problem."""
    if kind not in JOB_KINDS:
        raise ValueError(f"kind: '{kind}' is not one of {', '.join(JOB_KINDS)}")
    s = dict(settings)
    s.setdefault("seed", 1)
    if kind == "monte_carlo":
        s.setdefault("n", 1000)
        s.setdefault("sampler", "random")
        if not 1 <= int(s["n"]) <= limits.mc_max_n:
            raise ValueError(f"n: {s['n']} is outside 1-{limits.mc_max_n} (the cap on one Monte Carlo job)")
        if s["sampler"] not in SAMPLERS:
            raise ValueError(f"sampler: '{s['sampler']}' is not one of {', '.join(SAMPLERS)}")
    elif kind == "fit":
        import re

        if not isinstance(s.get("dataset_id"), str) or not re.fullmatch(r"[0-9a-f]{32}", s["dataset_id"]):
            raise ValueError("dataset_id: a fit needs the id of an uploaded dataset")
        s.pop("seed", None)
        s.setdefault("parameters", None)
        s.setdefault("per_batch", [])
    else:
        s.setdefault("n", 64)
        s.setdefault("methods", ["tornado"])
        s.setdefault("kpis", list(TORNADO_KPIS))
        if not 2 <= int(s["n"]) <= limits.sensitivity_max_n or int(s["n"]) & (int(s["n"]) - 1):
            raise ValueError(f"n: {s['n']} must be a power of two in 2-{limits.sensitivity_max_n}")
        bad = [m for m in s["methods"] if m not in SENSITIVITY_METHODS]
        if bad or not s["methods"]:
            raise ValueError(f"methods: choose from {', '.join(SENSITIVITY_METHODS)}")
    return s


def start_job(
    store: Store,
    actor: Actor,
    scenario_id: str,
    kind: str,
    settings: dict[str, Any],
    limits: Limits,
    revision: int | None = None,
) -> Job:
    """Queue an analysis of a scenario revision (default: the newest) after checking its settings and the caps."""
    from exoforge.scenario import parse_scenario

    checked = validate_settings(kind, settings, limits)
    with store.read() as s:
        scenario = repo.get_scenario(s, actor, scenario_id, "editor")
        rev = repo.get_revision(s, actor, scenario_id, revision)
        if kind == "fit":
            dataset = repo.get_dataset(s, actor, checked["dataset_id"])
            if dataset.project_id != scenario.project_id:
                raise NotFound(f"dataset {dataset.id} not found in this scenario's project")
    parse_scenario(rev.content)
    digest = data_hash()
    return store.write(
        lambda s: repo.create_job(
            s,
            actor,
            rev,
            kind,
            checked,
            exoforge_version=__version__,
            evidence_hash=digest,
            max_active_per_user=limits.max_active_per_user,
            max_active=limits.max_active,
        )
    )


# --------------------------------------------------------------------------- execution


def monte_carlo_document(mc: Any, tornado_rows: dict[str, Any]) -> dict[str, Any]:
    """The stored result of a Monte Carlo job: ``mc --json``, every valid sample of the headline KPIs
    (what the histograms are drawn from), the central run, and a tornado."""
    doc = mc.to_json()
    valid = mc.valid
    doc["samples"] = {key: np.asarray(mc.kpis[key])[valid].tolist() for key in mc.headline_keys()}
    doc["central"] = {key: mc.central.get(key) for key in mc.headline_keys()} if mc.central else {}
    doc["tornado"] = tornado_rows
    return cast("dict[str, Any]", doc)


def tornado_document(scn: Any, params: Any, kpis: tuple[str, ...] = TORNADO_KPIS) -> dict[str, Any]:
    """One-at-a-time swings of ``kpis`` over the parameters the scenario reads (top 12 each)."""
    from exoforge.analysis.sensitivity import influential_names, tornado

    names = influential_names(scn, params)
    out: dict[str, Any] = {}
    for kpi, t in tornado(scn, params, names, kpis).items():
        out[kpi] = {"base": t.base, "unit": kpi_unit(kpi), "rows": [list(r) for r in t.rows[:12]]}
    return out


def _run_fit(job: Job, content: dict[str, Any], dataset: tuple[str, bytes]) -> Any:
    """Fit the job's parameters to an uploaded dataset, every batch run as the job's scenario revision."""
    from exoforge.analysis.calibration import CalibrationError, CalibrationProblem, fit
    from exoforge.measurements.noise import load_assays
    from exoforge.scenario import parse_scenario
    from exoforge.workspace.datasets import read_upload

    filename, raw = dataset
    data = read_upload(filename, raw)
    scn = parse_scenario(content)
    s = job.settings
    try:
        problem = CalibrationProblem(
            data,
            {b: scn for b in data.batches},
            fit=s.get("parameters") or None,
            per_batch=s.get("per_batch") or (),
            assays=load_assays(None),
        )
        result = fit(problem).to_json()
    except CalibrationError as exc:
        raise ValueError("; ".join(exc.problems)) from None
    for f in result.get("data_files", []):
        f["path"] = filename  # not the private copy's
    result["dataset_id"] = s["dataset_id"]
    return result


def _run_analysis(
    job: Job,
    content: dict[str, Any],
    progress: Callable[[int, int], None],
    chunk_rows: int,
    dask_scheduler: str | None = None,
    dataset: tuple[str, bytes] | None = None,
) -> Any:
    """Run the job's analysis in this process, or its chunks on a Dask cluster (``dask_scheduler``)."""
    from contextlib import nullcontext

    from exoforge.result import _clean
    from exoforge.scenario import parse_scenario
    from exoforge.simulation import parameters_for

    if job.kind == "fit":
        assert dataset is not None
        return _clean(_run_fit(job, content, dataset))
    scn = parse_scenario(content)
    s = job.settings
    params = parameters_for(scn).params
    backend: Any = None
    if dask_scheduler:
        from exoforge.engine.backends import DaskBackend

        backend = DaskBackend(scheduler=dask_scheduler)
    with backend if backend is not None else nullcontext():
        if job.kind == "monte_carlo":
            from exoforge.analysis.uncertainty import monte_carlo

            mc = monte_carlo(
                scn,
                n=int(s["n"]),
                seed=int(s["seed"]),
                sampler=s["sampler"],
                params=params,
                backend=backend,
                chunk_rows=chunk_rows,
                progress=progress,
            )
            return _clean(monte_carlo_document(mc, tornado_document(scn, params)))
        from exoforge.analysis.sensitivity import sensitivity

        sa = sensitivity(
            scn,
            methods=tuple(s["methods"]),
            n=int(s["n"]),
            seed=int(s["seed"]),
            kpis=tuple(s["kpis"]),
            params=params,
            backend=backend,
            progress=progress,
        )
    doc = sa.to_json()
    doc["tornado"] = {
        kpi: {"base": t.base, "unit": kpi_unit(kpi), "rows": [list(r) for r in t.rows[:12]]}
        for kpi, t in sa.tornado.items()
    }
    return _clean(doc)


def execute_job(database_url: str, job_id: str, chunk_rows: int = 1024, dask_scheduler: str | None = None) -> str:
    """Claim and run one job to its end; return its final status (``skipped`` if not claimable).

    Runs in a worker thread or process: opens its own connection to the database.
    """
    store = open_store(database_url, upgrade=False)
    try:
        job = store.write(lambda s: repo.claim_job(s, job_id))
        if job is None:
            return "skipped"
        dataset = None
        with store.read() as s:
            content = repo.revision_of(s, job).content
            if job.kind == "fit":
                from exoforge.store.models import Dataset

                ds = s.get(Dataset, job.settings["dataset_id"])
                dataset = (ds.filename, ds.content) if ds is not None else None
        if job.kind == "fit" and dataset is None:
            store.write(lambda s: repo.finish_job(s, job_id, "failed", error="the dataset is gone"))
            return "failed"
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if done < total and now - last[0] < PROGRESS_INTERVAL_S:
                return
            last[0] = now
            fraction = 0.99 * done / total if total else 0.0
            if store.write(lambda s: repo.report_progress(s, job_id, fraction)):
                raise JobCancelled

        beating = threading.Event()

        def beat() -> None:
            while not beating.wait(HEARTBEAT_S):
                try:
                    store.write(lambda s: repo.heartbeat(s, job_id))
                except Exception:  # a missed beat is not fatal; the next one may get through
                    continue

        threading.Thread(target=beat, name=f"exoforge-heartbeat-{job_id[:8]}", daemon=True).start()
        try:
            if store.write(lambda s: repo.report_progress(s, job_id, 0.0)):
                raise JobCancelled
            result = _run_analysis(job, content, progress, chunk_rows, dask_scheduler, dataset)
        except JobCancelled:
            store.write(lambda s: repo.finish_job(s, job_id, "cancelled"))
            return "cancelled"
        except Exception as exc:  # the job's outcome, recorded; the worker lives on
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            store.write(lambda s: repo.finish_job(s, job_id, "failed", error=reason))
            return "failed"
        finally:
            beating.set()
        store.write(lambda s: repo.finish_job(s, job_id, "succeeded", result=result))
        return "succeeded"
    finally:
        store.dispose()


class JobRunner:
    """Runs queued jobs of one server on a pool of worker processes (or threads).

    ``submit(job_id)`` hands a job to a worker; on start-up, :meth:`resume` fails jobs a stopped
    server left running and submits those still queued.
    """

    def __init__(
        self,
        database_url: str,
        workers: int = 1,
        backend: str = "process",
        chunk_rows: int = 1024,
        dask_scheduler: str | None = None,
    ):
        self.database_url = database_url
        self.chunk_rows = chunk_rows
        self.dask_scheduler = dask_scheduler
        self._pool: Executor
        if backend == "thread":
            self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="exoforge-job")
        elif backend == "process":
            import multiprocessing

            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            raise ValueError(f"job backend '{backend}' is not one of process, thread")
        self.futures: dict[str, Future[str]] = {}

    def submit(self, job_id: str) -> Future[str]:
        future = self._pool.submit(execute_job, self.database_url, job_id, self.chunk_rows, self.dask_scheduler)
        self.futures[job_id] = future
        return future

    def resume(self, store: Store) -> list[str]:
        """Fail jobs left running by a stopped server; submit the queued ones. Returns the submitted ids."""
        from sqlalchemy import select

        self.sweep(store)
        with store.read() as s:
            queued = list(s.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)))
        for job_id in queued:
            self.submit(job_id)
        return queued

    def sweep(self, store: Store) -> list[str]:
        """Fail running jobs whose worker stopped beating (a killed process); return their ids."""
        return store.write(lambda s: repo.fail_interrupted_jobs(s, STALE_AFTER_S))

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
