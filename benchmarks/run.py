"""exoforge benchmark suite: measures (never asserts) and writes benchmarks/results.json.

Run with ``make bench`` (or ``python benchmarks/run.py [--quick]``). Every figure
is a median over repeats on this machine; ratios are measured side by side in
the same run. Sections:

throughput
    full-process evaluations per second (upstream ODEs with events, isolation
    train, economics; Monte Carlo sampling and summaries included) at N = 1e3,
    1e4, 1e5, in this process (vectorised) and, at N = 1e5, in local worker
    processes;
reference
    the same parameter sets evaluated scenario by scenario with scipy
    ``solve_ivp`` (LSODA, rtol 1e-8) over the same right-hand side, events,
    isolation and economics: evaluations per second, the ratio of the batch
    engine to it, and the largest KPI deviation between the two over every
    example scenario;
integrator
    why fixed-step classical RK4: right-hand-side calls of scipy's explicit
    and implicit methods per scenario (stiffness), and KPI deviation and
    throughput of the batch RK4 at several step sizes;
memory
    peak resident memory of a process running a Monte Carlo of N = 1e5;
sobol
    wall time of a Sobol analysis of 20 parameters at N = 1024 base samples;
dask
    Monte Carlo of N = 1e5 on a Dask LocalCluster with 1 and 2 worker processes;
optimisation
    wall time of an optimisation over 1e4 designs (examples/space_clinical_cost.yaml).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

ROOT = Path(__file__).absolute().parents[1]
sys.path.insert(0, str(ROOT))

import exoforge as xf  # noqa: E402
from benchmarks.reference import kpi_deviation, reference_kpis  # noqa: E402
from exoforge.analysis.uncertainty import monte_carlo  # noqa: E402
from exoforge.engine.backends import DaskBackend, LocalBackend  # noqa: E402
from exoforge.engine.reference import ReferenceSettings  # noqa: E402
from exoforge.simulation import evaluate, parameters_for  # noqa: E402

SCENARIO = ROOT / "examples" / "stirred_tank_tff_sec.yaml"
SPACE = ROOT / "examples" / "space_clinical_cost.yaml"
#: Examples whose kinetics have kinks (cells reaching capacity, oxygen-limited aggregates): many
#: more parameter sets than the others, to see the tails of the deviation.
TAIL_EXAMPLES = ("platform_hollow_fiber.yaml", "platform_fixed_bed.yaml", "platform_spheroid.yaml")
UPSTREAM_STEP = "exoforge.upstream.simulate.DT_MAX_DAYS"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Wall times of ``repeats`` calls (and the last result)."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def summary(times: list[float], n: int) -> dict[str, Any]:
    med = statistics.median(times)
    return {
        "n": n,
        "repeats": len(times),
        "seconds_median": med,
        "seconds_min": min(times),
        "seconds_max": max(times),
        "evaluations_per_second": n / med,
    }


def scenario_examples() -> list[Path]:
    return sorted(p for p in (ROOT / "examples").glob("*.yaml") if not p.name.startswith(("space_", "select_")))


# --------------------------------------------------------------------------- sections


def bench_throughput(scn: xf.Scenario, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"scenario": SCENARIO.name, "in_process": {}}
    monte_carlo(scn, n=256, seed=0)  # imports and caches warm
    for n, reps in ((1_000, 7), (10_000, 5), (100_000, 2 if quick else 3)):
        times, _ = timed(lambda n=n: monte_carlo(scn, n=n, seed=1), reps)
        out["in_process"][str(n)] = summary(times, n)
        log(f"throughput N={n}: {n / statistics.median(times):,.0f} evaluations/s")
    cores = os.cpu_count() or 1
    with LocalBackend(cores) as backend:
        monte_carlo(scn, n=2 * 16_384, seed=0, backend=backend)  # start the workers
        times, _ = timed(lambda: monte_carlo(scn, n=100_000, seed=1, backend=backend), 2 if quick else 3)
    out["local_processes"] = {"processes": cores, "100000": summary(times, 100_000)}
    log(f"throughput N=1e5, {cores} processes: {100_000 / statistics.median(times):,.0f} evaluations/s")
    return out


@dataclass
class Case:
    """An example's parameter sets and their reference KPIs (reused by the integrator study)."""

    name: str
    scenario: xf.Scenario
    batch: Any
    reference: dict[str, np.ndarray]


