"""A work budget: how much integration a run, or an analysis, asks for before it starts.

Work is counted in member-steps: the number of RK4 steps of the culture's schedule (every segment
between events at the coarse step, plus the fine re-run a member with a run-down substrate may
need) times the members integrated together (parameter sets, or rows of an analysis). Memory is
the state, its four RK4 stages and the outputs kept per member. Past the limit a run stops before
integrating with one line that names what made it large and how to raise the limit on purpose
(``EXOFORGE_WORK_LIMIT``, ``EXOFORGE_MEMORY_LIMIT_GB``).

The default work limit, 2e10 member-steps, is about two hours of one core at the batch integrator's
measured rate (about 12,000 evaluations of a 220-step schedule per second, benchmarks/results.json);
the default memory limit is half of this machine's RAM.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from exoforge.engine.integrate import steps_for
from exoforge.scenario import Scenario

WORK_LIMIT_ENV = "EXOFORGE_WORK_LIMIT"
MEMORY_LIMIT_ENV = "EXOFORGE_MEMORY_LIMIT_GB"
DEFAULT_WORK_LIMIT = 2.0e10
#: Bytes held per member while a chunk integrates (state, four stages, inputs) and per member kept as output
#: (KPIs and drawn parameters), doubles.
BYTES_PER_MEMBER_WORKING = 8 * 16 * 8
BYTES_PER_ROW_KEPT = 8 * 160


class WorkTooLarge(ValueError):
    """The requested run would take more work or memory than the limit allows."""


@dataclass(frozen=True)
class WorkEstimate:
    members: int
    segments: int
    steps: int  # coarse steps of one member over the whole schedule
    worst_steps: int  # if every member needed the fine step
    memory_bytes: float

    @property
    def member_steps(self) -> float:
        return float(self.members) * self.steps


def _limit(env: str, default: float) -> float:
    raw = os.environ.get(env)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise WorkTooLarge(f"{env}={raw!r} is not a number") from None
    if not value > 0 or not math.isfinite(value):
        raise WorkTooLarge(f"{env}={raw!r} must be a positive number")
    return value


def memory_limit_bytes() -> float:
    """``EXOFORGE_MEMORY_LIMIT_GB``, else half of the machine's RAM."""
    try:
        ram = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        ram = 8e9
    return _limit(MEMORY_LIMIT_ENV, ram / 2 / 1e9) * 1e9


def estimate(scn: Scenario, members: int, chunk_members: int | None = None, kept_rows: int = 0) -> WorkEstimate:
    """Work and memory of integrating ``members`` parameter sets of ``scn`` (``chunk_members`` at a time)."""
    from exoforge.upstream.schedule import build_schedule
    from exoforge.upstream.simulate import DT_MAX_DAYS, FINE_STEP_CLASS

    sched = build_schedule(scn)
    t, steps, segments = 0.0, 0, 0
    for ev in sched.events:
        steps += steps_for(ev.t - t, DT_MAX_DAYS)
        segments += 1
        t = ev.t
    together = min(members, chunk_members) if chunk_members else members
    memory = together * BYTES_PER_MEMBER_WORKING + kept_rows * BYTES_PER_ROW_KEPT
    return WorkEstimate(members, segments, steps, steps * (1 + 2**FINE_STEP_CLASS), float(memory))


def check(scn: Scenario, members: int, what: str, chunk_members: int | None = None, kept_rows: int = 0) -> WorkEstimate:
    """Raise :class:`WorkTooLarge` when ``what`` (e.g. 'this Monte Carlo') exceeds the work or memory limit."""
    est = estimate(scn, members, chunk_members, kept_rows)
    work_limit = _limit(WORK_LIMIT_ENV, DEFAULT_WORK_LIMIT)
    if est.member_steps > work_limit:
        days = sched_days(scn)
        raise WorkTooLarge(
            f"{what} asks for {est.member_steps:.3g} integration steps, over the limit of {work_limit:.3g}: "
            f"{members:,} parameter sets x {est.steps:,} steps each ({days:g} days of culture in {est.segments:,} "
            f"segments between events); use fewer samples or a shorter schedule, or raise the limit on purpose "
            f"with {WORK_LIMIT_ENV}"
        )
    mem_limit = memory_limit_bytes()
    if est.memory_bytes > mem_limit:
        raise WorkTooLarge(
            f"{what} needs about {est.memory_bytes / 1e9:.3g} GB, over the limit of {mem_limit / 1e9:.3g} GB "
            f"({members:,} parameter sets); use fewer samples, or raise the limit on purpose with {MEMORY_LIMIT_ENV}"
        )
    return est


def sched_days(scn: Scenario) -> float:
    return float(scn.expansion.days + scn.conditioning.days * scn.conditioning.collections)
