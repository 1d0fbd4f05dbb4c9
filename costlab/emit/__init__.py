"""costlab.emit."""
