"""Which of our products is which SKU of a marketplace shop (deliverable "item mapping").

A refresh reads the shop's item headers (on sale and in the warehouse, paged), reads again only the items
whose `modified` moved since the last refresh (one `item.seller.get` each, at most one minute of the
connection's call budget a run: the rest wait for the next run, so a large shop never starves the order
pulls of their calls), keeps
what it read in MarketplaceListing, and then matches: a SKU whose outer id is a product's ERP id is that
product's. Links made or removed by hand are kept; a product matched to nothing is "not on this
marketplace", a neutral state that pushes skip. Products newly found are marked due for a push there.
"""
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from merchant.models import Product

from ..marketplaces.records import Item
from ..errors import BusinessError
from ..models import MappingLink, MarketplaceListing, MarketplaceSku
from ..outbox import outbox_products_due

# Items read in full per run: the connection's calls per minute, within these bounds.
DETAILS_PER_RUN_MIN = 20
DETAILS_PER_RUN = 300
CHUNK = 500
# A complete refresh is repeated this often; one that left items unread runs again after RETRY_PARTIAL.
ITEMS_EVERY = timedelta(hours=6)
RETRY_PARTIAL = timedelta(minutes=2)


@dataclass
class ItemsReport:
    items: int = 0
    read: int = 0
    deferred: int = 0
    matched: int = 0
    missing: int = 0
    newly_found: int = 0


def items_refresh(run, market, *, now=None) -> ItemsReport:
    """Read the shop (see the module docstring), store its SKUs and match our products. Returns the report;
    raises SyncError from the calls (what was stored by then stays)."""
    connection = run.connection
    now = now or timezone.now()
    report = ItemsReport()
    headers = {}
    for onsale in (True, False):
        for header in market.items_all(onsale=onsale, on_page=run.renew):
            headers[header.num_iid] = header
    report.items = run.record.fetched = len(headers)
    known = dict(MarketplaceListing.objects.filter(connection=connection)
                 .values_list("num_iid", "item_modified").distinct())
    stale = [h for h in headers.values() if h.num_iid not in known or h.modified is None
             or known[h.num_iid] != h.modified]
    per_run = max(DETAILS_PER_RUN_MIN, min(DETAILS_PER_RUN, connection.calls_per_minute))
    report.deferred = max(0, len(stale) - per_run)
    gone = set()
    for header in stale[:per_run]:
        try:
            item = market.item_get(header.num_iid, onsale=header.onsale)
        except BusinessError:
            gone.add(header.num_iid)  # deleted between the list and this call
            continue
        _listings_write(connection, item, now)
        report.read += 1
        run.renew()
    # Items read before whose on-sale state changed without a new modified time keep their rows current.
    for onsale in (True, False):
        ids = [h.num_iid for h in headers.values() if h.onsale == onsale and h.num_iid not in gone]
        for start in range(0, len(ids), CHUNK):
            MarketplaceListing.objects.filter(connection=connection, num_iid__in=ids[start:start + CHUNK]) \
                .exclude(onsale=onsale).update(onsale=onsale)
    present = set(headers) - gone
    stored = set(MarketplaceListing.objects.filter(connection=connection).values_list("num_iid", flat=True))
    removed = sorted(stored - present)
    for start in range(0, len(removed), CHUNK):
        MarketplaceListing.objects.filter(connection=connection, num_iid__in=removed[start:start + CHUNK]).delete()
    matched = mapping_rematch(connection, now=now)
    report.matched, report.missing, report.newly_found = matched
    run.record.updated = report.newly_found
    if not report.deferred:
        run.move_checkpoint(timezone.now())
    return report


