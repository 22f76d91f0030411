"""Example plug-in platform: microcarriers in a rocking-motion bag (one module, one parameter file).

The bag takes the scenario keys of a spinner flask (a working volume and microcarriers), its
layout (surface from the beads, medium volume, oxygen supply) and its culture checks; it is priced
as its own single-use bag (``price.rocking_bag_per_l``) and has no impeller. Its labour and
harvest parameters are in ``parameters/rocking_bag.yaml``, with those of the example microcarrier the
plug-in adds too. Its evidence (``evidence/``) is the closest published comparison of rocking-motion
culture, with the bag's default study arm; a run then pools the bag's effect from that study.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exoforge.plugins import PluginRegistrar
from exoforge.resources import Resource
from exoforge.scenario import Expansion
from exoforge.upstream import platforms as geometry
from exoforge.upstream.platform_models import PlatformModel


def _bag(exp: Expansion, geo: geometry.VesselGeometry, vessels: float, added_grams: np.ndarray) -> list[Resource]:
    assert exp.microcarrier is not None  # the scenario requires one, as on a spinner
    grams = exp.microcarrier.g_per_l * geo.volume_l * vessels + added_grams
    return [
        Resource("microcarrier_per_g", grams, "g", "expansion"),
        Resource("rocking_bag_per_l", geo.volume_l * vessels, "L", "expansion"),
    ]


ROCKING_BAG = PlatformModel("example_rocking_bag", geometry.microcarrier_layout, _bag)


def register_platform(plugins: PluginRegistrar) -> None:
    """Add the rocking bag, like a spinner, for 0.1-25 L of culture, and a microcarrier to grow on."""
    plugins.microcarrier("example_beads", "example beads (plug-in)")
    plugins.platform(
        ROCKING_BAG, like="spinner", label="microcarriers in a rocking-motion bag (plug-in)", volume_range_l=(0.1, 25.0)
    )
    plugins.evidence_folder(Path(__file__).parent / "evidence")
