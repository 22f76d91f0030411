"""Plug-ins: installed packages that add unit operations and parameters to exoforge.

A plug-in is any installed distribution that declares an entry point in the group
``exoforge.plugins`` (in its ``pyproject.toml``)::

    [project.entry-points."exoforge.plugins"]
    dialysis = "exoforge_dialysis:register"

The entry point names a function that exoforge calls once, with a :class:`PluginRegistrar`, the
first time a scenario is read, a parameter set is built or an isolation train is run. Through it
the plug-in adds

* a **unit operation**: its settings model (a subclass of
  :class:`exoforge.scenario_fields.OperationSettings` with ``op: Literal["<id>"]``), which then joins the
  scenario's ``isolation`` choices and ``exoforge schema``, and the function that runs it
  (``run(settings, stream, parameters, step_name) -> StepOutcome``, see
  :mod:`exoforge.downstream.operations`);
* a **medium**: its id, label and uses (expansion, conditioning), which join the scenario's medium
  choices; its parameters (:func:`exoforge.scenario.medium_parameter_names`: glucose, glutamine,
  protein, background particles, lipoprotein share, price, and for conditioning the growth and death
  factors) must be in the plug-in's parameter folder, which is checked once every plug-in is loaded;
* a **microcarrier**: its id and label, which join ``expansion.microcarrier.type``; its area per
  mass, bead diameter, density and swollen volume
  (:func:`exoforge.scenario.microcarrier_parameter_names`) must be in the plug-in's parameter folder;
* an **expansion platform**: its :class:`exoforge.upstream.platform_models.PlatformModel` (layout,
  the vessel it is priced as, its checks) and the built-in platform it is ``like``, whose scenario
  keys it takes and whose platform-specific parameters (labour, equipment, harvest) it must give in
  its parameter folder; it joins ``expansion.platform``. Its effect on EV secretion is the 3D family's
  predictive effect until a study measures it (a run says so);
* an **evidence set**: a folder in the layout of ``exoforge/evidence/data``: ``records/*.yaml``
  (comparison records in the packaged format, each with its DOI or PMID) and ``study_arms.yaml``
  (the default study arm of each platform the plug-in adds). Its records join the packaged ones:
  a comparison of a plug-in platform (``strategy: <platform>``) gives that platform a study of its
  own, pooled within its family like any other; its records are emulated when first read;
* a **parameter folder**: YAML files in the format of ``exoforge/data/parameters`` (validated
  the same way), holding the constants with their sources and the prices of what it uses
  (``price.<item>``).

``exoforge plugins`` lists what is installed and what each one added.

A plug-in that fails to load stops the program with its name and the reason, rather than
running without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exoforge.downstream.operations import OpFunction
    from exoforge.scenario_fields import OperationSettings
    from exoforge.upstream.platform_models import PlatformModel

#: Built-in platforms that are the reference of every platform effect (1 by definition).
REFERENCE_PLATFORMS = ("planar", "multilayer")

ENTRY_POINT_GROUP = "exoforge.plugins"

_loaded: list[PluginInfo] | None = None


@dataclass
class PluginInfo:
    """What one installed plug-in added."""

    name: str
    target: str  # the entry point's object, ``module:function``
    operations: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    microcarriers: list[str] = field(default_factory=list)
    platforms: dict[str, str] = field(default_factory=dict)  # platform -> the built-in it is like
    parameter_folders: list[str] = field(default_factory=list)
    evidence_folders: list[str] = field(default_factory=list)


class PluginError(RuntimeError):
    """An installed plug-in could not be loaded or registered something invalid."""


class PluginRegistrar:
    """What a plug-in's entry point receives: the ways it can extend exoforge."""

    def __init__(self, info: PluginInfo):
        self.info = info

    def unit_operation(self, settings: type[OperationSettings], run: OpFunction) -> None:
        """Add the isolation operation described by ``settings`` (its ``op`` id) and run by ``run``."""
        from exoforge.downstream.operations import register_operation
        from exoforge.scenario import register_operation_model

        op_id = register_operation_model(settings)
        register_operation(op_id, run)
        self.info.operations.append(op_id)

    def medium(self, medium: str, label: str, uses: list[str]) -> None:
        """Add a medium for ``uses`` ('expansion', 'conditioning'); its parameters come from a parameter folder."""
        from exoforge.scenario import register_medium

        register_medium(medium, label, uses)
        self.info.media.append(medium)

    def microcarrier(self, microcarrier: str, label: str) -> None:
        """Add a microcarrier type; its bead properties come from a parameter folder."""
        from exoforge.scenario import register_microcarrier

        register_microcarrier(microcarrier, label)
        self.info.microcarriers.append(microcarrier)

    def platform(
        self,
        model: PlatformModel,
        *,
        like: str,
        label: str,
        volume_range_l: tuple[float, float] | None = None,
        surface_range_m2: tuple[float, float] | None = None,
    ) -> None:
        """Add the expansion platform ``model.name``, taking the scenario keys and parameter names of ``like``.

        Its scale ranges are ``like``'s unless given. Unless it is like a reference platform (planar,
        multilayer), its effect on EV secretion joins the 3D-culture family as a strategy with no
        study of its own, so a run draws the family's predictive effect and says so.
        """
        from exoforge.evidence.store import register_strategy
        from exoforge.scenario import register_platform
        from exoforge.upstream.platform_models import register_platform as register_platform_model

        register_platform(model.name, like, volume_range_l, surface_range_m2)
        register_platform_model(model)
        if like not in REFERENCE_PLATFORMS:
            register_strategy(
                {
                    "id": model.name,
                    "category": "dynamic_3d_culture",
                    "family": "dynamic_3d_culture",
                    "label": label,
                    "effect": "platform",
                    "platforms": [model.name],
                    "pool_basis": "per_cell",
                }
            )
        self.info.platforms[model.name] = like

    def evidence_folder(self, folder: str | Path) -> None:
        """Add the comparison records of ``folder/records`` (and the study arms of ``folder/study_arms.yaml``)."""
        from exoforge.evidence.store import register_evidence_folder

        register_evidence_folder(self.info.name, Path(folder))
        self.info.evidence_folders.append(str(folder))

    def parameter_folder(self, folder: str | Path) -> None:
        """Read the parameter files (``*.yaml``) of ``folder`` with the packaged ones."""
        from exoforge.parameters import register_parameter_folder

        register_parameter_folder(Path(folder))
        self.info.parameter_folders.append(str(folder))


