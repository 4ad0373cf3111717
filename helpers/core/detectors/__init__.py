"""Streaming anomaly detectors behind one contract (:mod:`.contract`): score a value, then learn from it.

- :mod:`.zscore` — the live default: a rolling mean/std z-score, and :mod:`.zscore_alarm`, its excursion alarm;
- :mod:`.robust_zscore` — median and MAD over a rolling window, optionally per time of day;
- :mod:`.mean_zscore` — the live sampler's mean/std z-score, under the same contract;
- :mod:`.likelihood` — anomaly likelihood, a post-processing step over any of them;
- :mod:`helpers.core.stats.rolling_quantiles` — the sliding-window median and MAD they rest on;
- :mod:`.presets` — the named detectors with the one configuration each uses on every series.
"""
