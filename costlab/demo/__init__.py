"""The demo fleet: a seeded, realistic week of a Karpenter GPU fleet, loaded like real data."""
