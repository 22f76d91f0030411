"""Alembic migration environment of the workspace store (found as ``exoforge.store:migrations``)."""
