"""exoforge: design, simulate, cost and optimise the production of MSC-derived exosomes (small EVs).

Quick start::

    import exoforge as xf
    scenario = xf.load_scenario("examples/stirred_tank_tff_sec.yaml")
    result = xf.simulate(scenario)
    print(result.kpis["cost.per_dose"], result.citations)
    mc = xf.monte_carlo(scenario, n=10_000, seed=1)
    sa = xf.sensitivity(scenario)
    best = xf.optimize(xf.load_space("examples/space_clinical_cost.yaml"))

Names are imported on first use, so that ``import exoforge`` (and the
``exoforge`` command) starts fast and loads the analysis stack (SALib, pymoo,
Dask) only when an analysis is asked for.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from exoforge._version import __version__

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ParameterSet": "exoforge.parameters",
    "Result": "exoforge.result",
    "ChecksFailed": "exoforge.result",
    "Scenario": "exoforge.scenario",
    "ScenarioError": "exoforge.scenario",
    "load_scenario": "exoforge.scenario",
    "parse_scenario": "exoforge.scenario",
    "evaluate": "exoforge.simulation",
    "parameters_for": "exoforge.simulation",
    "simulate": "exoforge.simulation",
    "meta_analysis": "exoforge.evidence.meta",
    "print_citations": "exoforge.report.citations",
    "monte_carlo": "exoforge.analysis.uncertainty",
    "sensitivity": "exoforge.analysis.sensitivity",
    "load_space": "exoforge.analysis.space",
    "optimize": "exoforge.analysis.optimize",
}

__all__ = [
    "ChecksFailed",
    "ParameterSet",
    "Result",
    "Scenario",
    "ScenarioError",
    "__version__",
    "evaluate",
    "load_scenario",
    "load_space",
    "meta_analysis",
    "monte_carlo",
    "optimize",
    "parameters_for",
    "parse_scenario",
    "print_citations",
    "sensitivity",
    "simulate",
]

if TYPE_CHECKING:
    from exoforge.analysis.optimize import optimize
    from exoforge.analysis.sensitivity import sensitivity
    from exoforge.analysis.space import load_space
    from exoforge.analysis.uncertainty import monte_carlo
    from exoforge.evidence.meta import meta_analysis
    from exoforge.parameters import ParameterSet
    from exoforge.report.citations import print_citations
    from exoforge.result import ChecksFailed, Result
    from exoforge.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
    from exoforge.simulation import evaluate, parameters_for, simulate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'exoforge' has no attribute '{name}'")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
