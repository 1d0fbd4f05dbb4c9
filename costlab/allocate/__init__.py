"""The allocation engine: node dollars to GPU-hours to tenants, conserved to the micro-dollar."""
