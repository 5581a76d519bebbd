"""The missed-order check (SPEC S7), the same for every marketplace: per day of the marketplace's calendar, the marketplace's order ids and modified times
against ours; missing or older orders are fetched again, and the result is kept as a report."""
from datetime import date, datetime, time, timedelta

from merchant.models import Order

from ..errors import BusinessError
from ..models import ReconcileReport
from .orders import pages, trades_store, window_pull

SAMPLE = 20
# Above this many orders to re-fetch, re-reading the day's pages is cheaper than one call per order.
REFETCH_ONE_BY_ONE = 30


def day_bounds(day: date, tz) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def _theirs(market, start, end) -> dict[str, datetime]:
    found = {}
    pages(lambda number: market.order_stamps(by="created", start=start, end=end, page=number), backwards=False,
          page_size=market.windows.page_size, on_page=lambda page: found.update(page.stamps))
    return found


def reconcile_day(run, market, day: date) -> ReconcileReport:
    start, end = day_bounds(day, market.tz)
    theirs = _theirs(market, start, end)
    ours = dict(Order.objects.filter(connection=run.connection, created_at__gte=start, created_at__lte=end)
                .values_list("order_no", "modified_at"))
    missing = sorted(tid for tid in theirs if tid not in ours)
    stale = sorted(tid for tid, modified in theirs.items() if tid in ours and ours[tid] < modified)
    extra = sorted(tid for tid in ours if tid not in theirs)
    refetch = missing + stale
    if len(refetch) > REFETCH_ONE_BY_ONE:
        window_pull(run, market, by="created", start=start, end=end)
    elif refetch:
        trades = []
        for order_no in refetch:
            try:
                trades.append(market.order_detail(order_no))
            except BusinessError as exc:
                run.error(f"order {order_no}: {exc}")
        trades_store(run, market, trades)
    run.record.windows += 1
    run.renew()
    return ReconcileReport.objects.create(
        connection=run.connection, run=run.record, day=day, theirs=len(theirs), ours=len(ours),
        missing=len(missing), stale=len(stale), refetched=len(refetch), extra=len(extra),
        sample={"missing": missing[:SAMPLE], "stale": stale[:SAMPLE], "extra": extra[:SAMPLE]},
    )


def reconcile_days(run, market, first: date, last: date) -> list[ReconcileReport]:
    reports, day = [], first
    while day <= last:
        reports.append(reconcile_day(run, market, day))
        day += timedelta(days=1)
    run.record.window_from, run.record.window_to = day_bounds(first, market.tz)[0], day_bounds(last, market.tz)[1]
    return reports