def _listings_write(connection, item: Item, now) -> None:
    """Replace the stored SKUs of one item with what the marketplace just said."""
    header = item.header
    rows = [MarketplaceListing(
        connection=connection, num_iid=header.num_iid, sku_id=sku.sku_id, title=header.title[:200],
        sku_name=sku.name[:200], outer_id=sku.outer_id[:64], properties=sku.properties[:200], price=sku.price,
        quantity=sku.quantity, onsale=header.onsale, item_modified=header.modified, seen_at=now,
    ) for sku in item.skus]
    with transaction.atomic():
        MarketplaceListing.objects.filter(connection=connection, num_iid=header.num_iid) \
            .exclude(sku_id__in=[row.sku_id for row in rows]).delete()
        # A SKU that moved to another item keeps its id: update it wherever it was.
        MarketplaceListing.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["connection", "sku_id"],
            update_fields=["num_iid", "title", "sku_name", "outer_id", "properties", "price", "quantity", "onsale",
                           "item_modified", "seen_at"])


def mapping_rematch(connection, *, now=None) -> tuple[int, int, int]:
    """Match every product of the connection's merchant against the stored SKUs, keeping links made or removed
    by hand (a hand-made link whose SKU left the shop goes back to matching by code). Marks newly found
    products due for a push there. Returns (on the marketplace, not on it, newly found)."""
    now = now or timezone.now()
    listings = {row.sku_id: row for row in MarketplaceListing.objects.filter(connection=connection)
                .only("sku_id", "num_iid", "outer_id", "properties").order_by("sku_id")}
    links = {link.product_id: link for link in MarketplaceSku.objects.filter(connection=connection)}
    manual_skus = {link.sku_id for link in links.values() if link.link == MappingLink.MANUAL
                   and link.sku_id in listings}
    by_code = {}
    for listing in listings.values():
        if listing.outer_id and listing.sku_id not in manual_skus:
            by_code.setdefault(listing.outer_id, listing)
    create, update, found_now = [], [], []
    matched = missing = 0
    products = Product.objects.filter(merchant_id=connection.merchant_id).values_list("pk", "erp_product_id")
    for product_id, erp_id in products.iterator(chunk_size=2000):
        link = links.get(product_id)
        if link is not None and link.link == MappingLink.UNLINKED:
            missing += 1
            continue
        if link is not None and link.link == MappingLink.MANUAL and link.sku_id in listings:
            target, kind = listings[link.sku_id], MappingLink.MANUAL
        else:
            target, kind = by_code.get(erp_id), MappingLink.AUTO
        values = {"found": target is not None, "link": kind, "num_iid": target.num_iid if target else None,
                  "sku_id": target.sku_id if target else None, "properties": target.properties if target else ""}
        if target is not None:
            matched += 1
        else:
            missing += 1
        if link is None:
            create.append(MarketplaceSku(connection=connection, product_id=product_id, checked_at=now, **values))
            if target is not None:
                found_now.append(product_id)
            continue
        if any(getattr(link, name) != value for name, value in values.items()):
            if target is not None and (not link.found or link.sku_id != target.sku_id):
                found_now.append(product_id)
            for name, value in values.items():
                setattr(link, name, value)
            link.checked_at = now
            update.append(link)
    with transaction.atomic():
        MarketplaceSku.objects.bulk_create(create, batch_size=CHUNK, ignore_conflicts=True)
        MarketplaceSku.objects.bulk_update(update, ["found", "link", "num_iid", "sku_id", "properties", "checked_at"],
                                           batch_size=CHUNK)
        outbox_products_due(connection_id=connection.pk, product_ids=found_now)
    return matched, missing, len(found_now)


def items_refresh_due(checkpoint, now) -> bool:
    """Whether the dispatcher should run a refresh: never run, or complete ITEMS_EVERY ago, or partial (it
    left items unread) RETRY_PARTIAL ago. A run in progress holds the lease."""
    if checkpoint is None or checkpoint.last_run_at is None:
        return True
    if checkpoint.lease_until and checkpoint.lease_until > now:
        return False
    # A complete run moves the position past the moment it claimed the lease (last_run_at).
    complete = checkpoint.position is not None and checkpoint.position >= checkpoint.last_run_at
    return now - checkpoint.last_run_at >= (ITEMS_EVERY if complete else RETRY_PARTIAL)
