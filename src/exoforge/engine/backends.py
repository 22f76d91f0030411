"""Execution backends: run a list of independent tasks here, in local processes, or on Dask.

Every analysis cuts its work into tasks (chunks of rows of a design, or groups
of identical designs) that are pure functions of their inputs, so where a task
runs cannot change its result. A backend only decides where:

``LocalBackend(processes=1)``
    in this process, one task after another (each task is itself vectorised);
``LocalBackend(processes=k)``
    in a pool of ``k`` worker processes started with ``spawn`` (safe with
    threads in the parent; scripts need a ``if __name__ == "__main__":`` guard);
``DaskBackend(scheduler=None | "tcp://host:port")``
    on a Dask distributed cluster: the given scheduler, or a ``LocalCluster``
    started for the run and closed with the backend.

The engine knows no biology: a task is any picklable object and the function
any importable top-level callable. Results come back in task order whatever
the order of completion; ``on_result(i, result)`` is called as each finishes
(progress bars). Backends are context managers; :func:`open_backend` builds one
from command-line style options.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")

ResultCallback = Callable[[int, Any], None]

#: Rows above which the local backend uses every core when no process count is given.
PROCESS_THRESHOLD_ROWS = 50_000

BACKENDS = ("local", "dask")
#: glibc mmap threshold [bytes] set in the Dask workers a ``DaskBackend`` starts (see there).
MMAP_THRESHOLD = 2**30


class Backend(Protocol):
    """Where tasks run. ``map`` returns results in the order of ``items``."""

    name: str

    @property
    def workers(self) -> int: ...

    def map(self, fn: Callable[[T], R], items: Sequence[T], on_result: ResultCallback | None = None) -> list[R]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Backend: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class _ContextMixin:
    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _ignore_interrupts() -> None:
    """Worker start-up: leave Ctrl-C to the parent, which stops the workers itself.

    A terminal sends Ctrl-C to every process of the foreground group; a worker
    waiting for its next task would otherwise die printing a traceback.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalBackend(_ContextMixin):
    """Tasks in this process (``processes=1``) or in a pool of spawned worker processes.

    Parameters
    ----------
    processes : number of worker processes; 1 runs in this process.
    """

    name = "local"

    def __init__(self, processes: int = 1):
        if processes < 1:
            raise ValueError(f"processes must be at least 1 (got {processes})")
        self.processes = processes
        self._pool: Any = None

    @property
    def workers(self) -> int:
        return self.processes

    def _executor(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
            )
        return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T], on_result: ResultCallback | None = None) -> list[R]:
        if self.processes == 1 or len(items) <= 1:
            out: list[R] = []
            for i, item in enumerate(items):
                out.append(fn(item))
                if on_result is not None:
                    on_result(i, out[-1])
            return out
        from concurrent.futures import as_completed

        pool = self._executor()
        futures = {pool.submit(fn, item): i for i, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_result is not None:
                    on_result(i, results[i])
        except KeyboardInterrupt:
            self.abort()
            raise
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return results

    def abort(self) -> None:
        """Stop at once (Ctrl-C): terminate the worker processes instead of waiting for their tasks."""
        if self._pool is None:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        # Two races in Python 3.11's pool print tracebacks on the way out unless avoided. (1) Once the workers are
        # gone the pool's manager thread fails every future it still holds; one cancelled from outside makes it
        # raise InvalidStateError, so the pending futures are left to the pool to cancel (shutdown below) rather
        # than cancelled here. (2) The thread then closes its wake-up pipe, which the interpreter's exit hook
        # writes to without a lock (OSError: Bad file descriptor); waiting for the thread, milliseconds once the
        # workers are dead, closes that window.
        manager = getattr(self._pool, "_executor_manager_thread", None)
        for proc in processes:
            proc.terminate()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            proc.join(timeout=1.0)
        if manager is not None:
            manager.join(timeout=1.0)
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskBackend(_ContextMixin):
    """Tasks on a Dask distributed cluster.

    Parameters
    ----------
    scheduler : address of a running scheduler (``tcp://host:8786``); ``None``
        starts a ``LocalCluster`` for the lifetime of the backend. Workers of
        your own cluster run fastest started with ``MALLOC_MMAP_THRESHOLD_=1073741824``
        in their environment (see the README).
    workers : workers of the local cluster (ignored with ``scheduler``).
    processes : local cluster workers are processes (``True``) or threads in
        this process (``False``, for tests).
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None, processes: bool = True):
        from distributed import Client, LocalCluster

        self.scheduler = scheduler
        self._cluster: Any = None
        if scheduler is None:
            import dask

            n = workers or (os.cpu_count() or 1)
            # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ set, which freezes glibc's mmap
            # threshold at 128 kB: every array of more than 16k doubles is then mapped and unmapped
            # anew, which makes the integrator 20-60 % slower (measured). Keep such arrays on the
            # heap in the workers this backend starts.
            environ = {"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
            with dask.config.set(environ):
                self._cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=None
                )
            self.client: Any = Client(self._cluster)
        else:
            self.client = Client(scheduler)

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def map(self, fn: Callable[[T], R], items: Sequence[T], on_result: ResultCallback | None = None) -> list[R]:
        from distributed import as_completed

        if not items:
            return []
        futures = self.client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            for fut in as_completed(futures):
                i = index[fut.key]
                results[i] = fut.result()
                if on_result is not None:
                    on_result(i, results[i])
                fut.release()
        except BaseException:
            self.client.cancel(futures)
            raise
        return results

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def default_processes(rows: int) -> int:
    """Worker processes the local backend uses for ``rows`` rows when none are asked for."""
    cores = os.cpu_count() or 1
    return cores if rows >= PROCESS_THRESHOLD_ROWS and cores > 1 else 1


def open_backend(
    name: str = "local",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    rows: int = 0,
    dask_processes: bool = True,
) -> LocalBackend | DaskBackend:
    """A backend from command-line options.

    ``local`` with ``workers=None`` uses every core for large jobs
    (at least :data:`PROCESS_THRESHOLD_ROWS` rows) and this process otherwise.
    """
    if name == "local":
        if scheduler is not None:
            raise ValueError("--scheduler applies to the dask backend only")
        return LocalBackend(workers if workers is not None else default_processes(rows))
    if name == "dask":
        return DaskBackend(scheduler, workers, processes=dask_processes)
    raise ValueError(f"backend '{name}' is not one of {', '.join(BACKENDS)}")
