"""The running bot: the candle loop, its clock, startup and shutdown."""
