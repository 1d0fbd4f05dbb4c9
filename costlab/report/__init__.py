"""costlab.report."""
