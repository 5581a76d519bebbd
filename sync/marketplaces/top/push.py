"""TOP's writes (SPEC S4), behind the marketplace seam: stock, price, listing and logistics rows of the outbox,
settled through the neutral push pipeline's Pass (sync.pipelines.push).

Every item call needs the item's num_iid, which MarketplaceSku keeps: found by the items refresh
(sync.pipelines.items), linked by hand, or asked for our outer id (= ERP product id) at push time. A product that is
not on the marketplace, or was unlinked there by hand, is skipped: its row is settled without a call and without
a failure. `taobao.skus.quantity.update` changes up to 20 SKUs of one item per call, so stock goes out one call per
item and 20 SKUs; prices (`taobao.item.sku.price.update`) and listing (`taobao.item.update.listing` /
`.delisting`) are one call per SKU or item, as TOP offers them. Every value is a full value, never a delta, so
pushing a row again after a crash is harmless. With "delist at 0" an item whose SKUs are all offered 0 is delisted.
"""
from datetime import timedelta

from django.utils.translation import gettext as _

from merchant.models import ListingState
from sync.errors import BusinessError, MalformedAnswer
from sync.models import MappingLink, MarketplaceSku, Outbox, OutboxKind
from sync.outbox import outbox_products_changed
from sync.stock_rules import offered_quantities

from . import mapping

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
# An outer id the marketplace did not know is asked again after this (the seller may have added the SKU).
RECHECK_MISSING = timedelta(hours=6)
SHIPPED_ON_MARKETPLACE = {"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED"}


# Where a product is on the marketplace

def _skus_of(body: dict) -> list[dict]:
    records = mapping.unwrap_list(body.get("skus"), "sku")
    try:
        return [{"num_iid": int(r["num_iid"]), "sku_id": int(r["sku_id"]), "properties": str(r.get("properties") or "")}
                for r in records]
    except (KeyError, TypeError, ValueError):
        raise MalformedAnswer("a SKU lacks num_iid or sku_id", code="missing-field") from None


def _resolve(work, product) -> MarketplaceSku:
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


def _links(work, rows: list[Outbox]) -> dict[int, MarketplaceSku]:
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


def _forget(work, row: Outbox) -> None:
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


def _push_stock(work, rows: list[Outbox]) -> None:
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


def _quantities_call(work, num_iid: int, rows: list[Outbox], links: dict, sellable: dict) -> None:
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


def _push_price(work, rows: list[Outbox]) -> None:
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


def _push_listing(work, rows: list[Outbox]) -> None:
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


def _push_logistics(work, rows: list[Outbox]) -> None:
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


def push(work, kind: str, rows: list[Outbox]) -> None:
    PUSHERS[kind](work, rows)
