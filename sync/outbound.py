"""Pushes to a TOP marketplace (SPEC S4): stock, price, listing and logistics, from the outbox.

Each pass claims the due rows of one kind (sync.outbox), pushes the value in force *now* (sellable stock,
the default price, listed -> onsale else instock, the order's carrier and tracking number) and records the
outcome on every row: acknowledged with the value, retried later after a failed call, or given up with the
reason (a business error, or too many attempts). Every item call needs the item's num_iid, which
MarketplaceSku keeps: found by the items refresh (sync.item_mapping), linked by hand, or asked for our outer
id (= ERP product id) at push time. A product that is not on the marketplace, or was unlinked there by hand,
is skipped: its row is settled without a call and without a failure.

`taobao.skus.quantity.update` changes up to 20 SKUs of one item per call, so stock goes out one call per
item and 20 SKUs; prices (`taobao.item.sku.price.update`) and listing (`taobao.item.update.listing` /
`.delisting`) are one call per SKU or item, as TOP offers them. Every value is a full value, never a delta,
so pushing a row again after a crash is harmless. The quantity is what the connection's stock rule offers of
the sellable stock (sync.stock_rules); with "delist at 0" an item whose SKUs are all offered 0 is delisted.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import ListingState, Merchant

from .marketplaces.top import mapping
from .errors import BusinessError, MalformedAnswer, Permanent
from .models import MappingLink, MarketplaceSku, Outbox, OutboxKind
from .outbox import MAX_ATTEMPTS, outbox_acked, outbox_claim, outbox_failed, outbox_release, outbox_skipped
from .outbox import outbox_products_changed
from .stock_rules import offered_quantities

QUANTITY = "taobao.skus.quantity.update"
SKU_PRICE = "taobao.item.sku.price.update"
LISTING = "taobao.item.update.listing"
DELISTING = "taobao.item.update.delisting"
OFFLINE_SEND = "taobao.logistics.offline.send"
FULLINFO = "taobao.trade.fullinfo.get"
# Not among reference/top-api's methods: TOP's lookup of the SKUs that carry an outer id (its num_iid, sku_id
# and property string), which every item call needs.
SKUS_BY_OUTER_ID = "taobao.skus.custom.get"
SKU_FIELDS = "sku_id,num_iid,outer_id,properties,quantity"
SKUS_PER_CALL = 20  # taobao.skus.quantity.update: "最多支持20个SKU同时修改"
CLAIM = {OutboxKind.STOCK: 100}
CLAIM_DEFAULT = 40
MAX_PASSES = 25
# An outer id the marketplace did not know is asked again after this (the seller may have added the SKU).
RECHECK_MISSING = timedelta(hours=6)
# Lookups cost one call per product; a run makes at most this many (the rest wait a minute, uncounted), so
# a first push of a large catalog leaves room in the connection's call budget for the order pulls.
LOOKUPS_PER_RUN = 30
LOOKUP_DEFERRED = timedelta(minutes=1)
SHIPPED_ON_MARKETPLACE = {"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED"}


@dataclass
class Tally:
    pushed: int = 0
    failed: int = 0
    # Rows of products that are not on the marketplace: settled without a call, not a failure.
    skipped: int = 0
    # Rows given up on (a business error, or the last attempt), "target: reason", for the notification.
    gave_up: list = field(default_factory=list)


class Pass:
    """One claimed set of rows being pushed: settles each row once and counts the outcomes."""

    def __init__(self, run, client, rows: list[Outbox], now, lookups: list[int]):
        self.run, self.client, self.now = run, client, now
        self.lookups = lookups  # [left in this run], shared by its passes
        self.open = {row.pk: row for row in rows}
        self.tally = Tally()
        self._merchant = None

    @property
    def merchant(self) -> Merchant:
        """The merchant's settings as they are now (safety stock, expiry exclusion), read once per pass."""
        if self._merchant is None:
            self._merchant = Merchant.objects.get(pk=self.run.connection.merchant_id)
        return self._merchant

    def ack(self, row: Outbox, value) -> None:
        if self.open.pop(row.pk, None) is not None and outbox_acked(row, str(value), now=self.now):
            self.tally.pushed += 1
            self.run.record.updated += 1

    def fail(self, row: Outbox, error: str, *, permanent: bool) -> None:
        if self.open.pop(row.pk, None) is None:
            return
        outbox_failed(row, error, now=self.now, permanent=permanent)
        self.tally.failed += 1
        self.run.error(f"{_target(row)}: {error}")
        if permanent or row.attempts >= MAX_ATTEMPTS:
            self.tally.gave_up.append(f"{_target(row)}: {error}")

    def skip(self, row: Outbox) -> None:
        if self.open.pop(row.pk, None) is not None and outbox_skipped(row, now=self.now):
            self.tally.skipped += 1

    def defer(self, row: Outbox) -> None:
        """Leave the row for a later run without counting an attempt (it was not tried)."""
        if self.open.pop(row.pk, None) is not None:
            outbox_release([row], "", now=self.now, count_attempt=False, due=self.now + LOOKUP_DEFERRED)

    def call(self, method: str, params: dict, read=None):
        answer = self.client.call_with_retry(method, params, read=read)
        # Calls may wait on the budget or a ban: keep the (connection, module) lease while working.
        self.run.renew()
        return answer


