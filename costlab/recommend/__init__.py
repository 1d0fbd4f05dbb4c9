"""costlab.recommend."""
