"""Daily demand forecast for one product, in plain Python (no database, no Django), so that the page, the
command and bench/forecast.py run the same arithmetic.

Input: one value per calendar day, oldest first, up to yesterday: the units sold that day, or None when the
day says nothing about demand (the product had no sellable stock for some of it, or it did not exist yet).
Days are in the merchant's time zone; the caller decides which days are missing (merchant/replenishment.py).

The model, in the order it runs:

1. Promotion spikes are clipped: a day above the median of the observed days + PROMO_CLIP x their spread
   (median absolute deviation, at least the square root of the median) counts as that cap, when the median is
   above 0. A one-off campaign must not raise next week's forecast.
2. Weekday factors: each weekday's average over the overall average of the observed days, shrunk towards
   1 as if WEEKDAY_PRIOR_DAYS extra days of plain demand had been seen for it (few weeks of history -> flat
   week), then scaled to average 1.
3. Level and trend: Holt's exponential smoothing with a damped trend on the de-seasonalised days
   (ALPHA, BETA, PHI). A missing day moves the level by the trend and learns nothing; it is never read as
   zero demand.
4. Forecast for day h ahead: (level + damped trend sum up to h) x that weekday's factor, never below 0.

With fewer than MIN_OBSERVED_DAYS observed days there is no forecast to trust: the plain average of the
observed days is used (0 with none), and the reason says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
import math
from statistics import median

ALPHA = 0.2  # level smoothing: about the last 10 observed days carry most of the weight
BETA = 0.05  # trend smoothing: the trend moves slowly
PHI = 0.85  # trend damping per day ahead: a trend is not extrapolated for ever
PROMO_CLIP = 3.0
WEEKDAY_PRIOR_DAYS = 1
MIN_OBSERVED_DAYS = 7
MAX_HISTORY_DAYS = 56  # 8 weeks


@dataclass(frozen=True)
class Forecast:
    """What the model says about the coming days. daily[i] is the forecast for the (i+1)-th day from
    the first day after the history."""

    daily: tuple[float, ...]
    level: float
    trend: float
    weekday_factors: tuple[float, ...]  # Monday first
    observed_days: int
    missing_days: int
    clipped_days: int
    simple: bool  # too little history: the plain average was used

    @property
    def per_day(self) -> float:
        """The average forecast over the next 7 days (what the page shows as the daily forecast)."""
        week = self.daily[:7]
        return sum(week) / len(week) if week else 0.0

    def total(self, days: int) -> float:
        return sum(self.daily[:days])


def forecast_demand(history: list[float | None], first_day: date, horizon: int) -> Forecast:
    """Forecast `horizon` days (at least 7) after a history whose first value is the sales of `first_day`.

    Returns a Forecast; never raises for empty or all-missing history (it forecasts 0 then).
    """
    horizon = max(horizon, 7)
    history = list(history)
    cut = max(0, len(history) - MAX_HISTORY_DAYS)
    history = history[cut:]
    start = first_day + timedelta(days=cut)
    observed = [(i, float(v)) for i, v in enumerate(history) if v is not None]
    missing = len(history) - len(observed)
    after = start + timedelta(days=len(history))  # the first forecast day

    if len(observed) < MIN_OBSERVED_DAYS:
        mean = sum(v for _i, v in observed) / len(observed) if observed else 0.0
        return Forecast(daily=tuple([mean] * horizon), level=mean, trend=0.0, weekday_factors=(1.0,) * 7,
                        observed_days=len(observed), missing_days=missing, clipped_days=0, simple=True)

    values = [v for _i, v in observed]
    mid = median(values)
    # The spread: the median absolute deviation, but never less than counting noise (sqrt of the median),
    # so that a product that sells the same every day still has room to vary.
    spread = max(1.4826 * median(abs(v - mid) for v in values), math.sqrt(mid))
    cap = mid + PROMO_CLIP * spread if mid > 0 else None
    clipped = 0
    if cap is not None:
        clipped = sum(1 for v in values if v > cap)
        observed = [(i, min(v, cap)) for i, v in observed]

    factors = _weekday_factors(observed, start)
    level, trend = _holt(observed, start, factors, len(history))
    daily = []
    damp_sum = 0.0
    for h in range(1, horizon + 1):
        damp_sum += PHI ** h
        day = after + timedelta(days=h - 1)
        daily.append(max(0.0, (level + damp_sum * trend) * factors[day.weekday()]))
    return Forecast(daily=tuple(daily), level=level, trend=trend, weekday_factors=tuple(factors),
                    observed_days=len(observed), missing_days=missing, clipped_days=clipped, simple=False)


def _weekday_factors(observed: list[tuple[int, float]], start: date) -> list[float]:
    overall = sum(v for _i, v in observed) / len(observed)
    if overall <= 0:
        return [1.0] * 7
    sums, counts = [0.0] * 7, [0] * 7
    for i, v in observed:
        w = (start + timedelta(days=i)).weekday()
        sums[w] += v
        counts[w] += 1
    raw = []
    for w in range(7):
        ratio = (sums[w] / counts[w]) / overall if counts[w] else 1.0
        raw.append((counts[w] * ratio + WEEKDAY_PRIOR_DAYS) / (counts[w] + WEEKDAY_PRIOR_DAYS))
    mean = sum(raw) / 7
    return [r / mean for r in raw]


def _holt(observed: list[tuple[int, float]], start: date, factors: list[float], length: int) -> tuple[float, float]:
    """Level and trend at the end of the history (index length - 1), from the de-seasonalised observed days."""
    by_index = {i: v / factors[(start + timedelta(days=i)).weekday()] for i, v in observed}
    first = [by_index[i] for i, _v in observed[:7]]
    level = sum(first) / len(first)
    trend = 0.0
    begin = observed[0][0]
    for i in range(begin, length):
        predicted = level + PHI * trend
        value = by_index.get(i)
        if value is None:  # a missing day: carry the level on, learn nothing
            level, trend = predicted, PHI * trend
            continue
        new_level = ALPHA * value + (1 - ALPHA) * predicted
        trend = BETA * (new_level - level) + (1 - BETA) * PHI * trend
        level = new_level
    return max(level, 0.0), trend