def bench_reference(quick: bool, cases: list[Case]) -> dict[str, Any]:
    """Per-scenario scipy reference on the headline scenario (speed) and every example (accuracy)."""
    settings = ReferenceSettings("LSODA", rtol=1e-8)
    per_example: dict[str, Any] = {}
    speed: dict[str, Any] = {}
    worst = (0.0, "", "")
    above = rows = 0
    k = 8 if quick else 30
    for path in scenario_examples():
        scn = xf.load_scenario(path)
        ps = parameters_for(scn).params
        batch = ps.sample(k, np.random.default_rng(42))
        t = time.perf_counter()
        ref, stats = reference_kpis(scn, batch, settings)
        ref_s = time.perf_counter() - t
        cases.append(Case(path.name, scn, batch, ref))
        engine = evaluate(scn, batch).kpis
        dev = kpi_deviation(engine, ref)
        above += dev.rows_above(1e-3)
        rows += dev.rows
        per_example[path.name] = {
            "scenarios": k,
            "max_relative_deviation": dev.max_relative,
            "worst_kpi": dev.worst_kpi,
            "rows_above_0.1_percent": dev.rows_above(1e-3),
            "rows_with_whole_number_flip": dev.rounding_flips,
            "largest_whole_number_step": dev.largest_whole_number_step,
            "reference_rhs_calls_per_scenario": stats.rhs_calls / k,
            "reference_seconds_per_scenario": ref_s / k,
        }
        if dev.max_relative > worst[0]:
            worst = (dev.max_relative, dev.worst_kpi, path.name)
        if path == SCENARIO:
            speed = {"scenarios": k, "seconds": ref_s, "evaluations_per_second": k / ref_s}
        log(f"reference {path.name}: {k / ref_s:.1f} scenarios/s, max KPI deviation {dev.max_relative:.2e}")
    tails = {}
    for name in TAIL_EXAMPLES:
        scn = xf.load_scenario(ROOT / "examples" / name)
        batch = parameters_for(scn).params.sample(50 if quick else 150, np.random.default_rng(7))
        ref, _ = reference_kpis(scn, batch, settings)
        dev = kpi_deviation(evaluate(scn, batch).kpis, ref)
        tails[name] = {
            "scenarios": dev.rows,
            "max_relative_deviation": dev.max_relative,
            "worst_kpi": dev.worst_kpi,
            "rows_above_0.1_percent": dev.rows_above(1e-3),
        }
        log(f"tail probe {name}: max {dev.max_relative:.2e}, {dev.rows_above(1e-3)} of {dev.rows} above 0.1 %")
    return {
        "method": settings.method,
        "rtol": settings.rtol,
        "atol": settings.atol,
        "tail_probe": tails,
        "headline_scenario": SCENARIO.name,
        "speed": speed,
        "max_relative_deviation": worst[0],
        "worst_kpi": worst[1],
        "worst_example": worst[2],
        "scenarios_compared": rows,
        "scenarios_above_0.1_percent": above,
        "per_example": per_example,
    }


def bench_integrator(scn: xf.Scenario, quick: bool, cases: list[Case]) -> dict[str, Any]:
    """Stiffness (work of explicit vs implicit scipy methods) and RK4 accuracy and speed against the step.

    The step study compares the batch RK4 at each step with the LSODA reference of
    every example (the cases of the reference section) and reports the worst.
    """
    ps = parameters_for(scn).params
    batch = ps.sample(6 if quick else 12, np.random.default_rng(5))
    calls: dict[str, float] = {}
    failures: dict[str, int] = {}
    for method in ("LSODA", "Radau", "BDF", "RK45"):
        settings = ReferenceSettings(method, rtol=1e-8)
        _, stats = reference_kpis(scn, batch, settings, as_reference=settings.is_reference)
        label = method if settings.is_reference else f"{method} (explicit)"
        calls[label] = stats.rhs_calls / batch.n
        failures[label] = stats.failures
        log(f"{label}: {calls[label]:.0f} right-hand-side calls per scenario, {stats.failures} failed segments")
    one = batch.subset(slice(0, 1))
    steps: list[dict[str, Any]] = []
    big = ps.sample(20_000, np.random.default_rng(6))
    for dt in (0.4, 0.2, 0.1, 0.05, 0.025):
        with mock.patch(UPSTREAM_STEP, dt):
            devs = {c.name: kpi_deviation(evaluate(c.scenario, c.batch).kpis, c.reference) for c in cases}
            times, _ = timed(lambda: evaluate(scn, big), 1 if quick else 2)
            rhs_calls = _rk4_calls(scn, one)
        worst = max(devs, key=lambda k: devs[k].max_relative)
        steps.append(
            {
                "dt_days": dt,
                "max_relative_deviation_vs_lsoda": devs[worst].max_relative,
                "worst_kpi": devs[worst].worst_kpi,
                "worst_example": worst,
                "rows_with_whole_number_flip": sum(d.rounding_flips for d in devs.values()),
                "evaluations_per_second_n20000": big.n / statistics.median(times),
                "rhs_calls_per_batch": rhs_calls,
            }
        )
        log(f"RK4 dt={dt}: max deviation {devs[worst].max_relative:.2e}, {big.n / statistics.median(times):,.0f}/s")
    from exoforge.upstream.simulate import DT_MAX_DAYS

    return {
        "step_in_use_days": DT_MAX_DAYS,
        "scenarios": batch.n,
        "rhs_calls_per_scenario": calls,
        "failed_segments": failures,
        "rk4_step_study": steps,
    }


