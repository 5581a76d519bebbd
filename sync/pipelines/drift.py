"""Drift repair (SPEC S12): read back a marketplace's quantities and push again what differs from what our stock
rule offers now.

A push that answered success is not proof the marketplace keeps the number: a write can be lost on its side, and
a seller can change a quantity in the marketplace's own back office. A stock check reads every item that holds
one of our linked SKUs (`taobao.item.seller.get`, one call per item, at most a minute of the connection's call
budget per check; a larger shop goes on where it stopped the next time). It compares each SKU's quantity there
with the quantity offered now (sellable stock at read time through the stock rule), and re-pushes the SKUs that
differ. It then reads those items back and repeats up to REPAIR_ROUNDS times, so a write lost again is caught
within the same check.

A SKU is not treated as drifted when
- its stock push is already pending: that push carries the value, or
- it is lower on the marketplace while our incremental order pull lags behind (its checkpoint more than two
  order intervals old): the difference may be an order sold there that we have not pulled yet, and pushing our
  higher number would offer those goods twice. It is counted as "left for the order pull", and the next check
  looks again.
Each check is a StockCheck row (counts and a few examples), shown on the connection page and in /metrics.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from merchant.models import Merchant

from ..errors import BusinessError
from .items import DETAILS_PER_RUN, DETAILS_PER_RUN_MIN
from ..models import Checkpoint, MarketplaceSku, Outbox, OutboxKind, StockCheck, SyncModule
from .push import outbox_push
from ..outbox import outbox_products_changed
from ..stock_rules import offered_quantities

REPAIR_ROUNDS = 3
EXAMPLES = 10


@dataclass
class Drift:
    link: MarketplaceSku
    theirs: int
    ours: int
    acknowledged: str

    def example(self) -> dict:
        return {"erp_product_id": self.link.product.erp_product_id, "theirs": self.theirs, "ours": self.ours,
                "acknowledged": self.acknowledged}


@dataclass
class Comparison:
    drifts: list[Drift] = field(default_factory=list)
    compared: int = 0
    held_back: int = 0


def orders_lagging(connection, now) -> bool:
    """Our incremental order pull is more than two order intervals behind now (or never ran)."""
    position = Checkpoint.objects.filter(connection=connection, module=SyncModule.ORDERS) \
        .values_list("position", flat=True).first()
    return position is None or now - position > timedelta(seconds=2 * connection.orders_interval + 60)


def _read(market, run, num_iids) -> dict[int, int]:
    """{sku_id: quantity on the marketplace} of these items (an item deleted meanwhile is left out)."""
    quantities = {}
    for num_iid in num_iids:
        try:
            item = market.item_get(num_iid, onsale=True)
        except BusinessError:
            continue
        for sku in item.skus:
            if sku.quantity is not None:
                quantities[sku.sku_id] = sku.quantity
        run.renew()
    return quantities


def _compare(connection, links: list[MarketplaceSku], theirs: dict[int, int], merchant, lagging: bool) -> Comparison:
    offers = offered_quantities(connection.pk, [link.product for link in links], merchant)
    rows = {product_id: (pending, value) for product_id, pending, value in Outbox.objects.filter(
        connection=connection, kind=OutboxKind.STOCK, product_id__in=[link.product_id for link in links],
    ).values_list("product_id", "pending", "pushed_value")}
    result = Comparison()
    for link in links:
        quantity = theirs.get(link.sku_id)
        if quantity is None:
            continue
        result.compared += 1
        ours = offers[link.product_id].pushed
        pending, acknowledged = rows.get(link.product_id, (False, ""))
        if pending or quantity == ours:
            continue
        if quantity < ours and lagging:
            result.held_back += 1
            continue
        result.drifts.append(Drift(link, quantity, ours, acknowledged))
    return result


def stock_check(run, market, *, now=None) -> StockCheck:
    """Read back, compare and repair (see the module docstring); returns the recorded StockCheck. Raises
    SyncError from the calls (a check that fails records nothing; the next one starts over)."""
    connection = run.connection
    now = now or timezone.now()
    merchant = Merchant.objects.get(pk=connection.merchant_id)
    links = list(MarketplaceSku.objects.filter(connection=connection, found=True, num_iid__isnull=False,
                                               sku_id__isnull=False).select_related("product"))
    items = sorted({link.num_iid for link in links})
    previous = StockCheck.objects.filter(connection=connection).first()
    if previous and previous.items_left and previous.resume_after:
        items = [n for n in items if n > previous.resume_after] + [n for n in items if n <= previous.resume_after]
    per_check = max(DETAILS_PER_RUN_MIN, min(DETAILS_PER_RUN, connection.calls_per_minute))
    todo, left = items[:per_check], max(0, len(items) - per_check)
    in_todo = set(todo)
    links = [link for link in links if link.num_iid in in_todo]
    lagging = orders_lagging(connection, now)

    comparison = _compare(connection, links, _read(market, run, todo), merchant, lagging)
    first = comparison
    examples = [drift.example() for drift in comparison.drifts[:EXAMPLES]]
    for _round in range(REPAIR_ROUNDS):
        if not comparison.drifts:
            break
        drifted = [drift.link for drift in comparison.drifts]
        outbox_products_changed(merchant_id=merchant.pk, product_ids=[link.product_id for link in drifted],
                                kinds=("stock",), connection_ids=[connection.pk])
        outbox_push(run, market, OutboxKind.STOCK)
        again = sorted({link.num_iid for link in drifted})
        comparison = _compare(connection, drifted, _read(market, run, again), merchant, lagging)
    check = StockCheck.objects.create(
        connection=connection, run=run.record, at=now, items=len(todo), skus=first.compared,
        drifted=len(first.drifts), repaired=len(first.drifts) - len(comparison.drifts),
        held_back=first.held_back, items_left=left, examples=examples, resume_after=todo[-1] if todo and left else 0)
    run.record.fetched, run.record.updated = first.compared, check.repaired
    if comparison.drifts:
        run.error(f"{len(comparison.drifts)} SKUs still differ after {REPAIR_ROUNDS} pushes")
    run.move_checkpoint(timezone.now())
    return check
