"""The production line as data: the simulated sensors, injected scenarios, line vectors for the line model."""
