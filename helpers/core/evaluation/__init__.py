"""Judging detectors: a detector over a whole series, backtests, the classroom scorecard, NAB scoring."""
