"""Tests of training.timeline: the time conventions every other module relies on."""

import datetime

import numpy as np
import pytest

from training import timeline

#----------------------------------------------------------------------------

def test_num_days_and_t_range():
    u = np.array([1000.0, 1000 + 86400 * 2.5, 1000 + 86400 * 3.0])
    tl = timeline.Timeline.from_unix(u)
    assert tl.num_days == 3 and tl.date_start == 1000.0
    t = tl.unix_to_t(u)
    np.testing.assert_allclose(t, [0, 2.5 / 3, 1.0])
    np.testing.assert_allclose(tl.t_to_unix(t), u)
    assert timeline.num_days_for_span(5, 5) == 1
    with pytest.raises(ValueError):
        timeline.num_days_for_span(10, 5)

def test_dates_roundtrip_utc():
    tl = timeline.Timeline(date_start=datetime.datetime(2021, 3, 1, tzinfo=datetime.timezone.utc).timestamp(), num_days=730)
    dt = datetime.datetime(2022, 7, 4, 12, 30)
    t = tl.datetime_to_t(dt)
    assert 0 < t < 1
    assert tl.format(t) == '04.07.2022 12:30:00'
    assert timeline.Timeline.from_meta(tl.as_meta()) == tl
    assert timeline.Timeline.from_meta({}).date_start == timeline.DEFAULT_DATE_START
    assert timeline.Timeline.from_cond_args(dict(start_ts=tl.date_start, num_days=730)) == tl
    with pytest.raises(ValueError):
        timeline.Timeline(num_days=0)

def utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc).timestamp()

def test_unix_datetime_and_timeline_metadata():
    assert timeline.to_unix(datetime.datetime(2021, 3, 1, 12)) == utc(2021, 3, 1, 12) # naive: UTC
    plus2 = datetime.timezone(datetime.timedelta(hours=2))
    assert timeline.to_unix(datetime.datetime(2021, 3, 1, 12), plus2) == utc(2021, 3, 1, 10)
    assert timeline.unix_to_datetime(utc(2021, 3, 1, 12, 30)) == datetime.datetime(2021, 3, 1, 12, 30, tzinfo=datetime.timezone.utc)
    tl = timeline.Timeline(date_start=utc(2021, 3, 1), num_days=730)
    assert tl.as_cond_args() == dict(start_ts=utc(2021, 3, 1), num_days=730) # the pickles' key for date_start
    assert timeline.Timeline.from_cond_args(tl.as_cond_args()) == tl
    assert timeline.days_to_frames(4, num_days=730, num_frames=1460) == 8 # two frames a day

def test_calendar_month_starts_and_solar_noon():
    day_of_year, phase, hour = timeline.calendar(np.array([utc(2021, 1, 1), utc(2020, 12, 31, 18), utc(2021, 7, 2, 6)]))
    np.testing.assert_allclose(day_of_year, [1.0, 366.75, 183.25])
    np.testing.assert_allclose(phase, [0.0, 365.75 / 366, 182.25 / 365])
    np.testing.assert_allclose(hour, [0, 18, 6])
    starts = timeline.month_starts(utc(2020, 11, 17, 9), 4)
    assert list(starts) == [utc(2020, 11, 1), utc(2020, 12, 1), utc(2021, 1, 1), utc(2021, 2, 1)]
    noon = timeline.solar_noon(np.array([utc(2021, 6, 1, 3), utc(2021, 6, 1, 23)]), lon=15.0) # one hour east of UTC
    assert list(noon) == [utc(2021, 6, 1, 11)] * 2 and timeline.solar_noon(utc(2021, 6, 1), lon=-90.0) == utc(2021, 6, 1, 18)

def test_networks_copies_of_the_time_rules():
    """The networks (whose pickled source must not import timeline) keep their own frequency rule, trend sentinel
    and default sequence start: they must agree with timeline's."""
    from training import networks_stylegan2 as N
    assert N.TREND == timeline.TREND and N.COND_DEFAULTS['start_ts'] == timeline.DEFAULT_DATE_START
    for num_days in [1, 10, 365, 366, 730, 2225, 10000]:
        cond_args = dict(type='fourier', include_lin=True, f_manual=timeline.cycle_frequencies(num_days))
        assert N.cond_frequencies(cond_args) == timeline.frequency_set(num_days), num_days
        assert N.cond_frequencies(dict(cond_args, type='concat')) == [timeline.TREND]
        G_names = timeline.frequency_names(N.ConditioningTransform(cond_args).frequencies)
        assert G_names == timeline.frequency_names(timeline.frequency_set(num_days))

