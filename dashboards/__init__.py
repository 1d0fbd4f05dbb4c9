"""The costlab Streamlit dashboard (read-only on the database)."""
