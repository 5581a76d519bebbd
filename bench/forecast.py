"""Back-test of the replenishment forecast (merchant/forecast.py) against the naive "last 7 days average".

Generated demand, per product: a base level, a trend (up or down, a few per cent a week), a weekday pattern
(busy weekdays, quiet weekend, or the other way round), promotions (a few days at 2-4x) and stock-outs (runs
of days with nothing sold although there was demand). From several forecast origins, both methods forecast
the next 7 days from the sales before the origin; both are scored against the true demand of those days with
WAPE = sum |forecast - demand| / sum demand, over every product, day and origin.

The naive baseline averages the last 7 days of sales as they are (a stock-out day reads as 0 sold). Ours is
given the same sales with the stock-out days marked unknown, as merchant/replenishment.py does from the stock
history. Pure Python, no database: `python bench/forecast.py [--products 300] [--seed 7]`.
"""
import argparse
import math
import random
import sys
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from merchant.forecast import forecast_demand  # noqa: E402

HISTORY = 56
ORIGINS = 6  # one a week
HORIZON = 7
PATTERNS = [
    (1.15, 1.2, 1.1, 1.1, 1.05, 0.75, 0.65),  # pharmacies buying on weekdays
    (0.9, 0.85, 0.9, 0.95, 1.1, 1.2, 1.1),  # consumers: weekend heavy
    (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def product_series(rng: random.Random, days: int, first: date):
    """(true demand per day, sales per day, stocked-out per day) for one generated product."""
    base = math.exp(rng.uniform(math.log(1.5), math.log(60)))
    weekly_growth = rng.uniform(-0.06, 0.08)
    pattern = rng.choice(PATTERNS)
    strength = rng.uniform(0.5, 1.5)
    promo = [1.0] * days
    day = rng.randrange(0, 20)
    while day < days:
        for d in range(day, min(days, day + rng.randint(1, 3))):
            promo[d] = rng.uniform(2.0, 4.0)
        day += rng.randint(18, 40)
    out = [False] * days
    day = rng.randrange(0, 25)
    while day < days:
        for d in range(day, min(days, day + rng.randint(2, 6))):
            out[d] = True
        day += rng.randint(12, 35)
    demand, sales = [], []
    for d in range(days):
        weekday = (first + timedelta(days=d)).weekday()
        season = 1 + strength * (pattern[weekday] - 1)
        mean = base * (1 + weekly_growth) ** (d / 7) * season * promo[d]
        units = _poisson(rng, mean)
        demand.append(units)
        sales.append(0 if out[d] else units)
    return demand, sales, out


def run(products: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    days = HISTORY + (ORIGINS - 1) * 7 + HORIZON
    first = date(2026, 1, 5)
    ours_error = naive_error = actual_total = 0.0
    for _ in range(products):
        demand, sales, out = product_series(rng, days, first)
        for k in range(ORIGINS):
            origin = HISTORY + k * 7
            history = [None if out[d] else sales[d] for d in range(origin)]
            ours = forecast_demand(history, first, HORIZON).daily[:HORIZON]
            naive = sum(sales[origin - 7:origin]) / 7
            for h in range(HORIZON):
                actual = demand[origin + h]
                actual_total += actual
                ours_error += abs(ours[h] - actual)
                naive_error += abs(naive - actual)
    return ours_error / actual_total, naive_error / actual_total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    ours, naive = run(args.products, args.seed)
    print(f"Back-test: {args.products} generated products, {ORIGINS} weekly origins, {HORIZON}-day horizon, "
          f"{HISTORY} days of history")
    print(f"{'method':<34}{'WAPE':>8}")
    print(f"{'ours (level+damped trend+weekday)':<34}{ours:>8.1%}")
    print(f"{'naive (last 7 days average)':<34}{naive:>8.1%}")
    beat = ours < naive
    print(f"ours {'beats' if beat else 'does NOT beat'} the baseline by {(naive - ours) * 100:.1f} points")
    return 0 if beat else 1


if __name__ == "__main__":
    sys.exit(main())