def _target(row: Outbox) -> str:
    if row.product_id:
        return row.product.erp_product_id
    return _("order %(no)s") % {"no": row.order.order_no}


def outbox_push(run, client, kind: str, *, now=None, tally: Tally | None = None) -> Tally:
    """Push every due row of `kind` for the run's connection, pass after pass (a change made during a push
    is due again at once), until none is due. A run that fails gives its unsettled rows back: due after a
    backoff, or at once when the connection itself was refused (it is stopped until the owner fixes it).
    Counts go into `tally` as they happen, so a caller sees them even when the run ends in an error."""
    total = tally if tally is not None else Tally()
    try:
        _push_passes(run, client, kind, now, total)
    finally:
        if total.gave_up:
            _notify_gave_up(run.connection, kind, total.gave_up)
    return total


def _notify_gave_up(connection, kind: str, gave_up: list[str]) -> None:
    """One notification per run and kind: what was given up on, the first few named."""
    from merchant.models import NotificationEvent
    from merchant.services.notifications import notify

    lines = gave_up[:10] + ([_("…and %(count)d more.") % {"count": len(gave_up) - 10}] if len(gave_up) > 10 else [])
    notify(merchant=connection.merchant_id, event=NotificationEvent.PUSH_FAILED,
           subject_key=f"push:{connection.pk}:{kind}",
           title=_("%(kind)s push to %(name)s failed for %(count)d items") % {
               "kind": OutboxKind(kind).label, "name": connection.name, "count": len(gave_up)},
           body="\n".join(lines), url=connection.get_absolute_url())


def _push_passes(run, client, kind: str, now, total: Tally) -> None:
    push = PUSHERS[kind]
    lookups = [LOOKUPS_PER_RUN]
    for _pass in range(MAX_PASSES):
        moment = now or timezone.now()
        rows = outbox_claim(connection_id=run.connection.pk, kind=kind, now=moment,
                            limit=CLAIM.get(kind, CLAIM_DEFAULT))
        if not rows:
            break
        run.record.fetched += len(rows)
        work = Pass(run, client, rows, moment, lookups)
        try:
            push(work, rows)
        except Permanent as exc:
            outbox_release(work.open.values(), str(exc), now=moment, count_attempt=False)
            raise
        except BaseException as exc:
            outbox_release(work.open.values(), str(exc) or type(exc).__name__, now=moment)
            raise
        finally:
            total.pushed += work.tally.pushed
            total.failed += work.tally.failed
            total.skipped += work.tally.skipped
            total.gave_up += work.tally.gave_up
        # A pusher settles every row it claimed; one it skipped by mistake must not wait for IN_FLIGHT.
        outbox_release(work.open.values(), "not pushed", now=moment)


# Where a product is on the marketplace

def _skus_of(body: dict) -> list[dict]:
    records = mapping.unwrap_list(body.get("skus"), "sku")
    try:
        return [{"num_iid": int(r["num_iid"]), "sku_id": int(r["sku_id"]), "properties": str(r.get("properties") or "")}
                for r in records]
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a SKU lacks num_iid or sku_id", code="missing-field") from None


def _resolve(work: Pass, product) -> MarketplaceSku:
    try:
        skus = work.call(SKUS_BY_OUTER_ID, {"outer_id": product.erp_product_id, "fields": SKU_FIELDS}, read=_skus_of)
    except BusinessError:
        skus = []
    # A SKU linked by hand to another product is that product's, whatever its outer id says.
    taken = set(MarketplaceSku.objects.filter(connection=work.run.connection, link=MappingLink.MANUAL,
                                              sku_id__in=[s["sku_id"] for s in skus]).values_list("sku_id", flat=True))
    first = next((s for s in skus if s["sku_id"] not in taken), {})
    link, _created = MarketplaceSku.objects.update_or_create(
        connection=work.run.connection, product=product,
        defaults={"found": bool(first), "link": MappingLink.AUTO, "num_iid": first.get("num_iid"),
                  "sku_id": first.get("sku_id"), "properties": first.get("properties", "")[:200],
                  "checked_at": work.now},
    )
    return link


