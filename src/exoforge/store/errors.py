"""Errors of the store, each meaning one thing a caller can act on.

The API maps them to HTTP statuses (404, 403, 409, 429); the command line prints one line and
exits with code 2.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of the store's errors."""


class NotFound(StoreError):
    """The object does not exist, or the caller may not know that it exists (another project's)."""


class Forbidden(StoreError):
    """The caller sees the object but its role does not allow this action."""


class Conflict(StoreError):
    """The action contradicts the stored state (an edit based on a stale revision, a duplicate name)."""


class ImmutableRecord(StoreError):
    """An attempt to change or delete a record that is permanent (audit entries, revisions, runs)."""


class TooManyJobs(StoreError):
    """The cap on concurrent analyses is reached; try again when one finishes."""
