"""The culture variables a batch-data file may hold, each with the model output it is compared with.

Every variable has a *model unit* (the unit the simulation reports it in);
values are converted to it through pint at import, so a file may give glucose
in g/L or mg/dL as well as mM, cells as ``1e6 cells``, viability in %.

Molar masses (for mass concentrations of metabolites) are computed from the
IUPAC standard atomic weights (C 12.011, H 1.008, N 14.007, O 15.999; Prohaska
et al. 2022, doi:10.1515/pac-2019-0603, Table 1, abridged values): glucose
C6H12O6 180.156 g/mol, lactate C3H5O3- 89.071 g/mol, glutamine C5H10N2O3
146.146 g/mol, ammonium NH4+ 18.039 g/mol.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """A measurable culture variable."""

    name: str
    unit: str  # model unit
    description: str
    kind: str  # what it measures, for messages ("a concentration", "a number of cells", ...)
    molar_mass_g_per_mol: float | None = None
    lower: float = 0.0
    upper: float | None = None
    default_assay: str = ""


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(
            "viable_cells",
            "cell",
            "viable cells in the whole culture (every vessel), at the sampling time",
            "a number of cells",
            default_assay="cell_count",
        ),
        Variable(
            "viable_cell_density",
            "cell/mL",
            "viable cells per mL of the culture's working volume (volume-based platforms)",
            "a cell concentration",
            default_assay="cell_count",
        ),
        Variable(
            "viable_cells_per_cm2",
            "cell/cm**2",
            "viable cells per cm² of growth surface (planar, multilayer, hollow-fibre and fixed-bed platforms)",
            "an areal cell density",
            default_assay="cell_count",
        ),
        Variable(
            "viability",
            "",
            "viable cells / (viable + dead cells) in the vessels",
            "a fraction",
            upper=1.0,
            default_assay="cell_count",
        ),
        Variable(
            "glucose",
            "mM",
            "glucose in the culture medium",
            "a concentration",
            molar_mass_g_per_mol=180.156,
            default_assay="metabolite_analyser",
        ),
        Variable(
            "lactate",
            "mM",
            "lactate in the culture medium",
            "a concentration",
            molar_mass_g_per_mol=89.071,
            default_assay="metabolite_analyser",
        ),
        Variable(
            "glutamine",
            "mM",
            "glutamine in the culture medium",
            "a concentration",
            molar_mass_g_per_mol=146.146,
            default_assay="metabolite_analyser",
        ),
        Variable(
            "ammonia",
            "mM",
            "ammonia (ammonium) in the culture medium",
            "a concentration",
            molar_mass_g_per_mol=18.039,
            default_assay="metabolite_analyser",
        ),
        Variable(
            "ev_concentration",
            "particle/mL",
            "EV particles per mL of the medium in contact with the cells (conditioned medium), NTA-equivalent",
            "a particle concentration",
            default_assay="nta",
        ),
    )
}