def load_plugins() -> tuple[str, ...]:
    """Load every installed plug-in once (later calls return the names loaded the first time)."""
    return tuple(p.name for p in loaded_plugins())


def loaded_plugins() -> tuple[PluginInfo, ...]:
    """Every installed plug-in and what it added, loading them on the first call."""
    global _loaded
    if _loaded is not None:
        return tuple(_loaded)
    _loaded = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        info = PluginInfo(ep.name, ep.value)
        try:
            register = ep.load()
            register(PluginRegistrar(info))
        except Exception as exc:
            raise PluginError(f"plug-in '{ep.name}' ({ep.value}) could not be loaded: {exc}") from exc
        _loaded.append(info)
    _check_media(_loaded)
    _check_platforms(_loaded)
    _check_evidence(_loaded)
    return tuple(_loaded)


def _check_evidence(plugins: list[PluginInfo]) -> None:
    """Every record of a plug-in's evidence set is valid against the whole catalogue, its id used once; so
    is every validation case it brings (``validation/*.yaml``)."""
    from exoforge.evidence.store import validate_files

    if not any(p.evidence_folders for p in plugins):
        return
    problems = [line for line in validate_files()[1] if line.startswith("plug-in ")]
    if problems:
        raise PluginError("\n".join(problems))
    if any((Path(f) / "validation").is_dir() for p in plugins for f in p.evidence_folders):
        from exoforge.upstream.validation import all_cases

        try:
            all_cases()
        except ValueError as exc:
            raise PluginError(str(exc)) from None


def _check_media(plugins: list[PluginInfo]) -> None:
    """Every medium and microcarrier a plug-in added has the parameters the model reads for it."""
    from exoforge.parameters import load_default_entries
    from exoforge.scenario import medium_parameter_names, microcarrier_parameter_names, plugin_media

    if not any(p.media or p.microcarriers for p in plugins):
        return
    names = {p.name for p in load_default_entries()}
    uses = plugin_media()
    for plugin in plugins:
        needs = [("medium", m, medium_parameter_names(m, uses[m])) for m in plugin.media]
        needs += [("microcarrier", m, microcarrier_parameter_names(m)) for m in plugin.microcarriers]
        for what, item, wanted in needs:
            missing = [n for n in wanted if n not in names]
            if missing:
                raise PluginError(
                    f"plug-in '{plugin.name}': {what} '{item}' has no {', '.join(missing)} in its parameter folder"
                )


def _check_platforms(plugins: list[PluginInfo]) -> None:
    """Every platform a plug-in added gives each platform-specific parameter its ``like`` platform has."""
    from exoforge.parameters import load_default_entries

    if not any(p.platforms for p in plugins):
        return
    entries = load_default_entries()
    general = {e.name for e in entries if "platform" not in dict(e.when)}
    for plugin in plugins:
        for platform, like in plugin.platforms.items():
            needed = sorted({e.name for e in entries if dict(e.when).get("platform") == like} - general)
            given = {e.name for e in entries if dict(e.when).get("platform") == platform}
            missing = [n for n in needed if n not in given]
            if missing:
                raise PluginError(
                    f"plug-in '{plugin.name}': platform '{platform}' (like {like}) has no "
                    f"{', '.join(missing)} with when: {{platform: {platform}}} in its parameter folder"
                )
