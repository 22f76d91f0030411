"""The culture's calendar: seeding, medium exchanges, feeds, microcarrier additions, conditioning, collections.

:func:`build_schedule` turns a scenario's expansion and conditioning blocks into time-ordered
:class:`Event` s (days from seeding); the integrator runs the culture from one event to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

from exoforge.scenario import Scenario

#: Order of simultaneous events: additions first, collections last.
EVENT_ORDER = {"add_microcarriers": 0, "exchange": 1, "feed": 1, "start_conditioning": 2, "collect": 3}


@dataclass(frozen=True)
class Event:
    """A discrete schedule action at time ``t`` [day]."""

    t: float
    kind: str  # 'exchange' | 'feed' | 'add_microcarriers' | 'start_conditioning' | 'collect'
    fraction: float = 1.0  # exchanged fraction ('exchange'), glucose set-point in mM ('feed')


@dataclass(frozen=True)
class Schedule:
    """Times [day] of the run and its events."""

    expansion_days: float
    conditioning_days: float
    collections: int
    events: tuple[Event, ...]
    perfusion_expansion: float  # 1/day
    perfusion_conditioning: float  # 1/day

    @property
    def end(self) -> float:
        return self.expansion_days + self.conditioning_days * self.collections

    def count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.events)


def _every(start: float, step: float, stop: float) -> list[float]:
    out, t = [], start
    while t < stop - 1e-9:
        out.append(t)
        t += step
    return out


def build_schedule(scn: Scenario) -> Schedule:
    """Discrete events of the culture, from the scenario."""
    exp = scn.expansion
    cond = scn.conditioning
    events: list[Event] = []
    perf = 0.0
    feeding = exp.feeding
    if feeding is not None and feeding.perfusion_vvd is not None:
        perf = feeding.perfusion_vvd
    elif feeding is not None and feeding.exchange_fraction is not None:
        assert feeding.every_days is not None
        for t in _every(feeding.every_days, feeding.every_days, exp.days):
            events.append(Event(t, "exchange", feeding.exchange_fraction))
    elif feeding is not None and feeding.glucose_setpoint_mM is not None:
        assert feeding.every_days is not None
        for t in _every(feeding.every_days, feeding.every_days, exp.days):
            events.append(Event(t, "feed", feeding.glucose_setpoint_mM))
    mc = exp.microcarrier
    if mc is not None and mc.add_on_day is not None and mc.add_on_day < exp.days:
        events.append(Event(mc.add_on_day, "add_microcarriers"))
    events.append(Event(exp.days, "start_conditioning"))
    for j in range(1, cond.collections + 1):
        events.append(Event(exp.days + j * cond.days, "collect"))
    events.sort(key=lambda e: (e.t, EVENT_ORDER[e.kind]))
    return Schedule(exp.days, cond.days, cond.collections, tuple(events), perf, perf)
