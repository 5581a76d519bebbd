"""Order and refund pulls (SPEC S2), the same for every marketplace: the adapter (sync.marketplaces.base) says how
wide a window may be, how far behind now it must end, how far back each run looks again, and in which order its
pages are read.

Incremental windows run by modified time. Each window (checkpoint, end] is paged in the adapter's direction, and
`end` stays `settle` behind now: an order modified while we page gets a modified time after `end`, so it can only
leave the window (it is caught by the next one), never move inside it. On TOP leaving shifts the not-yet-read newer
pages towards the already-read older ones, so reading backwards sees such records twice instead of missing them
(Taobao's own advice, top-protocol.md). Records that become visible late with a modified time in the past are the
reason each run also looks `overlap` back before its checkpoint: one call for that stretch compares the
marketplace's (order, modified) with ours, exactly when it fits one page, by count otherwise (more there than
here), and re-reads it only then. Windows by creation time (the full pull) are read first page first: creation
times never change, so their pages cannot shift. The checkpoint moves only after a window is stored.
"""
import math
from datetime import datetime, timedelta

from django.utils import timezone

from merchant.models import Order, OrderSource
from merchant.services.marketplace_orders import order_refunds_apply, orders_upsert_marketplace

from ..errors import BusinessError
from ..marketplaces.records import Refund, Trade
from ..models import Checkpoint, SyncModule
from ..runs import checkpoint_for

REFUNDS_START = timedelta(days=1)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def trades_store(run, market, trades: list[Trade]) -> None:
    """Fetch details only for trades the list cannot carry all of (a buyer message; a deposit-paid presale's
    balance deadline) and that are not stored with it already, then upsert them all."""
    wanted = [t for t in trades if (t.has_buyer_message and t.buyer_message is None) or t.balance_due_wanted]
    if wanted:
        stored = Order.objects.filter(
            merchant_id=run.connection.merchant_id, source=OrderSource.MARKETPLACE,
            order_no__any=[t.order_no for t in wanted],
        )
        have_message = set(stored.exclude(buyer_message="").values_list("order_no", flat=True))
        have_due = set(stored.filter(presale_balance_due_at__isnull=False).values_list("order_no", flat=True))
        details = {}
        for trade in wanted:
            needs_message = trade.has_buyer_message and trade.buyer_message is None and trade.order_no not in have_message
            if not needs_message and (trade.order_no in have_due or not trade.balance_due_wanted):
                continue
            try:
                details[trade.order_no] = market.order_detail(trade.order_no)
            except BusinessError as exc:
                run.error(f"order {trade.order_no}: {exc}")
        trades = [details.get(t.order_no, t) for t in trades]
    run.record.fetched += len(trades)
    run.add(orders_upsert_marketplace(connection=run.connection, trades=trades))


def pages(fetch, *, backwards: bool, page_size: int, on_page=None) -> int | None:
    """Every page of one listing: fetch(page) -> a page with .total and .has_next; returns the total of the
    first. Backwards reads page 1 (for the total) then the last page down to 2, and page 1 again when the total
    moved meanwhile; otherwise pages follow has_next until one comes back empty. on_page(page) handles each page
    as it arrives."""
    first = fetch(1)
    on_page(first)
    if backwards and first.total is not None:
        moved = False
        for number in range(math.ceil(first.total / page_size), 1, -1):
            page = fetch(number)
            moved = moved or page.total != first.total
            on_page(page)
        if moved:
            # A record of page 1 that changed (and left the window) after page 1 was read pulled page 2's first
            # record into page 1, where no later read looks; the total a later page reports is then smaller. One
            # more read of page 1 catches it; shifts on the other pages only make a record seen twice.
            on_page(fetch(1))
        return first.total
    current, number = first, 1
    while current.has_next and _records(current):
        number += 1
        current = fetch(number)
        on_page(current)
    return first.total


def _records(page) -> list:
    return getattr(page, "trades", None) or getattr(page, "refunds", None) or getattr(page, "stamps", None) or []


def window_pull(run, market, *, by: str, start: datetime, end: datetime) -> int | None:
    """Every order with `by` time in [start, end] stored; returns the total the marketplace reported."""
    def store(page):
        trades_store(run, market, page.trades)
        run.renew()

    return pages(lambda number: market.orders_page(by=by, start=start, end=end, page=number),
                 backwards=market.windows.backwards and by == "modified", page_size=market.windows.page_size,
                 on_page=store)


def _overlap_check(run, market, start: datetime, end: datetime) -> None:
    first = market.order_stamps(by="modified", start=start, end=end, page=1)
    theirs, total = first.stamps, first.total if first.total is not None else len(first.stamps)
    ours = Order.objects.filter(connection=run.connection)
    if total <= market.windows.page_size and not (first.total is None and first.has_next):
        known = dict(ours.filter(order_no__any=list(theirs)).values_list("order_no", "modified_at"))
        differs = any(no not in known or known[no] < modified for no, modified in theirs.items())
    else:
        # Orders modified again since we stored them have left the stretch on their side but not on
        # ours, so only *more* orders there than here means something is missing.
        differs = total > ours.filter(modified_at__gte=start, modified_at__lte=end).count()
    if differs:
        window_pull(run, market, by="modified", start=start, end=end)


