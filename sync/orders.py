"""Order and refund pulls from a TOP marketplace (SPEC S2).

Incremental windows run by modified time. Each window (checkpoint, end] is paged from the last page
backwards, and `end` stays SETTLE behind now: an order modified while we page gets a modified time after
`end`, so it can only leave the window (it is caught by the next one), never move inside it; leaving
shifts the not-yet-read newer pages towards the already-read older ones, so backwards paging sees such
records twice instead of missing them (Taobao's own advice, top-protocol.md). Records that become
visible late with a modified time in the past are the reason each run also looks 5 minutes back before
its checkpoint: one call for that overlap compares the marketplace's (tid, modified) with ours, exactly
when it fits one page, by count otherwise (more there than here), and re-reads it only then. The
checkpoint moves only after a window is stored.
"""
import math
from datetime import datetime, timedelta

from django.utils import timezone

from merchant.models import Order, OrderSource
from merchant.services.marketplace_orders import order_refunds_apply, orders_upsert_marketplace

from .marketplaces.top import mapping
from .marketplaces.top.times import TOP_TZ, from_top, to_top
from .errors import BusinessError, MalformedAnswer
from .models import Checkpoint, SyncModule
from .runs import checkpoint_for

PAGE_SIZE = 100
OVERLAP = timedelta(minutes=5)
SETTLE = timedelta(seconds=5)
MAX_WINDOW = timedelta(minutes=30)
FULL_DAYS = 90
REFUNDS_START = timedelta(days=1)
# Refunds are few next to orders; a day per window (the span TOP allows) keeps quiet shops at one call.
REFUND_WINDOW = timedelta(days=1)
# trades.sold.get returns only some types unless asked (top-protocol.md); we want every order.
TRADE_TYPES = "fixed,guarantee_trade,auto_delivery,ec,cod,step"
INCREMENT = "taobao.trades.sold.increment.get"
SOLD = "taobao.trades.sold.get"
FULLINFO = "taobao.trade.fullinfo.get"
REFUNDS = "taobao.refunds.receive.get"


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def trade_fetch(client, order_no: str) -> mapping.Trade:
    """One trade with every field (trade.fullinfo.get)."""
    return client.call_with_retry(FULLINFO, {"tid": order_no, "fields": mapping.DETAIL_FIELDS},
                                  read=lambda body: mapping.trade_from_top(body.get("trade"), "trade"))


def trades_store(run, client, trades: list[mapping.Trade]) -> None:
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
                details[trade.order_no] = trade_fetch(client, trade.order_no)
            except BusinessError as exc:
                run.error(f"order {trade.order_no}: {exc}")
        trades = [details.get(t.order_no, t) for t in trades]
    run.record.fetched += len(trades)
    run.add(orders_upsert_marketplace(connection=run.connection, trades=trades))


def _list(client, method: str, params: dict, page_no: int, fields: str) -> tuple[list, int, bool]:
    """(trades, total_results, has_next) of one list page."""
    return client.call_with_retry(method, {**params, "fields": fields, "page_no": page_no, "page_size": PAGE_SIZE},
                                  read=_trades_and_total)


def _trades_and_total(body: dict) -> tuple[list, int, bool]:
    has_next = str(body.get("has_next", "false")).lower() == "true"
    return mapping.trades_from_page(body), mapping.total_results(body), has_next


def window_pull_backwards(run, client, method: str, params: dict, fields: str = mapping.TRADE_FIELDS) -> int:
    """Every trade in one window, last page first; returns the total the marketplace reported."""
    trades, total, _ = _list(client, method, {**params, "use_has_next": "false"}, 1, fields)
    trades_store(run, client, trades)
    for page_no in range(math.ceil(total / PAGE_SIZE), 1, -1):
        page, _, _ = _list(client, method, params, page_no, fields)
        trades_store(run, client, page)
        run.renew()
    return total


def tids_and_times(body: dict) -> tuple[int, dict]:
    """(total_results, {tid: modified}) of a list answer asked for `tid,modified` only."""
    try:
        records = mapping.unwrap_list(body.get("trades"), "trade")
        return mapping.total_results(body), {str(r["tid"]): from_top(r["modified"]) for r in records}
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a trade lacks tid or modified", code="missing-field") from None


def _overlap_check(run, client, start: datetime, end: datetime) -> None:
    params = {"start_modified": to_top(start), "end_modified": to_top(end), "use_has_next": "false"}
    total, theirs = client.call_with_retry(
        INCREMENT, {**params, "fields": "tid,modified", "page_no": 1, "page_size": PAGE_SIZE}, read=tids_and_times
    )
    ours = Order.objects.filter(connection=run.connection)
    if total <= PAGE_SIZE:
        known = dict(ours.filter(order_no__any=list(theirs)).values_list("order_no", "modified_at"))
        differs = any(tid not in known or known[tid] < modified for tid, modified in theirs.items())
    else:
        # Orders modified again since we stored them have left the stretch on their side but not on
        # ours, so only *more* orders there than here means something is missing.
        differs = total > ours.filter(modified_at__gte=start, modified_at__lte=end).count()
    if differs:
        window_pull_backwards(run, client, INCREMENT, {"start_modified": params["start_modified"],
                                                       "end_modified": params["end_modified"]})


