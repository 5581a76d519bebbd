"""Reads for the item mapping page: our products with where each is on one marketplace, and the shop's SKUs
to link one to. A page costs a fixed number of queries whatever its size."""
from dataclasses import dataclass

from django.db.models import BooleanField, CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from merchant.models import Product

from .models import Checkpoint, MappingLink, MarketplaceListing, MarketplaceSku, SyncModule


class MappingState:
    """The page's filter values."""
    ON = "on"
    OFF = "off"
    MANUAL = "manual"
    UNLINKED = "unlinked"
    ALL = (ON, OFF, MANUAL, UNLINKED)


def mapping_products(connection, *, q: str = "", state: str = "") -> QuerySet:
    """The merchant's products, each annotated with `on_marketplace`, `link_kind`, `map_num_iid` and
    `map_sku_id` for this connection; filtered by a search (ERP id prefix, name, item or SKU id) and a state."""
    link = MarketplaceSku.objects.filter(connection=connection, product=OuterRef("pk"))
    rows = Product.objects.filter(merchant_id=connection.merchant_id).annotate(
        on_marketplace=Coalesce(Subquery(link.values("found")[:1]), Value(False), output_field=BooleanField()),
        link_kind=Coalesce(Subquery(link.values("link")[:1]), Value(""), output_field=CharField()),
        map_num_iid=Subquery(link.values("num_iid")[:1]),
        map_sku_id=Subquery(link.values("sku_id")[:1]),
    ).only("pk", "erp_product_id", "name", "listing_state")
    if state == MappingState.ON:
        rows = rows.filter(Exists(link.filter(found=True)))
    elif state == MappingState.OFF:
        rows = rows.exclude(Exists(link.filter(found=True)))
    elif state == MappingState.MANUAL:
        rows = rows.filter(Exists(link.filter(link=MappingLink.MANUAL)))
    elif state == MappingState.UNLINKED:
        rows = rows.filter(Exists(link.filter(link=MappingLink.UNLINKED)))
    q = q.strip()
    if q:
        where = Q(erp_product_id__istartswith=q) | Q(name__icontains=q)
        if q.isdigit():
            where |= Exists(link.filter(Q(num_iid=int(q)) | Q(sku_id=int(q))))
        rows = rows.filter(where)
    return rows.order_by("erp_product_id", "pk")


def listings_by_sku(connection, sku_ids) -> dict[int, MarketplaceListing]:
    """{sku id: the shop's SKU} for the given ids (one query)."""
    ids = [pk for pk in sku_ids if pk]
    return {row.sku_id: row for row in MarketplaceListing.objects.filter(connection=connection, sku_id__in=ids)}


def mapping_listings(connection, *, q: str = "") -> QuerySet:
    """The shop's SKUs as the last refresh read them, searched by merchant code prefix, title or SKU name, or
    item / SKU id; each annotated with `linked_code`, the ERP id of the product it is linked to, if any."""
    taken = MarketplaceSku.objects.filter(connection=connection, found=True, sku_id=OuterRef("sku_id"))
    rows = MarketplaceListing.objects.filter(connection=connection).annotate(
        linked_code=Subquery(taken.values("product__erp_product_id")[:1]))
    q = q.strip()
    if q:
        where = Q(outer_id__istartswith=q) | Q(title__icontains=q) | Q(sku_name__icontains=q)
        if q.isdigit():
            where |= Q(num_iid=int(q)) | Q(sku_id=int(q))
        rows = rows.filter(where)
    return rows.order_by("title", "sku_id")


@dataclass
class MappingSummary:
    on: int
    off: int
    listings: int
    refreshed_at: object
    refresh_running: bool


def mapping_summary(connection) -> MappingSummary:
    """How many products are on the marketplace and not, how many SKUs the shop has, and when it was last read."""
    total = Product.objects.filter(merchant_id=connection.merchant_id).count()
    on = MarketplaceSku.objects.filter(connection=connection, found=True,
                                       product__merchant_id=connection.merchant_id).count()
    checkpoint = Checkpoint.objects.filter(connection=connection, module=SyncModule.ITEMS).first()
    return MappingSummary(
        on=on, off=total - on, listings=MarketplaceListing.objects.filter(connection=connection).count(),
        refreshed_at=checkpoint.position if checkpoint else None,
        refresh_running=bool(checkpoint and checkpoint.lease_until),
    )