def test_frequency_sets():
    assert timeline.frequency_set(2225) == [-1, 2225 / 365.25, 2225.0]
    assert timeline.frequency_set(200) == [-1, 200.0]      # Shorter than a year: no year cycle.
    assert timeline.frequency_set(365) == [-1, 365.0]      # 365 days < 1 year of 365.25 days.
    assert timeline.frequency_set(1) == [-1]
    assert timeline.frequency_names(timeline.frequency_set(2225)) == ['lin', 'year', 'day']
    assert timeline.frequency_names(timeline.frequency_set(200)) == ['lin', 'day']

def test_stack_to_global_t_inverts_per_frequency_times():
    freqs = timeline.frequency_set(730)
    t = np.random.default_rng(0).uniform(0, 1, size=100)
    stack = timeline.per_frequency_times(t, len(freqs))
    np.testing.assert_allclose(timeline.stack_to_global_t(stack, freqs), t, atol=1e-9)

def test_stack_to_global_t_takes_phases_from_cycle_slots():
    freqs = timeline.frequency_set(730)  # trend, year (2 cycles), day (730 cycles)
    day = 1 / 730
    # Trend at 0.3; the day slot asks for noon; the year slot asks for the start of a year cycle.
    t = timeline.stack_to_global_t([0.3, 0.0, 0.5 * day], freqs)
    assert abs(t - (0.0 + 0.5 * day)) < 1e-12
    t = timeline.stack_to_global_t([0.3, 0.3, 0.75 * day], freqs)
    expected = np.floor(0.3 / day) * day + 0.75 * day
    assert abs(t - expected) < 1e-12

def test_time_spans():
    assert timeline.parse_span_days('4 days') == 4
    assert timeline.parse_span_days('4days') == 4
    assert timeline.parse_span_days('6h') == 0.25
    assert timeline.parse_span_days('30 mins') == timeline.parse_span_days('0.5 hours') == 1 / 48
    assert timeline.parse_span_days('90s') == timeline.parse_span_days('1.5min')
    assert timeline.parse_span_days('2 yrs') == 2 * 365.25
    assert timeline.parse_span_days('1.5 years') == 1.5 * 365.25
    assert timeline.parse_span_days('0') == 0 and timeline.parse_span_days(2) == 2
    assert timeline.span_to_t('1 week', 70) == 0.1
    for bad in ['four days', '3 fortnights', '-1 day', '']:
        with pytest.raises(ValueError):
            timeline.parse_span_days(bad)
    assert timeline.auto_noise_spans(2225) == [0.2 * 2225, 4.0, 0.0]
    assert timeline.auto_noise_spans(200) == [4.0, 0.0]
    assert timeline.auto_noise_spans(10) == [2.0, 0.0]
    assert timeline.auto_noise_spans(1) == [0.2]

#----------------------------------------------------------------------------

def test_slots_to_unix_takes_date_and_time_of_day_from_their_slots():
    start = 1_599_955_200.0 # 2020-09-13 00:00 UTC
    tl = timeline.Timeline(date_start=start, num_days=730)
    names = ['lin', 'year', 'day']
    scene = start + np.array([400.25, 3.9]) * 86400
    trend = start + np.array([100.5, 700.3]) * 86400 # not at midnight, where float32 slots could round the date
    assert np.allclose(timeline.midnight(scene), start + np.array([400, 3]) * 86400)
    assert np.allclose(timeline.time_of_day(scene), np.array([0.25, 0.9]) * 86400)
    t = tl.unix_to_slots(scene, trend, names)
    assert t.dtype == np.float32 and t.shape == (2, 3)
    back_scene, back_trend = tl.slots_to_unix(t.astype(np.float64), names)
    assert np.allclose(back_scene, scene, atol=60) and np.allclose(back_trend, trend, atol=60)
    # Without a year slot the date comes from the trend slot.
    back_scene, _ = tl.slots_to_unix(np.stack([t[:, 0], t[:, 2]], axis=1).astype(np.float64), ['lin', 'day'])
    assert np.allclose(back_scene, timeline.midnight(trend) + timeline.time_of_day(scene), atol=60)

def test_stack_to_global_t_at_period_boundaries():
    # t * f lands a rounding error away from a whole number of cycles: the date must not move a period on.
    freqs = timeline.frequency_set(730)
    for t in [0.5, 0.25, 1.0, 365.25 / 730]:
        assert timeline.stack_to_global_t(np.array([t, t, t]), freqs) == pytest.approx(t, abs=1e-12)

def test_hours_apart_is_circular_in_the_time_of_day():
    u = timeline.to_unix(datetime.datetime(2021, 3, 1, 23, tzinfo=datetime.timezone.utc))
    later = u + np.array([2, 13, 24 * 5 + 11.5]) * 3600 # 01:00 the next day, 12:00, 10:30 five days on
    assert np.allclose(timeline.hours_apart(later, u), [2, 11, 11.5]) and np.allclose(timeline.hours_apart(u, later), [2, 11, 11.5])
