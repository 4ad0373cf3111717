"""Alert logic without I/O: the state/burst/excursion rules, usage state with hysteresis, an alarm's e-mail text."""
