"""The domain model: typed values shared by every part of adxbot."""
