"""exoforge: design, simulate, cost and optimise the production of MSC-derived exosomes (small EVs).

Quick start::

    import exoforge as xf
    scenario = xf.load_scenario("examples/stirred_tank_tff_sec.yaml")
    result = xf.simulate(scenario)
    print(result.kpis["cost.per_dose"], result.citations)
"""

from exoforge._version import __version__
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
    "parameters_for",
    "parse_scenario",
    "simulate",
]
