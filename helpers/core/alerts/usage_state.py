"""Normal or high usage, from the accumulated anomaly ratio with hysteresis.

Enter ``high_usage`` when the ratio rises strictly above ``enter``; leave it only
after the ratio has stayed strictly below ``exit`` for ``hold_s`` seconds (a
reading at or above ``exit`` restarts the wait). Two thresholds and a hold time,
so a ratio hovering near one value does not make the state flap.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

NORMAL, HIGH = "normal", "high_usage"


class Change(NamedTuple):
    t: float
    from_state: str
    to_state: str
    ratio: float
    reason: str


class UsageState:
    """One sensor's (or the line's) state.

    >>> s = UsageState()
    >>> s.update(0.0, 0.10, 0.10, 0.05, 60) is None          # at the enter ratio: not above it
    True
    >>> s.update(1.0, 0.11, 0.10, 0.05, 60).to_state
    'high_usage'
    >>> s.update(2.0, 0.04, 0.10, 0.05, 60), s.update(61.0, 0.04, 0.10, 0.05, 60)   # below, not long enough
    (None, None)
    >>> s.update(62.0, 0.04, 0.10, 0.05, 60).to_state
    'normal'
    """

    def __init__(self, state: str = NORMAL):
        self.state = state
        self.below_since: Optional[float] = None

    def update(self, t: float, ratio: float, enter: float, exit: float, hold_s: float) -> Optional[Change]:
        exit = min(exit, enter)
        if self.state == NORMAL:
            if ratio > enter:
                self.state = HIGH
                self.below_since = None
                return Change(t, NORMAL, HIGH, ratio, f"anomaly ratio {ratio:.1%} rose above {enter:.1%}")
            return None
        if ratio >= exit:
            self.below_since = None
            return None
        if self.below_since is None:
            self.below_since = t
        if t - self.below_since >= hold_s:
            self.state = NORMAL
            since = self.below_since
            self.below_since = None
            return Change(t, HIGH, NORMAL, ratio, f"anomaly ratio stayed below {exit:.1%} for {t - since:.0f} s "
                                                  f"(now {ratio:.1%})")
        return None