def _rk4_calls(scn: xf.Scenario, batch: Any) -> int:
    import exoforge.upstream.simulate as usim

    real = usim.kin.rhs
    count = [0]

    def counting(*a: Any, **kw: Any) -> Any:
        count[0] += 1
        return real(*a, **kw)

    with mock.patch.object(usim.kin, "rhs", counting):
        evaluate(scn, batch)
    return count[0]


MEMORY_PROBE = """
import resource, sys, json
sys.path.insert(0, {root!r})
import exoforge as xf
from exoforge.analysis.uncertainty import monte_carlo
scn = xf.load_scenario({scenario!r})
monte_carlo(scn, n=64, seed=0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mc = monte_carlo(scn, n=100_000, seed=1)
mc.to_json()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"peak_rss_mb": after / 1024, "after_imports_rss_mb": before / 1024}}))
"""


def bench_memory() -> dict[str, Any]:
    code = MEMORY_PROBE.format(root=str(ROOT / "src"), scenario=str(SCENARIO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    d["n"] = 100_000
    d["note"] = "peak resident set size of a fresh process (ru_maxrss), imports included"
    log(f"peak memory N=1e5: {d['peak_rss_mb']:.0f} MB")
    return d


def bench_sobol(scn: xf.Scenario, quick: bool) -> dict[str, Any]:
    from exoforge.analysis.sensitivity import influential_names, sensitivity

    ps = parameters_for(scn).params
    names = influential_names(scn, ps)[:20]
    times, res = timed(lambda: sensitivity(scn, methods=("sobol",), n=1024, names=names, seed=1), 1 if quick else 3)
    d = summary(times, res.evaluations)
    d.update({"parameters": len(names), "base_samples": 1024, "kpis": list(res.kpis)})
    log(f"Sobol 20 parameters N=1024: {statistics.median(times):.1f} s ({res.evaluations:,} evaluations)")
    return d


def bench_dask(scn: xf.Scenario, quick: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"n": 100_000, "workers": {}}
    for workers in (1, 2):
        with DaskBackend(workers=workers) as backend:
            monte_carlo(scn, n=2 * 16_384, seed=0, backend=backend)  # workers warm
            times, _ = timed(lambda b=backend: monte_carlo(scn, n=100_000, seed=1, backend=b), 2 if quick else 3)
        out["workers"][str(workers)] = summary(times, 100_000)
        log(f"dask {workers} worker(s): {100_000 / statistics.median(times):,.0f} evaluations/s")
    one, two = (out["workers"][k]["evaluations_per_second"] for k in ("1", "2"))
    out["speedup_2_over_1"] = two / one
    return out


def bench_optimisation(quick: bool) -> dict[str, Any]:
    from exoforge.analysis.optimize import optimize
    from exoforge.analysis.space import load_space

    space = load_space(SPACE)
    designs = 2_000 if quick else 10_000
    population = 100
    generations = math.ceil(designs / population)
    cores = os.cpu_count() or 1
    with LocalBackend(cores) as backend:
        t = time.perf_counter()
        res = optimize(
            space,
            backend=backend,
            generations=generations,
            population=population,
            seed=1,
            check_robustness=False,
            odds_samples=0,
        )
        seconds = time.perf_counter() - t
    best = res.recommendations()
    d = {
        "space": SPACE.name,
        "designs_evaluated": res.evaluated,
        "distinct_designs_simulated": len(res.designs),
        "feasible": int(res.feasible.sum()),
        "population": population,
        "generations": generations,
        "processes": cores,
        "seconds": seconds,
        "designs_per_second": res.evaluated / seconds,
        "distinct_designs_per_second": len(res.designs) / seconds,
        "best_cost_per_dose": best[0].metrics.value("cost.per_dose") if best else None,
    }
    log(
        f"optimisation: {res.evaluated:,} designs ({len(res.designs):,} distinct) in {seconds:.0f} s "
        f"with {cores} processes"
    )
    return d


def targets(r: dict[str, Any]) -> dict[str, Any]:
    t: dict[str, Any] = {}
    if "throughput" in r:
        best = max(
            r["throughput"]["in_process"]["100000"]["evaluations_per_second"],
            r["throughput"]["local_processes"]["100000"]["evaluations_per_second"],
        )
        single = r["throughput"]["in_process"]["100000"]["evaluations_per_second"]
        t["evaluations_per_second_n1e5"] = {"target": 10_000, "measured_one_process": single, "measured_best": best}
        t["evaluations_per_second_n1e5"]["met"] = best >= 10_000
    if "reference" in r and "throughput" in r:
        ratio = (
            r["throughput"]["in_process"]["100000"]["evaluations_per_second"]
            / r["reference"]["speed"]["evaluations_per_second"]
        )
        t["ratio_to_scipy_reference"] = {"target": 50, "measured_one_process": ratio, "met": ratio >= 50}
        ref = r["reference"]
        dev = ref["max_relative_deviation"]
        tails = ref.get("tail_probe", {})
        tail_max = max((v["max_relative_deviation"] for v in tails.values()), default=0.0)
        tail_above = sum(v["rows_above_0.1_percent"] for v in tails.values())
        t["kpi_deviation"] = {
            "target": 1e-3,
            "measured": dev,
            "scenarios_compared": ref["scenarios_compared"],
            "scenarios_above_target": ref["scenarios_above_0.1_percent"],
            "tail_probe_max": tail_max,
            "tail_probe_scenarios": sum(v["scenarios"] for v in tails.values()),
            "tail_probe_above_target": tail_above,
            "met": dev <= 1e-3 and tail_above == 0,
        }
    if "memory" in r:
        mb = r["memory"]["peak_rss_mb"]
        t["peak_memory_mb_n1e5"] = {"target": 2048, "measured": mb, "met": mb <= 2048}
    if "sobol" in r:
        s = r["sobol"]["seconds_median"]
        t["sobol_20_parameters_n1024_seconds"] = {"target": 60, "measured": s, "met": s <= 60}
    if "optimisation" in r:
        o = r["optimisation"]
        t["optimisation_1e4_designs_seconds"] = {
            "target": 120,
            "measured": o["seconds"],
            "designs": o["designs_evaluated"],
            "met": o["designs_evaluated"] >= 10_000 and o["seconds"] <= 120,
        }
    return t


SECTIONS = ("throughput", "reference", "integrator", "memory", "sobol", "dask", "optimisation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and a 2,000-design optimisation")
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.json")
    args = parser.parse_args(argv)
    sections = args.only or list(SECTIONS)
    scn = xf.load_scenario(SCENARIO)
    results: dict[str, Any] = {}
    if args.out.exists() and args.only:
        results = json.loads(args.out.read_text())  # update the given sections, keep the others
    started = time.perf_counter()
    load_at_start = list(os.getloadavg())  # other work on the machine: the figures are only as quiet as it is
    cases: list[Case] = []
    if "integrator" in sections and "reference" not in sections:
        sections.insert(sections.index("integrator"), "reference")  # the step study needs the reference KPIs
    for name in sections:
        log(f"--- {name}")
        if name == "throughput":
            results[name] = bench_throughput(scn, args.quick)
        elif name == "reference":
            results[name] = bench_reference(args.quick, cases)
        elif name == "integrator":
            results[name] = bench_integrator(scn, args.quick, cases)
        elif name == "memory":
            results[name] = bench_memory()
        elif name == "sobol":
            results[name] = bench_sobol(scn, args.quick)
        elif name == "dask":
            results[name] = bench_dask(scn, args.quick)
        elif name == "optimisation":
            results[name] = bench_optimisation(args.quick)
    if "throughput" in results and "reference" in results:
        results["ratio_engine_to_reference"] = (
            results["throughput"]["in_process"]["100000"]["evaluations_per_second"]
            / results["reference"]["speed"]["evaluations_per_second"]
        )
    results["targets"] = targets(results)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "exoforge": xf.__version__,
        "max_rss_of_this_run_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_average_at_start": load_at_start,
        "load_average_at_end": list(os.getloadavg()),
    }
    results["generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["quick"] = args.quick
    results["seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {args.out}")
    for key, t in results["targets"].items():
        log(f"{key}: {json.dumps(t)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
