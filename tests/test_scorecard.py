"""The session scorecard: caught, missed, pending, false alarms and delay from flags and ground truth."""
from __future__ import annotations

import pytest

from helpers.core.evaluation.scorecard import Event, score


def test_caught_event_with_its_delay_and_a_missed_one():
    events = [Event(1, "a", "spike", 10.0, 12.0), Event(2, "b", "drift", 20.0, 30.0)]
    card = score(events, {"a": [10.5], "b": []}, now=100.0, grace_s=5.0)
    assert (card["caught"], card["missed"], card["pending"], card["events"]) == (1, 1, 0, 2)
    assert card["mean_delay_s"] == pytest.approx(0.5)
    assert [d["status"] for d in card["details"]] == ["caught", "missed"]


def test_an_open_window_is_pending_until_grace_ends():
    events = [Event(1, "a", "level_shift", 10.0, 20.0)]
    assert score(events, {}, now=24.0, grace_s=5.0)["pending"] == 1
    assert score(events, {}, now=25.1, grace_s=5.0)["missed"] == 1


def test_a_detection_in_the_grace_after_the_end_counts_a_flag_before_the_start_does_not():
    events = [Event(1, "a", "drift", 10.0, 20.0)]
    late = score(events, {"a": [23.0]}, now=100.0, grace_s=5.0)
    assert late["caught"] == 1 and late["details"][0]["delay_s"] == pytest.approx(13.0)
    early = score(events, {"a": [9.0]}, now=100.0, grace_s=5.0)
    assert early["missed"] == 1 and early["false_alarms"] == 1


def test_false_alarm_bursts_count_once_and_other_sensors_flags_are_not_hits():
    events = [Event(1, "a", "spike", 50.0, 51.0)]
    flags = {"a": [1.0, 2.0, 3.0, 30.0], "b": [50.5]}
    card = score(events, flags, now=100.0, grace_s=5.0)
    assert card["caught"] == 0 and card["missed"] == 1
    assert card["false_alarms"] == 3  # a: burst 1-3, a: 30, b: 50.5
    assert card["mean_delay_s"] is None