def orders_pull_incremental(run, market, *, until: datetime | None = None) -> None:
    """Pull every order modified since the checkpoint, in windows; move the checkpoint per window."""
    position = run.checkpoint.position
    if position is None:
        raise ValueError("the incremental pull has no checkpoint yet; run the full pull first")
    policy = market.windows
    limit = _second((until or timezone.now()) - policy.settle)
    checkpoint = _second(position)
    run.record.window_from = checkpoint - policy.overlap
    # The checkpoint's own second was read in full (it ended SETTLE before that run), so the next
    # window starts one second later: bounds are inclusive, and re-reading it would cost pages.
    start = checkpoint + timedelta(seconds=1)
    while start <= limit:
        end = min(start + policy.max_window, limit)
        window_pull(run, market, by="modified", start=start, end=end)
        run.record.windows += 1
        run.move_checkpoint(end)
        start = end + timedelta(seconds=1)
    # After the new windows, so orders they brought in are not taken for missing ones.
    _overlap_check(run, market, checkpoint - policy.overlap, checkpoint)
    run.record.window_to = start - timedelta(seconds=1)


def orders_pull_range(run, market, since: datetime, until: datetime) -> None:
    """Re-read orders modified in [since, until] (an operator's repair); the checkpoint stays."""
    start, until = _second(since), _second(until)
    while start <= until:
        end = min(start + market.windows.max_window, until)
        window_pull(run, market, by="modified", start=start, end=end)
        run.record.windows += 1
        start = end + timedelta(seconds=1)
    run.record.window_from, run.record.window_to = since, until


def day_windows(since: datetime, until: datetime, tz):
    """[start, end) pairs of whole days of the marketplace's calendar covering since..until, the last one cut at
    until."""
    day = since.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < until:
        following = day + timedelta(days=1)
        yield max(day, since), min(following, until)
        day = following


def orders_pull_full(run, market, *, since: datetime | None = None, until: datetime | None = None,
                     save_progress: bool = True) -> None:
    """Pull orders by creation time in day windows, oldest day first. With save_progress the checkpoint records
    each completed day, so a crash resumes at the next day."""
    now = timezone.now()
    until = _second(until or now)
    since = _second(since or until - timedelta(days=market.windows.full_days))
    if save_progress:
        incremental = checkpoint_for(run.connection, SyncModule.ORDERS)
        if incremental.position is None:
            # Orders modified from now on are the incremental pull's; it overlaps anyway.
            Checkpoint.objects.filter(pk=incremental.pk, position__isnull=True).update(position=_second(now))
        done = run.checkpoint.position
        if done and since < done < until and run.checkpoint.completed_at is None:
            since = done
    run.record.window_from, run.record.window_to = since, until
    for start, end in day_windows(since, until, market.tz):
        window_pull(run, market, by="created", start=start, end=end - timedelta(seconds=1))
        run.record.windows += 1
        if save_progress:
            run.move_checkpoint(end)
    if save_progress:
        Checkpoint.objects.filter(pk=run.checkpoint.pk).update(completed_at=timezone.now())


def refunds_pull(run, market, *, until: datetime | None = None) -> None:
    """Refunds by modified time -> line refund states; orders not here yet are fetched first."""
    policy = market.windows
    position = run.checkpoint.position or _second(timezone.now() - REFUNDS_START)
    limit = _second((until or timezone.now()) - policy.settle)
    run.record.window_from = position - policy.overlap
    start = _second(position - policy.overlap)
    while start < limit:
        end = min(start + policy.refund_window - timedelta(seconds=1), limit)
        refunds = []
        pages(lambda number: market.refunds_page(start=start, end=end, page=number),  # noqa: B023 - used at once
              backwards=policy.backwards, page_size=policy.page_size, on_page=lambda page: refunds.extend(page.refunds))
        refunds_store(run, market, refunds)
        run.record.windows += 1
        run.move_checkpoint(end)
        start = end
    run.record.window_to = limit


def refunds_store(run, market, refunds: list[Refund]) -> None:
    run.record.fetched += len(refunds)
    counts, missing = order_refunds_apply(connection=run.connection, refunds=refunds)
    if missing:
        trades = []
        for order_no in sorted(missing):
            try:
                trades.append(market.order_detail(order_no))
            except BusinessError as exc:
                run.error(f"refund for order {order_no}: {exc}")
        run.add(orders_upsert_marketplace(connection=run.connection, trades=trades))
        run.add(order_refunds_apply(connection=run.connection,
                                    refunds=[r for r in refunds if r.order_no in missing])[0])
    run.add(counts)
