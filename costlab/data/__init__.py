"""Reference data shipped with costlab; see NOTICE.md."""
