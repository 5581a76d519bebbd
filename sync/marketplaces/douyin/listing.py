"""Listing on Douyin: a product (商品) is put online or offline as a whole (/product/setOnline, /product/setOffline
{product_id}), so a row's product must first be found among the shop's products by its SKU code.

The shop is read once for that (/product/listV2, pages from 1, at most 100 a page and 10,000 in all:
zsmhub/doudian-sdk api/product_listV2/request/product_listV2_request.go; then /sku/list {product_id} for each
product's SKUs and their `code`: api/sku_list/response/sku_list_response.go), and what it found is kept in
MarketplaceSku (num_iid = the Douyin product id, sku_id = the SKU id), as the TOP item mapping keeps it. A shop is
read again at most every SCAN_EVERY; a product not found is skipped (not on this shop), not failed.
"""
from datetime import timedelta

from django.core.cache import cache

from sync.errors import BusinessError, MalformedAnswer

PRODUCTS = "/product/listV2"
SKUS = "/sku/list"
ONLINE = "/product/setOnline"
OFFLINE = "/product/setOffline"
PAGE = 100
MAX_PAGES = 100  # page * size <= 10,000
SCAN_EVERY = timedelta(hours=6)


def _products(data) -> tuple[list[str], int]:
    if not isinstance(data, dict) or not isinstance(data.get("data", []), list):
        raise MalformedAnswer(f"answer to {PRODUCTS} lacks data.data", code="bad-list")
    ids = []
    for i, record in enumerate(data.get("data") or []):
        value = record.get("product_id") if isinstance(record, dict) else None
        if value in (None, "") or isinstance(value, float) or not str(value).isdigit():
            raise MalformedAnswer(f"data.data[{i}].product_id is not an id", code="bad-field")
        ids.append(str(value))
    try:
        total = int(data.get("total") or 0)
    except (TypeError, ValueError):
        raise MalformedAnswer("data.total is not a number", code="bad-field") from None
    return ids, total


def _skus(data) -> list[tuple[str, int]]:
    if not isinstance(data, list):
        raise MalformedAnswer(f"answer to {SKUS} is not a list", code="bad-list")
    found = []
    for i, record in enumerate(data):
        if not isinstance(record, dict) or not str(record.get("id") or "").isdigit():
            raise MalformedAnswer(f"data[{i}].id is not an id", code="bad-field")
        if record.get("code"):
            found.append((str(record["code"]), int(str(record["id"]))))
    return found


def shop_codes(work) -> dict[str, tuple[int, int]]:
    """{SKU code: (product id, SKU id)} of every product of the shop."""
    codes, page = {}, 1
    while page <= MAX_PAGES:
        ids, total = work.call(PRODUCTS, {"page": page, "size": PAGE}, read=_products)
        for product_id in ids:
            for code, sku_id in work.call(SKUS, {"product_id": product_id}, read=_skus):
                codes.setdefault(code, (int(product_id), sku_id))
        if not ids or page * PAGE >= total:
            break
        page += 1
    return codes


def locate(work, connection, rows) -> dict:
    """{our product id: MarketplaceSku with num_iid} for the rows whose product is a product of the shop; the
    shop is read first when a row's product was never looked for (at most every SCAN_EVERY)."""
    from sync.models import MappingLink, MarketplaceSku

    def links():
        return {link.product_id: link for link in MarketplaceSku.objects.filter(
            connection=connection, product_id__in=[row.product_id for row in rows])}

    known = links()
    def unknown(link) -> bool:
        if link is None:
            return True
        if link.found:
            return link.num_iid is None  # found by a stock push (by code), not yet placed in a product
        return link.link == MappingLink.AUTO and work.now - link.checked_at >= SCAN_EVERY

    wanted = [row for row in rows if unknown(known.get(row.product_id))]
    key = f"mh:douyin:shop-scan:{connection.pk}"
    if wanted and cache.add(key, 1, int(SCAN_EVERY.total_seconds())):
        codes = shop_codes(work)
        for row in rows:
            link = known.get(row.product_id)
            if link is not None and link.link != MappingLink.AUTO:
                continue  # linked or unlinked by hand: kept
            place = codes.get(row.product.erp_product_id)
            MarketplaceSku.objects.update_or_create(
                connection=connection, product_id=row.product_id,
                defaults={"found": place is not None, "link": MappingLink.AUTO, "checked_at": work.now,
                          "num_iid": place[0] if place else None, "sku_id": place[1] if place else None})
        known = links()
    return {pk: link for pk, link in known.items() if link.found and link.num_iid is not None}


def push_listing(work, connection, rows) -> None:
    from merchant.models import ListingState
    from sync.models import MarketplaceSku
    from sync.stock_rules import offered_quantities

    found = locate(work, connection, rows)
    products = {}
    for row in rows:
        if row.product_id in found:
            products.setdefault(found[row.product_id].num_iid, []).append(row)
        else:
            work.skip(row)
    if not products:
        return
    # A Douyin product is online while any of our products among its SKUs is listed, unless every one of them is
    # offered 0 under a rule that delists at 0 (as the TOP listing push decides per item).
    listed = set(MarketplaceSku.objects.filter(connection=connection, found=True, num_iid__in=list(products),
                                               product__listing_state=ListingState.LISTED)
                 .values_list("num_iid", flat=True))
    offers = offered_quantities(connection.pk, [row.product for group in products.values() for row in group],
                                work.merchant)
    for product_id, group in products.items():
        group_offers = [offers.get(row.product_id) for row in group]
        at_zero = all(o is not None and o.rule is not None and o.rule.auto_delist and o.pushed == 0
                      for o in group_offers)
        online = product_id in listed and not at_zero
        try:
            work.call(ONLINE if online else OFFLINE, {"product_id": str(product_id)})
        except BusinessError as exc:
            for row in group:
                # The product may have been deleted or moved: look it up again next time.
                MarketplaceSku.objects.filter(connection=connection, product_id=row.product_id).delete()
                work.fail(row, str(exc), permanent=True)
            cache.delete(f"mh:douyin:shop-scan:{connection.pk}")
            continue
        for row in group:
            work.ack(row, "onsale" if online else "instock")