def _links(work: Pass, rows: list[Outbox]) -> dict[int, MarketplaceSku]:
    """{product id: where it is} for the rows whose product is on the marketplace; the rows of the others are
    settled as skipped (not on this marketplace, or unlinked by hand), never as failures."""
    links = {link.product_id: link for link in MarketplaceSku.objects.filter(
        connection=work.run.connection, product_id__in=[row.product_id for row in rows])}
    found = {}
    for row in rows:
        link = links.get(row.product_id)
        recheck = link is not None and not link.found and link.link == MappingLink.AUTO \
            and work.now - link.checked_at >= RECHECK_MISSING
        if link is None or recheck:
            if work.lookups[0] <= 0:
                work.defer(row)
                continue
            work.lookups[0] -= 1
            link = links[row.product_id] = _resolve(work, row.product)
        if link.found:
            found[row.product_id] = link
        else:
            work.skip(row)
    return found


def _forget(work: Pass, row: Outbox) -> None:
    """The marketplace refused a SKU we had located: look it up again next time (it may have moved)."""
    MarketplaceSku.objects.filter(connection=work.run.connection, product_id=row.product_id).delete()


def _by_item(rows: list[Outbox], links: dict) -> dict[int, list[Outbox]]:
    items = {}
    for row in rows:
        if row.product_id in links:
            items.setdefault(links[row.product_id].num_iid, []).append(row)
    return items


# Stock

def _sku_quantities(body: dict) -> dict[int, int]:
    item = body.get("item")
    if not isinstance(item, dict):
        raise MalformedAnswer(f"answer to {QUANTITY} lacks item", code="missing-field")
    try:
        return {int(s["sku_id"]): int(s["quantity"]) for s in mapping.unwrap_list(item.get("skus"), "sku")}
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a SKU lacks sku_id or quantity", code="missing-field") from None


def _push_stock(work: Pass, rows: list[Outbox]) -> None:
    links = _links(work, rows)
    offers = offered_quantities(work.run.connection.pk, [row.product for row in rows if row.product_id in links],
                                work.merchant)
    sellable = {pk: offer.pushed for pk, offer in offers.items()}
    before = {row.product_id: row.pushed_value for row in rows}
    for num_iid, item_rows in _by_item(rows, links).items():
        for start in range(0, len(item_rows), SKUS_PER_CALL):
            _quantities_call(work, num_iid, item_rows[start:start + SKUS_PER_CALL], links, sellable)
    # "Delist at 0": a SKU whose offered quantity went to 0 or came back from 0 changes its item's listing.
    crossed = [pk for pk, offer in offers.items() if offer.rule is not None and offer.rule.auto_delist
               and (before.get(pk) == "0") != (offer.pushed == 0)]
    if crossed:
        outbox_products_changed(merchant_id=work.merchant.pk, product_ids=crossed, kinds=("listing",),
                                connection_ids=[work.run.connection.pk])


def _quantities_call(work: Pass, num_iid: int, rows: list[Outbox], links: dict, sellable: dict) -> None:
    """Push `sellable` ({product id: the quantity offered}) for up to SKUS_PER_CALL SKUs of one item."""
    values = {row.pk: sellable[row.product_id] for row in rows}
    params = {"num_iid": num_iid, "type": 1, "skuid_quantities": ";".join(
        f"{links[row.product_id].sku_id}:{values[row.pk]}" for row in rows)}
    try:
        confirmed = work.call(QUANTITY, params, read=_sku_quantities)
    except BusinessError as exc:
        if len(rows) > 1:
            # The call is all or nothing: one SKU at a time finds the one the marketplace refuses.
            for row in rows:
                _quantities_call(work, num_iid, [row], links, sellable)
            return
        _forget(work, rows[0])
        work.fail(rows[0], str(exc), permanent=True)
        return
    for row in rows:
        if confirmed.get(links[row.product_id].sku_id) == values[row.pk]:
            work.ack(row, values[row.pk])
        else:
            work.fail(row, _("the marketplace did not confirm quantity %(q)s") % {"q": values[row.pk]},
                      permanent=False)


# Prices

def _sku_answer(body: dict) -> dict:
    if not isinstance(body.get("sku"), dict):
        raise MalformedAnswer(f"answer to {SKU_PRICE} lacks sku", code="missing-field")
    return body["sku"]


