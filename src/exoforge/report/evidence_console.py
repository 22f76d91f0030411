"""Terminal tables of the study emulations, the pooled effects and the leave-one-study-out check."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from exoforge.analysis.assumption_ranking import AssumptionRank
from exoforge.analysis.emulation import Emulation
from exoforge.evidence.crossval import CrossvalSummary
from exoforge.evidence.hierarchy import HyperPosterior, Posterior, SharedArm
from exoforge.evidence.influence import StudyInfluence
from exoforge.simulation import DRIVER_THRESHOLD


def _console() -> Console:
    return Console(soft_wrap=False)


def print_emulations(done: Sequence[Emulation], skipped: Sequence[tuple[str, str]]) -> None:
    """Published ratio, what the model explains, and the per-cell effect left, per record."""
    table = Table(title="published comparisons emulated (model run on both arms, no secretion effect)")
    table.add_column("record", overflow="fold", max_width=30)
    table.add_column("norm.", overflow="fold")
    table.add_column("published", justify="right")
    table.add_column("model", justify="right")
    table.add_column("per-cell", justify="right")
    table.add_column("emul. SD", justify="right")
    for e in done:
        table.add_row(
            e.record_id,
            e.normalisation.replace("per_", ""),
            f"{e.published:.3g}",
            f"{math.exp(e.log_model_ratio):.3g}",
            f"{math.exp(e.log_effect):.3g}",
            f"{math.sqrt(e.emulation_var):.2f}",
        )
    console = _console()
    console.print(table)
    for rid, why in skipped:
        console.print(f"direction-only: {rid}: {why}")


def print_posterior(post: Posterior, hyper: HyperPosterior, shared: Sequence[SharedArm] = ()) -> None:
    """The partially pooled per-cell effect of one strategy, how far it was shrunk, and the comparisons
    of its studies that share a culture with its own (counted as covarying, evidence rule 6)."""
    lo, hi = post.range_95
    console = _console()
    console.print(
        f"partially pooled per-cell effect of {post.strategy} ({post.family} family): x{post.median:.3g} "
        f"(95 % for a new process {lo:.3g}-{hi:.3g}); k = {post.k} own studies, {post.k_family} in the family"
    )
    if post.raw_mean is not None:
        shrink = post.shrinkage
        frac = (
            f", shrunk {shrink:.0%} of the way to the family mean x{math.exp(post.family_mean):.3g}" if shrink else ""
        )
        console.print(f"  its own studies alone: x{math.exp(post.raw_mean):.3g}{frac}")
    for arm in shared:
        console.print(
            f"  shares a culture with {arm.other} in {arm.study} ({arm.relation}): sampling covariance "
            f"{arm.covariance:+.3f} ln², study-level correlation {arm.study_correlation:+.2g}"
        )
    console.print(
        f"  posterior SDs (ln): between studies {hyper.sigma:.2f}, between strategies {hyper.tau:.2f}, "
        f"between families {hyper.omega:.2f}"
    )


def print_influence(rows: Sequence[StudyInfluence]) -> None:
    """The pooled effect with each study that informs it left out, largest change first."""
    if not rows:
        return
    console = _console()
    console.print("  what it rests on: the effect with each study of its family left out (largest change first)")
    for row in rows:
        tags = ", ".join(row.strategies) + ("; a preprint" if row.preprint else "")
        change = "±0%" if abs(row.ratio - 1) < 0.005 else f"{row.ratio - 1:+.0%}"
        console.print(f"    without {row.study} ({tags}): x{row.median_without:.3g} ({change})")


def print_crossval(summary: CrossvalSummary) -> None:
    """One row per comparison, then the overall figures and targets."""
    table = Table(title="leave-one-study-out: each comparison predicted without its study")
    table.add_column("record", overflow="fold", max_width=28)
    table.add_column("published", justify="right")
    table.add_column("predicted", justify="right")
    table.add_column("95 % interval", justify="right")
    table.add_column("|log10|", justify="right")
    table.add_column("in", justify="center")
    for r in summary.rows:
        table.add_row(
            r.record_id + (" (preprint)" if r.preprint else ""),
            f"{r.published:.3g}",
            f"{r.predicted:.3g}",
            f"{r.low:.2g}-{r.high:.2g}",
            f"{r.log10_error:.2f}",
            "yes" if r.inside else "NO",
        )
    console = _console()
    console.print(table)
    console.print(
        f"median |log10(predicted/published)| {summary.median_log10_error:.2f} (target <= 0.30; no-effect "
        f"baseline {summary.baseline_median_log10_error:.2f}); 95 % interval coverage {summary.coverage:.0%} "
        f"(target 80-99 %) over {summary.n} comparisons"
    )


def print_crossval_sensitivity(left_out: str, summary: CrossvalSummary) -> None:
    """The overall figures of the check with ``left_out`` removed from the evidence altogether."""
    _console().print(
        f"without {left_out} in the evidence: median {summary.median_log10_error:.2f}, coverage "
        f"{summary.coverage:.0%} over {summary.n} comparisons",
        highlight=False,
    )


def print_gaps(ranked: Sequence[AssumptionRank], scenarios: int) -> None:
    """The assumptions that move the most runs, with how far and where."""
    from rich.markup import escape

    from exoforge.report.console import fmt

    console = _console()
    console.print(
        f"[bold]what to measure first[/]: stated assumptions (no cited figure) over {scenarios} scenarios, "
        f"those moving the most runs first (a run is moved when EVs in the product, cost per dose or cost "
        f"per batch change by more than {100 * DRIVER_THRESHOLD:.0f} % across the assumption's 90 % range)",
        highlight=False,
    )
    t = Table(show_edge=False, pad_edge=False)
    t.add_column("assumption", overflow="fold", ratio=1)
    t.add_column("value", justify="right", overflow="fold", max_width=20)
    t.add_column("moves\nruns", justify="right", no_wrap=True)
    t.add_column("largest\nchange", justify="right", no_wrap=True)
    for r in ranked:
        value = f"{fmt(r.values[0])}-{fmt(r.values[-1])}" if len(r.values) > 1 else fmt(r.values[0])
        t.add_row(escape(r.name), f"{value} {escape(r.unit)}".strip(), f"{r.drives}/{r.read_by}", f"{r.largest:.0%}")
    console.print(t)
    console.print(
        "why each is assumed and where its largest change happens: --json; "
        "its sources: exoforge parameters --grep NAME",
        highlight=False,
    )
