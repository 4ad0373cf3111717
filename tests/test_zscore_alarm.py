"""The z-score's excursion alarm: few alarms on routine noise, one per excursion, kept across a restart."""
from __future__ import annotations

import math
import random

from helpers.core.detectors.zscore import ZScoreDetector
from helpers.core.detectors.zscore_alarm import EXTREME, UNUSUAL
from helpers.storage import line as line_store
from helpers.storage import readings as reading_store
from tests.helpers_for_tests import FakeClock, drive, started_sampler

T0 = 1_800_000_000.0


def t3_noise(n, seed, level=10.0):
    """Student's t with 3 degrees of freedom: heavy tails, as real sensors have."""
    rng = random.Random(seed)

    def one():
        return rng.gauss(0, 1) / math.sqrt(sum(rng.gauss(0, 1) ** 2 for _ in range(3)) / 3)
    return [level + one() for _ in range(n)]


def gauss(n, seed, level=10.0):
    rng = random.Random(seed)
    return [rng.gauss(level, 1.0) for _ in range(n)]


def alarms(verdicts, start=0):
    return [(i, v.alarm_reason) for i, v in enumerate(verdicts) if v.alarm and i >= start]


def test_routine_heavy_tailed_noise_is_often_out_of_band_but_rarely_alarms():
    det = ZScoreDetector()
    verdicts = [det.update(x) for x in t3_noise(3000, seed=11)]
    late = verdicts[400:]  # past the model (100) and the likelihood's first 300 verdicts
    out_of_band = sum(v.anomaly for v in late)
    raised = sum(v.alarm for v in late)
    assert out_of_band >= 60, out_of_band
    assert raised <= out_of_band / 10, (raised, out_of_band)
    assert all(v.likelihood is not None for v in late)


def test_a_shift_after_warm_up_alarms_once_at_its_first_reading_as_a_new_extreme():
    det = ZScoreDetector()
    values = gauss(1000, seed=3) + gauss(25, seed=4, level=18.0) + gauss(200, seed=5)
    verdicts = [det.update(x) for x in values]
    assert all(v.anomaly for v in verdicts[1000:1025])  # the whole shift is out of band ...
    assert alarms(verdicts, 400) == [(1000, EXTREME)]  # ... and alarms once, at once


def test_a_shift_inside_the_range_seen_alarms_once_as_unusual_for_the_sensor():
    det = ZScoreDetector()
    values = gauss(1000, seed=6)
    values[200] = 40.0  # a spike long ago: 16 is inside the range seen since
    values += gauss(20, seed=7, level=16.0) + gauss(200, seed=8)
    verdicts = [det.update(x) for x in values]
    raised = alarms(verdicts, 400)
    assert len(raised) == 1 and raised[0][1] == UNUSUAL and 1000 <= raised[0][0] <= 1003, raised
    assert verdicts[raised[0][0]].likelihood >= 0.99999


def test_while_the_likelihood_learns_only_a_new_extreme_alarms_once_per_excursion():
    det = ZScoreDetector()
    values = t3_noise(400, seed=9)
    values[150:155] = [30.0] * 5  # far beyond anything seen: a new extreme
    values[250:255] = [16.0] * 5  # out of band, but inside the range seen since
    verdicts = [det.update(x) for x in values]
    assert verdicts[250].anomaly
    assert alarms(verdicts) == [(150, EXTREME)]  # not 250, nor any chance |z| > 3 of the noise
    assert sum(v.anomaly for v in verdicts) > 10
    assert verdicts[150].likelihood is None and verdicts[151].anomaly and not verdicts[151].alarm


def test_only_out_of_band_readings_can_alarm_so_the_threshold_still_decides():
    values = gauss(1000, seed=3) + gauss(25, seed=4, level=18.0)
    loose, strict = ZScoreDetector(threshold=3.0), ZScoreDetector(threshold=12.0)
    assert alarms([loose.update(x) for x in values], 400) == [(1000, EXTREME)]
    assert alarms([strict.update(x) for x in values], 400) == []


def test_a_rebaseline_forgets_the_sensor_so_the_alarm_learns_it_again():
    det = ZScoreDetector()
    for x in gauss(600, seed=12):
        det.update(x)
    assert det.update(10.0).likelihood is not None
    det.rebaseline()
    after = [det.update(x) for x in gauss(150, seed=13, level=50.0)]
    assert all(v.likelihood is None for v in after)  # its history of z-scores starts again
    assert not any(v.alarm for v in after[:100])     # and nothing alarms while the model relearns


# --- live: the sampler stores it, the API shows it, a restart keeps it -------------------------------------------

def test_the_sampler_stores_the_alarm_and_a_restart_resumes_its_history(app, client):
    client.post("/send_control", json={"model_size": 20})
    clock = FakeClock(T0)
    drive(app, started_sampler(app, clock), clock, 340.0, tick=0.5)
    points = client.get("/get_data?sensor=vibration&window=1000").get_json()["points"]
    assert {"z_alarm", "z_alarm_reason", "z_likelihood"} <= set(points[-1])
    learning = [p for p in points if p["z"] is None]
    assert learning and all(p["z_alarm"] is None and p["z_likelihood"] is None for p in learning)
    judged = [p for p in points if p["z"] is not None]
    assert all(p["z_likelihood"] is None for p in judged[:300]) and judged[-1]["z_likelihood"] is not None
    assert all(isinstance(p["z_alarm"], bool) for p in judged)
    assert all((p["z_alarm_reason"] is not None) == p["z_alarm"] for p in judged)
    assert all(p["zscore_anomaly"] for p in judged if p["z_alarm"])  # only out-of-band readings alarm
    # A restart rebuilds the alarm's history from the stored readings: no second warm-up.
    restarted = started_sampler(app, clock)
    drive(app, restarted, clock, 3.0, tick=0.5)
    with app.app_context():
        newest = reading_store.readings_since_time(line_store.sensor_by_name("vibration").id, clock.now - 2.0)
    assert newest and all(r["z_likelihood"] is not None for r in newest)
