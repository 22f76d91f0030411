"""exoforge: design, simulate, cost and optimise the production of MSC-derived exosomes (small EVs).

Quick start::

    import exoforge as xf
    scenario = xf.load_scenario("examples/stirred_tank_tff_sec.yaml")
    result = xf.simulate(scenario)
    print(result.kpis["cost.per_dose"], result.citations)
"""

from exoforge._version import __version__
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
    "meta_analysis",
    "parameters_for",
    "parse_scenario",
    "print_citations",
    "simulate",
]
