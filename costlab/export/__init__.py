"""Exports of a costlab database to other formats (`costlab export ...`)."""