def orders_pull_incremental(run, client, *, until: datetime | None = None) -> None:
    """Pull every order modified since the checkpoint, in windows; move the checkpoint per window."""
    position = run.checkpoint.position
    if position is None:
        raise ValueError("the incremental pull has no checkpoint yet; run the full pull first")
    limit = _second((until or timezone.now()) - SETTLE)
    checkpoint = _second(position)
    run.record.window_from = checkpoint - OVERLAP
    # The checkpoint's own second was read in full (it ended SETTLE before that run), so the next
    # window starts one second later: bounds are inclusive, and re-reading it would cost pages.
    start = checkpoint + timedelta(seconds=1)
    while start <= limit:
        end = min(start + MAX_WINDOW, limit)
        window_pull_backwards(run, client, INCREMENT, {"start_modified": to_top(start), "end_modified": to_top(end)})
        run.record.windows += 1
        run.move_checkpoint(end)
        start = end + timedelta(seconds=1)
    # After the new windows, so orders they brought in are not taken for missing ones.
    _overlap_check(run, client, checkpoint - OVERLAP, checkpoint)
    run.record.window_to = start - timedelta(seconds=1)


def orders_pull_range(run, client, since: datetime, until: datetime) -> None:
    """Re-read orders modified in [since, until] (an operator's repair); the checkpoint stays."""
    start, until = _second(since), _second(until)
    while start <= until:
        end = min(start + MAX_WINDOW, until)
        window_pull_backwards(run, client, INCREMENT, {"start_modified": to_top(start), "end_modified": to_top(end)})
        run.record.windows += 1
        start = end + timedelta(seconds=1)
    run.record.window_from, run.record.window_to = since, until


def day_windows(since: datetime, until: datetime):
    """[start, end) pairs of whole GMT+8 days covering since..until, the last one cut at until."""
    day = since.astimezone(TOP_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < until:
        following = day + timedelta(days=1)
        yield max(day, since), min(following, until)
        day = following


def orders_pull_full(run, client, *, since: datetime | None = None, until: datetime | None = None,
                     save_progress: bool = True) -> None:
    """Pull orders by creation time in day windows (trades.sold.get), oldest day first. With
    save_progress the checkpoint records each completed day, so a crash resumes at the next day."""
    now = timezone.now()
    until = _second(until or now)
    since = _second(since or until - timedelta(days=FULL_DAYS))
    if save_progress:
        incremental = checkpoint_for(run.connection, SyncModule.ORDERS)
        if incremental.position is None:
            # Orders modified from now on are the incremental pull's; it overlaps anyway.
            Checkpoint.objects.filter(pk=incremental.pk, position__isnull=True).update(position=_second(now))
        done = run.checkpoint.position
        if done and since < done < until and run.checkpoint.completed_at is None:
            since = done
    run.record.window_from, run.record.window_to = since, until
    for start, end in day_windows(since, until):
        params = {"start_created": to_top(start), "end_created": to_top(end - timedelta(seconds=1)),
                  "type": TRADE_TYPES, "use_has_next": "true"}
        page_no = 1
        while True:
            trades, _, has_next = _list(client, SOLD, params, page_no, mapping.TRADE_FIELDS)
            trades_store(run, client, trades)
            run.renew()
            if not has_next or not trades:
                break
            page_no += 1
        run.record.windows += 1
        if save_progress:
            run.move_checkpoint(end)
    if save_progress:
        Checkpoint.objects.filter(pk=run.checkpoint.pk).update(completed_at=timezone.now())


def refunds_pull(run, client, *, until: datetime | None = None) -> None:
    """Refunds by modified time -> line refund states; orders not here yet are fetched first."""
    position = run.checkpoint.position or _second(timezone.now() - REFUNDS_START)
    limit = _second((until or timezone.now()) - SETTLE)
    run.record.window_from = position - OVERLAP
    start = _second(position - OVERLAP)
    while start < limit:
        end = min(start + REFUND_WINDOW - timedelta(seconds=1), limit)
        params = {"start_modified": to_top(start), "end_modified": to_top(end), "use_has_next": "false"}
        total, refunds = client.call_with_retry(
            REFUNDS, {**params, "fields": mapping.REFUND_FIELDS, "page_no": 1, "page_size": PAGE_SIZE}, read=_refunds)
        for page_no in range(math.ceil(total / PAGE_SIZE), 1, -1):
            refunds += client.call_with_retry(REFUNDS, {**params, "fields": mapping.REFUND_FIELDS, "page_no": page_no,
                                                        "page_size": PAGE_SIZE}, read=_refunds)[1]
        refunds_store(run, client, refunds)
        run.record.windows += 1
        run.move_checkpoint(end)
        start = end
    run.record.window_to = limit


def _refunds(body: dict) -> tuple[int, list[mapping.Refund]]:
    records = mapping.unwrap_list(body.get("refunds"), "refund")
    return mapping.total_results(body), [mapping.refund_from_top(r, f"refunds[{i}]") for i, r in enumerate(records)]


def refunds_store(run, client, refunds: list[mapping.Refund]) -> None:
    run.record.fetched += len(refunds)
    counts, missing = order_refunds_apply(connection=run.connection, refunds=refunds)
    if missing:
        trades = []
        for order_no in sorted(missing):
            try:
                trades.append(trade_fetch(client, order_no))
            except BusinessError as exc:
                run.error(f"refund for order {order_no}: {exc}")
        run.add(orders_upsert_marketplace(connection=run.connection, trades=trades))
        run.add(order_refunds_apply(connection=run.connection,
                                    refunds=[r for r in refunds if r.order_no in missing])[0])
    run.add(counts)
