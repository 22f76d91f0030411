"""Packaged characterisation data (the MISEV2023-derived checklist)."""
