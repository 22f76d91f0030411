"""Print the README's performance table from benchmarks/results.json (``python benchmarks/summary.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).absolute().parent / "results.json"


def _rate(section: dict[str, Any]) -> str:
    return f"{section['evaluations_per_second']:,.0f}/s"


def table(r: dict[str, Any]) -> str:
    t = r["throughput"]
    ip = t["in_process"]
    lp = t["local_processes"]
    ref = r["reference"]
    dev = ref["max_relative_deviation"]
    sob = r["sobol"]
    dk = r["dask"]["workers"]
    opt = r["optimisation"]
    ratio = r["ratio_engine_to_reference"]
    tails = ref.get("tail_probe", {})
    tail_n = sum(v["scenarios"] for v in tails.values())
    tail_max = max((v["max_relative_deviation"] for v in tails.values()), default=0.0)
    tail_above = sum(v["rows_above_0.1_percent"] for v in tails.values())
    worst = f"{ref['worst_kpi']}, {ref['worst_example']}"
    rows = [
        "| what | measured | target |",
        "| --- | --- | --- |",
        f"| full-process evaluations per second, one process, N = 1e3 / 1e4 / 1e5 | "
        f"{_rate(ip['1000'])} / {_rate(ip['10000'])} / **{_rate(ip['100000'])}** | ≥ 10,000/s at N = 1e5 |",
        f"| same, N = 1e5, {lp['processes']} local worker processes | **{_rate(lp['100000'])}** | |",
        "| per-scenario scipy reference (LSODA, rtol 1e-8, same right-hand side, events, isolation, economics) | "
        f"{ref['speed']['evaluations_per_second']:.1f}/s | |",
        f"| ratio batch engine (one process, N = 1e5) / reference, same run | **{ratio:,.0f}×** | ≥ 50× |",
        f"| largest KPI deviation from the reference, {ref['scenarios_compared']} parameter sets, every example | "
        f"**{100 * dev:.4f} %** ({worst}); {ref['scenarios_above_0.1_percent']} above 0.1 % | ≤ 0.1 % |",
        f"| tail probe: {tail_n} parameter sets of the hollow-fibre, fixed-bed and spheroid examples | "
        f"largest {100 * tail_max:.3f} %; **{tail_above} above 0.1 %** | ≤ 0.1 % |",
        f"| peak memory, Monte Carlo N = 1e5 | **{r['memory']['peak_rss_mb']:,.0f} MB** | ≤ 2 GB |",
        f"| Sobol, {sob['parameters']} parameters, N = {sob['base_samples']} ({sob['n']:,} evaluations, 4 KPIs) | "
        f"**{sob['seconds_median']:.1f} s** | ≤ 60 s |",
        f"| Dask LocalCluster, N = 1e5: 1 → 2 workers | {_rate(dk['1'])} → {_rate(dk['2'])} "
        f"(**×{r['dask']['speedup_2_over_1']:.2f}**) | |",
        f"| optimisation, {opt['designs_evaluated']:,} designs of `{opt['space']}` "
        f"({opt['distinct_designs_simulated']:,} distinct scenarios simulated), {opt['processes']} processes | "
        f"**{opt['seconds']:.0f} s** | ≤ 120 s |",
    ]
    return "\n".join(rows)


def step_table(r: dict[str, Any]) -> str:
    lines = [
        "| RK4 step (days) | largest KPI deviation from LSODA | evaluations/s (N = 20,000) |",
        "| --- | --- | --- |",
    ]
    for s in r["integrator"]["rk4_step_study"]:
        lines.append(
            f"| {s['dt_days']:g} | {100 * s['max_relative_deviation_vs_lsoda']:.4f} % | "
            f"{s['evaluations_per_second_n20000']:,.0f} |"
        )
    return "\n".join(lines)


def main() -> int:
    r = json.loads(RESULTS.read_text())
    print(table(r))
    print()
    print(step_table(r))
    calls = r["integrator"]["rhs_calls_per_scenario"]
    print()
    print("right-hand-side calls per scenario: " + ", ".join(f"{k} {v:.0f}" for k, v in calls.items()))
    m = r["machine"]
    print(
        f"\n{m['cpus']} cores, Python {m['python']}, numpy {m['numpy']}; load average "
        f"{m['load_average_at_start'][0]:.1f} at start, {m['load_average_at_end'][0]:.1f} at end; {r['generated']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
