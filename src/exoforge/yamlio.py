"""Fast, safe YAML reading for the packaged data files (libyaml when available)."""

from __future__ import annotations

from typing import Any

import yaml

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """Parse YAML text with a safe loader."""
    return yaml.load(text, Loader=_SafeLoader)
