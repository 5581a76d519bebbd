"""The missed-order check (SPEC S7): per GMT+8 day, the marketplace's order ids and modified times
against ours; missing or older orders are fetched again, and the result is kept as a report."""
from datetime import date, datetime, time, timedelta

from merchant.models import Order

from .marketplaces.top import mapping
from .marketplaces.top.times import TOP_TZ, from_top, to_top
from .errors import BusinessError, MalformedAnswer
from .models import ReconcileReport
from .orders import PAGE_SIZE, SOLD, TRADE_TYPES, trade_fetch, trades_store, window_pull_backwards

SAMPLE = 20
# Above this many orders to re-fetch, re-reading the day's pages is cheaper than one call per order.
REFETCH_ONE_BY_ONE = 30


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=TOP_TZ)
    return start, start + timedelta(days=1) - timedelta(seconds=1)


def _theirs(client, start, end) -> dict[str, datetime]:
    params = {"start_created": to_top(start), "end_created": to_top(end), "type": TRADE_TYPES,
              "fields": "tid,modified", "page_size": PAGE_SIZE, "use_has_next": "true"}
    found, page_no = {}, 1
    while True:
        page, has_next = client.call_with_retry(SOLD, {**params, "page_no": page_no}, read=_page_of_tids)
        found.update(page)
        if not has_next or not page:
            return found
        page_no += 1


def _page_of_tids(body: dict) -> tuple[dict, bool]:
    try:
        records = mapping.unwrap_list(body.get("trades"), "trade")
        page = {str(r["tid"]): from_top(r["modified"]) for r in records}
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a trade lacks tid or modified", code="missing-field") from None
    return page, str(body.get("has_next", "false")).lower() == "true"


def reconcile_day(run, client, day: date) -> ReconcileReport:
    start, end = day_bounds(day)
    theirs = _theirs(client, start, end)
    ours = dict(Order.objects.filter(connection=run.connection, created_at__gte=start, created_at__lte=end)
                .values_list("order_no", "modified_at"))
    missing = sorted(tid for tid in theirs if tid not in ours)
    stale = sorted(tid for tid, modified in theirs.items() if tid in ours and ours[tid] < modified)
    extra = sorted(tid for tid in ours if tid not in theirs)
    refetch = missing + stale
    if len(refetch) > REFETCH_ONE_BY_ONE:
        window_pull_backwards(run, client, SOLD, {"start_created": to_top(start), "end_created": to_top(end),
                                                  "type": TRADE_TYPES})
    elif refetch:
        trades = []
        for order_no in refetch:
            try:
                trades.append(trade_fetch(client, order_no))
            except BusinessError as exc:
                run.error(f"order {order_no}: {exc}")
        trades_store(run, client, trades)
    run.record.windows += 1
    run.renew()
    return ReconcileReport.objects.create(
        connection=run.connection, run=run.record, day=day, theirs=len(theirs), ours=len(ours),
        missing=len(missing), stale=len(stale), refetched=len(refetch), extra=len(extra),
        sample={"missing": missing[:SAMPLE], "stale": stale[:SAMPLE], "extra": extra[:SAMPLE]},
    )


def reconcile_days(run, client, first: date, last: date) -> list[ReconcileReport]:
    reports, day = [], first
    while day <= last:
        reports.append(reconcile_day(run, client, day))
        day += timedelta(days=1)
    run.record.window_from, run.record.window_to = day_bounds(first)[0], day_bounds(last)[1]
    return reports