def _push_price(work: Pass, rows: list[Outbox]) -> None:
    links = _links(work, rows)
    for row in rows:
        link = links.get(row.product_id)
        if link is None:
            continue
        price = row.product.default_price
        try:
            work.call(SKU_PRICE, {"num_iid": link.num_iid, "properties": link.properties, "price": f"{price:.2f}",
                                  "outer_id": row.product.erp_product_id}, read=_sku_answer)
        except BusinessError as exc:
            _forget(work, row)
            work.fail(row, str(exc), permanent=True)
            continue
        work.ack(row, f"{price:.2f}")


# Listing

def _item_answer(body: dict) -> dict:
    if not isinstance(body.get("item"), dict):
        raise MalformedAnswer("answer lacks item", code="missing-field")
    return body["item"]


def _push_listing(work: Pass, rows: list[Outbox]) -> None:
    links = _links(work, rows)
    items = _by_item(rows, links)
    # Listing is per item: an item is on sale while any of our products among its SKUs is listed.
    listed_items = set(
        MarketplaceSku.objects.filter(connection=work.run.connection, found=True, num_iid__in=list(items),
                                      product__listing_state=ListingState.LISTED)
        .values_list("num_iid", flat=True)
    )
    offers = offered_quantities(work.run.connection.pk, [row.product for row in rows if row.product_id in links],
                                work.merchant)
    for num_iid, item_rows in items.items():
        onsale = num_iid in listed_items and not _all_delisted_at_zero([offers.get(row.product_id) for row in item_rows])
        try:
            if onsale:
                # TOP wants num > 0, and ignores it for an item with SKUs (their sum counts).
                number = max(1, sum(offers[row.product_id].pushed for row in item_rows if row.product_id in offers))
                work.call(LISTING, {"num_iid": num_iid, "num": number}, read=_item_answer)
            else:
                work.call(DELISTING, {"num_iid": num_iid}, read=_item_answer)
        except BusinessError as exc:
            for row in item_rows:
                _forget(work, row)
                work.fail(row, str(exc), permanent=True)
            continue
        for row in item_rows:
            work.ack(row, "onsale" if onsale else "instock")


def _all_delisted_at_zero(offers: list) -> bool:
    """Every SKU of the item is offered 0 under a rule that delists at 0."""
    offers = [offer for offer in offers if offer is not None]
    return bool(offers) and all(offer.rule is not None and offer.rule.auto_delist and offer.pushed == 0
                                for offer in offers)


# Logistics

def _shipping_answer(body: dict) -> bool:
    shipping = body.get("shipping")
    if not isinstance(shipping, dict):
        raise MalformedAnswer(f"answer to {OFFLINE_SEND} lacks shipping", code="missing-field")
    return str(shipping.get("is_success")).lower() == "true"


def _trade_status(body: dict) -> str:
    trade = body.get("trade")
    if not isinstance(trade, dict) or not trade.get("status"):
        raise MalformedAnswer(f"answer to {FULLINFO} lacks trade.status", code="missing-field")
    return str(trade["status"])


def _push_logistics(work: Pass, rows: list[Outbox]) -> None:
    for row in rows:
        order = row.order
        if order.carrier is None or not order.tracking_no:
            work.fail(row, _("the order has no carrier or tracking number"), permanent=True)
            continue
        if not order.order_no.isdigit():
            # A marketplace trade id is a number; the gateway would refuse the call as a bad argument,
            # which stops the whole connection.
            work.fail(row, _("%(no)s is not a marketplace trade id") % {"no": order.order_no}, permanent=True)
            continue
        value = f"{order.carrier.code} {order.tracking_no}"
        params = {"tid": order.order_no, "out_sid": order.tracking_no, "company_code": order.carrier.code}
        try:
            confirmed = work.call(OFFLINE_SEND, params, read=_shipping_answer)
        except BusinessError as exc:
            # Sent before by a run that died before recording it? Then the trade is shipped there already.
            try:
                status = work.call(FULLINFO, {"tid": order.order_no, "fields": "tid,status"}, read=_trade_status)
            except BusinessError:
                status = ""
            if status in SHIPPED_ON_MARKETPLACE:
                work.ack(row, value)
            else:
                # The error says what the marketplace refused, never its own words; the carrier is ours to name.
                work.fail(row, f"carrier {order.carrier.code}: {exc}", permanent=True)
            continue
        if confirmed:
            work.ack(row, value)
        else:
            work.fail(row, _("the marketplace did not confirm the shipment"), permanent=False)


PUSHERS = {
    OutboxKind.STOCK: _push_stock, OutboxKind.PRICE: _push_price, OutboxKind.LISTING: _push_listing,
    OutboxKind.LOGISTICS: _push_logistics,
}
