"""Turning decisions into orders and keeping positions true: simulated and real traders."""
