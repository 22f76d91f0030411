"""exoforge: design, simulate, cost and optimise the production of MSC-derived exosomes (small EVs).

Quick start::

    import exoforge as xf
    scenario = xf.load_scenario("examples/stirred_tank_tff_sec.yaml")
    result = xf.simulate(scenario)
    print(result.kpis["cost.per_dose"], result.citations)
    mc = xf.monte_carlo(scenario, n=10_000, seed=1)
    sa = xf.sensitivity(scenario)
    best = xf.optimize(xf.load_space("examples/space_clinical_cost.yaml"))
"""

from typing import Any

from exoforge._version import __version__
from exoforge.analysis.sensitivity import sensitivity
from exoforge.analysis.space import load_space
from exoforge.analysis.uncertainty import monte_carlo
from exoforge.evidence.citations import print_citations
from exoforge.evidence.meta import meta_analysis
from exoforge.parameters import ParameterSet
from exoforge.result import Result
from exoforge.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from exoforge.simulation import evaluate, parameters_for, simulate

__all__ = [
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


def __getattr__(name: str) -> Any:
    """``optimize`` is imported on first use (it loads pymoo, which ``exoforge run`` does not need)."""
    if name == "optimize":
        from exoforge.analysis.optimize import optimize

        return optimize
    raise AttributeError(f"module 'exoforge' has no attribute '{name}'")
