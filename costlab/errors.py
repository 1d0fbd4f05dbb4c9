"""One exception base, narrow subclasses per layer, so the CLI can map them to exit codes."""

from __future__ import annotations


class CostlabError(Exception):
    """Base of every error costlab raises on purpose."""


class UsageError(CostlabError):
    """Bad user input: a date, a format, a --by key, a path. The CLI exits 2."""


class StoreError(CostlabError):
    """The database cannot be opened, migrated or is not a costlab database."""


class CollectorError(CostlabError):
    """A collector could not fetch or load its source."""


class ConservationError(CostlabError):
    """Allocated money does not add up to the node cost it came from."""
