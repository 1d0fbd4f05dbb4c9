"""Collectors: each source module turns its records into rows of the raw tables via `sink`."""
