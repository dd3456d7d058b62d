"""The trade database: orders, fills, positions, trades, equity, events and breaker state."""
