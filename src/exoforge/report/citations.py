"""Print the references a run used (the printing edge of :mod:`exoforge.evidence.citations`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from exoforge.evidence.citations import Format, entries_for, format_entries

if TYPE_CHECKING:
    from exoforge.result import Result


def print_citations(result: Result, format: Format = "text") -> str:
    """The references a run used, formatted, written to standard output and returned."""
    text = format_entries(entries_for(result), format)
    sys.stdout.write(text)
    return text
