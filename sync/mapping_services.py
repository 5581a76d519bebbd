"""Writes of the item mapping by a person (owners only): link a product to a SKU of the shop by hand, unlink
it (it is then not pushed there), give it back to matching by merchant code, or ask for a refresh now.
Each writes its audit entry in the same transaction; a product that gains a SKU is marked due for a push."""
import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.permissions import Action, Actor
from merchant.services.audit import audit_changes

from .models import Connection, MappingLink, MarketplaceListing, MarketplaceSku, SyncModule
from .outbox import outbox_products_due

AUDIT_FIELD = "marketplace_link"


def _where(connection: Connection, link: MarketplaceSku | None) -> str:
    """The audit's words for where a product is on the connection's marketplace."""
    if link is None or not link.found:
        return _("%(name)s: not on this marketplace") % {"name": connection.name}
    listing = MarketplaceListing.objects.filter(connection=connection, sku_id=link.sku_id).first()
    title = f"{listing.title} {listing.sku_name}".strip() if listing else ""
    return _("%(name)s: item %(item)s, SKU %(sku)s %(title)s") % {
        "name": connection.name, "item": link.num_iid, "sku": link.sku_id, "title": title}


def _audit(connection, product, before: str, link: MarketplaceSku, actor: Actor, reason: str) -> None:
    audit_changes(merchant_id=connection.merchant_id, entity="product", entity_id=product.pk,
                  changes={AUDIT_FIELD: (before, _where(connection, link))}, actor=actor, reason=reason)


def _locked_link(connection, product) -> MarketplaceSku | None:
    return MarketplaceSku.objects.select_for_update().filter(connection=connection, product=product).first()


def mapping_link(*, connection: Connection, product, sku_id: int, actor: Actor) -> MarketplaceSku:
    """Link `product` by hand to the shop's SKU `sku_id` (as the last refresh read it). A product matched to
    that SKU by its code loses it. Raises ValidationError when the shop has no such SKU or another product
    was linked to it by hand."""
    actor.require(Action.CONNECTIONS)
    _same_merchant(connection, product)
    with transaction.atomic():
        listing = MarketplaceListing.objects.filter(connection=connection, sku_id=sku_id).first()
        if listing is None:
            raise ValidationError(_("The shop has no such SKU any more. Refresh the marketplace items."))
        other = (MarketplaceSku.objects.select_for_update().filter(connection=connection, sku_id=sku_id, found=True)
                 .exclude(product=product).select_related("product").first())
        if other is not None and other.link == MappingLink.MANUAL:
            raise ValidationError(_("This SKU is already linked to %(code)s. Unlink it there first.") % {
                "code": other.product.erp_product_id})
        link = _locked_link(connection, product)
        before = _where(connection, link)
        if other is not None:
            other_before = _where(connection, other)
            other.found, other.num_iid, other.sku_id, other.properties = False, None, None, ""
            other.checked_at = timezone.now()
            other.save(update_fields=["found", "num_iid", "sku_id", "properties", "checked_at"])
            _audit(connection, other.product, other_before, other, actor,
                   _("Its SKU was linked by hand to %(code)s") % {"code": product.erp_product_id})
        values = {"found": True, "link": MappingLink.MANUAL, "num_iid": listing.num_iid, "sku_id": listing.sku_id,
                  "properties": listing.properties, "checked_at": timezone.now()}
        link, _created = MarketplaceSku.objects.update_or_create(connection=connection, product=product,
                                                                 defaults=values)
        _audit(connection, product, before, link, actor, _("Linked by hand"))
        outbox_products_due(connection_id=connection.pk, product_ids=[product.pk])
    return link


def mapping_unlink(*, connection: Connection, product, actor: Actor) -> MarketplaceSku:
    """Unlink `product` by hand: it is not pushed to this marketplace, and refreshes leave it unlinked until
    it is linked again or given back to matching by code."""
    actor.require(Action.CONNECTIONS)
    _same_merchant(connection, product)
    with transaction.atomic():
        link = _locked_link(connection, product)
        before = _where(connection, link)
        link, _created = MarketplaceSku.objects.update_or_create(connection=connection, product=product, defaults={
            "found": False, "link": MappingLink.UNLINKED, "num_iid": None, "sku_id": None, "properties": "",
            "checked_at": timezone.now()})
        _audit(connection, product, before, link, actor, _("Unlinked by hand"))
    return link


def mapping_match_by_code(*, connection: Connection, product, actor: Actor) -> MarketplaceSku:
    """Give `product` back to matching by merchant code: the shop's SKU whose code is its ERP id (and that no
    other product was linked to by hand), if the last refresh saw one."""
    actor.require(Action.CONNECTIONS)
    _same_merchant(connection, product)
    with transaction.atomic():
        link = _locked_link(connection, product)
        before = _where(connection, link)
        taken = MarketplaceSku.objects.filter(connection=connection, link=MappingLink.MANUAL, found=True) \
            .exclude(product=product).values("sku_id")
        listing = (MarketplaceListing.objects.filter(connection=connection, outer_id=product.erp_product_id)
                   .exclude(sku_id__in=taken).order_by("sku_id").first())
        link, _created = MarketplaceSku.objects.update_or_create(connection=connection, product=product, defaults={
            "found": listing is not None, "link": MappingLink.AUTO,
            "num_iid": listing.num_iid if listing else None, "sku_id": listing.sku_id if listing else None,
            "properties": listing.properties if listing else "", "checked_at": timezone.now()})
        _audit(connection, product, before, link, actor, _("Matched by merchant code"))
        if link.found:
            outbox_products_due(connection_id=connection.pk, product_ids=[product.pk])
    return link


def mapping_refresh_request(*, connection: Connection, actor: Actor) -> str:
    """Queue a refresh of the shop's items now (the mapping page's button); returns the job id. The run's lease
    keeps it from overlapping a scheduled one."""
    import django_rq
    from django.conf import settings

    from . import jobs

    actor.require(Action.CONNECTIONS)
    job_id = f"sync-{connection.pk}-{SyncModule.ITEMS}-manual-{uuid.uuid4().hex[:12]}"
    django_rq.get_queue("sync").enqueue(jobs.sync_items, connection.pk, trigger="manual", job_id=job_id,
                                        job_timeout=settings.SYNC_JOB_TIMEOUT)
    return job_id


def _same_merchant(connection: Connection, product) -> None:
    # Views load both through the merchant; this keeps a program calling the service from crossing over.
    if product.merchant_id != connection.merchant_id:
        raise ValidationError(_("This product belongs to another merchant."))
