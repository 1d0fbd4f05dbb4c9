"""costlab.simulate."""
