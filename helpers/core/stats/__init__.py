"""Streaming statistics the detectors share: rolling moments, rolling quantiles, the anomaly ratio."""
