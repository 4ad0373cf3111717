"""The sampler's retention chore: one small batch at a time, more often while there is a backlog."""
from __future__ import annotations

import logging

from flask import Flask

from helpers.storage import retention
from helpers.storage.db import db

log = logging.getLogger(__name__)

DAY = 86_400.0


class RetentionChore:
    """Thins readings older than ``RETENTION_RAW_DAYS`` and drops rollups older than ``RETENTION_ROLLUP_DAYS``.

    ``due(now)`` is cheap; ``run(now)`` does at most one batch of each kind and
    commits it. With a backlog (a full batch), the next call is due at once,
    so the sampler's loop interleaves batches with its own work.
    """

    def __init__(self, app: Flask):
        cfg = app.config
        self.raw_s = cfg["RETENTION_RAW_DAYS"] * DAY
        self.rollup_s = cfg["RETENTION_ROLLUP_DAYS"] * DAY
        self.batch = cfg["RETENTION_BATCH"]
        self.every = cfg["RETENTION_CHECK_SECONDS"]
        self.next_at = 0.0
        self.thinned = self.dropped = 0

    def due(self, now: float) -> bool:
        return self.raw_s > 0 and now >= self.next_at

    def run(self, now: float) -> int:
        """One batch of thinning and one of dropping; returns the readings thinned."""
        thinned = retention.thin(now - self.raw_s, self.batch)
        dropped = retention.drop_rollups(now - self.rollup_s, self.batch) if self.rollup_s > 0 else 0
        db.session.commit()
        self.thinned += thinned
        self.dropped += dropped
        backlog = thinned >= self.batch or dropped >= self.batch
        self.next_at = now if backlog else now + self.every
        if thinned or dropped:
            log.info("retention: %d readings thinned to minutes, %d minute rollups dropped", thinned, dropped)
        return thinned
