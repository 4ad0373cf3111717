"""Ensembles: a detector made of others, named after them — the max of their scores or a k-of-n vote.

``max:a,b`` scores each reading with the largest of the members' scores, so it
alarms when any member does; ``vote2:a,b,c`` scores it with the second largest,
so it alarms only when two of the three agree (k-of-n: the k-th largest score).
Every member sees every reading (and its timestamp) and learns from it; the
ensemble is ready when all members are, so its score is None exactly while one
of them still warms up.
"""
from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

from helpers.core.detectors.contract import Detector, Timestamp

_SPEC = re.compile(r"^(max|vote(\d+)):(.+)$")


class Ensemble:
    """Scores a reading with the ``k``-th largest of its members' scores (``k=1``: the max).

    Parameters:
        members: the detectors combined, each of the contract.
        k: how many members must score at least as high (1 ≤ k ≤ len(members)).

    ``last`` holds each member's score of the last reading, so a verdict shows which agreed.

    >>> class Scripted:                      # a member that returns the scores it is given
    ...     def __init__(self, *scores):
    ...         self.scores, self.ready = iter(scores), True
    ...     def update(self, x, t=None):
    ...         return next(self.scores)
    >>> members = lambda: [Scripted(0.9, 0.1), Scripted(0.2, 0.8), Scripted(0.7, 0.3)]
    >>> anyone, two_of_three = Ensemble(members(), k=1), Ensemble(members(), k=2)
    >>> [anyone.update(x) for x in (1.0, 2.0)], [two_of_three.update(x) for x in (1.0, 2.0)]
    ([0.9, 0.8], [0.7, 0.3])
    >>> two_of_three.last
    [0.1, 0.8, 0.3]
    """

    def __init__(self, members: Sequence[Detector], k: int = 1):
        if not 1 <= k <= len(members):
            raise ValueError(f"k must be between 1 and the number of members ({len(members)}), not {k}")
        self.members, self.k = list(members), int(k)
        self.last: Optional[list[float]] = None

    @property
    def ready(self) -> bool:
        return all(member.ready for member in self.members)

    def update(self, x: float, t: Timestamp = None) -> Optional[float]:
        """The k-th largest member score of ``x`` (None while any member warms up); every member learns ``x``."""
        scores = [member.update(x, t) for member in self.members]
        if any(score is None for score in scores):
            self.last = None
            return None
        self.last = scores
        return sorted(scores, reverse=True)[self.k - 1]


def is_spec(name: str) -> bool:
    """Whether ``name`` is an ensemble spec (``max:a,b`` or ``voteK:a,b,…``).

    >>> is_spec("max:knn,robust_zscore"), is_spec("vote2:a,b,c"), is_spec("knn")
    (True, True, False)
    """
    return _SPEC.match(name) is not None


def parse(name: str) -> tuple[int, list[str]]:
    """``k`` and the member names of an ensemble spec; ValueError for anything else.

    >>> parse("max:robust_zscore_seasonal+likelihood,knn+likelihood")
    (1, ['robust_zscore_seasonal+likelihood', 'knn+likelihood'])
    >>> parse("vote2: a, b ,c")
    (2, ['a', 'b', 'c'])
    """
    match = _SPEC.match(name.strip())
    if match is None:
        raise ValueError(f"not an ensemble: {name!r} (expected max:a,b,… or voteK:a,b,…)")
    members = [member.strip() for member in match.group(3).split(",")]
    if any(not member for member in members):
        raise ValueError(f"an empty member name in {name!r}")
    k = 1 if match.group(1) == "max" else int(match.group(2))
    if not 1 <= k <= len(members):
        raise ValueError(f"{name!r}: a vote needs 1 <= k <= {len(members)} members")
    return k, members


def build(name: str, make: Callable[[str], Detector]) -> Ensemble:
    """The ensemble a spec names, each member made fresh by ``make(member_name)``."""
    k, members = parse(name)
    return Ensemble([make(member) for member in members], k)
