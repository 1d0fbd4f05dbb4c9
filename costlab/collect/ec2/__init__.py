"""EC2 prices: the Pricing API, spot price history, the shipped snapshot and overrides."""
