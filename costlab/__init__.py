"""costlab: GPU cost and utilization analytics for Kubernetes GPU fleets."""

__version__ = "0.1.0"
