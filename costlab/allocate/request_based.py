"""Deprecated name of costlab.allocate.gpu (kept while in-flight branches move over)."""

from costlab.allocate.gpu import AllocationRun, allocate_window, data_bounds, hour_buckets

__all__ = ["AllocationRun", "allocate_window", "data_bounds", "hour_buckets"]
