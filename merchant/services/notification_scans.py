"""The periodic scan behind three notifications (SPEC M15) that no single write raises: products at or below the
merchant's low-stock threshold, batches entering the expiry window, and shipments whose tracking has not moved
for 72 hours (SPEC S10). The conditions are those the dashboard lists (merchant.selectors.dashboard_stats).

Each condition found is kept (NotificationCondition) while it lasts, so the scan notifies when one starts, not
on every run, and a product that recovers and drops again is notified again. One notification per merchant and
kind sums up what started since the last run."""
import hashlib
from datetime import timedelta

from django.conf import settings
from django.apps import apps
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant.models import (
    Batch, FollowUp, FollowUpStatus, ListingState, Merchant, NotificationCondition, NotificationEvent, Order,
    OrderStatus, Product, TrackingEntry,
)
from merchant.services.notifications import notify

STALLED_AFTER = timedelta(hours=72)
# Without an expiry exclusion window of its own, a merchant hears of batches entering the dashboard's 90 days.
EXPIRY_NOTICE_DAYS = 90
LISTED_IN_BODY = 10
CHUNK = 1000


def expiry_window_days(merchant) -> int:
    return merchant.expiry_exclusion_days or EXPIRY_NOTICE_DAYS


def _low_stock(merchant, today, now) -> dict[str, int]:
    ids = Product.objects.filter(merchant=merchant, listing_state=ListingState.LISTED,
                                 stock__lte=merchant.low_stock_threshold).values_list("pk", flat=True)
    return {f"product:{pk}": pk for pk in ids.iterator(chunk_size=CHUNK)}


def _expiring(merchant, today, now) -> dict[str, int]:
    ids = Batch.objects.filter(product__merchant=merchant, quantity__gt=0, expiry_date__gt=today,
                               expiry_date__lte=today + timedelta(days=expiry_window_days(merchant))
                               ).values_list("pk", flat=True)
    return {f"batch:{pk}": pk for pk in ids.iterator(chunk_size=CHUNK)}


def _stalled(merchant, today, now) -> dict[str, int]:
    """Shipments without progress: by our own tracking entries, or, for the marketplace orders whose carrier
    trace sync reads (sync.pipelines.trace), by their open follow-up."""
    before = now - STALLED_AFTER
    watch = apps.get_model("sync", "TraceWatch")
    ids = (Order.objects.filter(merchant=merchant, status=OrderStatus.SHIPPED, shipped_at__lt=before)
           .exclude(Exists(TrackingEntry.objects.filter(order=OuterRef("pk"), at__gte=before)))
           .exclude(Exists(watch.objects.filter(order=OuterRef("pk"))))
           .values_list("pk", flat=True))
    followed = FollowUp.objects.filter(merchant=merchant, status=FollowUpStatus.OPEN).values_list("order_id",
                                                                                                 flat=True)
    found = {f"order:{pk}": pk for pk in ids.iterator(chunk_size=CHUNK)}
    found.update({f"order:{pk}": pk for pk in followed.iterator(chunk_size=CHUNK)})
    return found


def _low_stock_lines(ids: list[int]) -> tuple[list[str], str]:
    products = Product.objects.filter(pk__in=ids).order_by("stock", "erp_product_id")[:LISTED_IN_BODY]
    lines = [_("%(id)s %(name)s: stock %(stock)s") % {"id": p.erp_product_id, "name": p.name, "stock": p.stock}
             for p in products]
    return lines, (reverse("product_detail", args=[ids[0]]) if len(ids) == 1 else reverse("dashboard"))


def _expiring_lines(ids: list[int]) -> tuple[list[str], str]:
    batches = Batch.objects.filter(pk__in=ids).select_related("product").order_by("expiry_date")[:LISTED_IN_BODY]
    lines = [_("%(product)s batch %(batch)s: %(quantity)s expiring on %(date)s") % {
        "product": b.product.name, "batch": b.batch_no, "quantity": b.quantity, "date": b.expiry_date.isoformat()}
        for b in batches]
    first = batches[0].product_id if batches else None
    path = reverse("product_detail", args=[first]) if len(ids) == 1 and first else reverse("dashboard")
    return lines, path


def _stalled_lines(ids: list[int]) -> tuple[list[str], str]:
    orders = Order.objects.filter(pk__in=ids).order_by("shipped_at")[:LISTED_IN_BODY]
    lines = [_("Order %(no)s, shipped %(date)s") % {
        "no": o.order_no, "date": timezone.localtime(o.shipped_at).strftime("%Y-%m-%d %H:%M")} for o in orders]
    followups = dict(FollowUp.objects.filter(order_id__in=ids, status=FollowUpStatus.OPEN)
                     .values_list("order_id", "pk"))
    if followups:
        # The merchant's work on these is in the follow-up queue.
        one = len(ids) == 1
        return lines, (reverse("followup_detail", args=[followups[ids[0]]]) if one else reverse("followup_list"))
    return lines, (reverse("order_detail", args=[ids[0]]) if len(ids) == 1 else reverse("dashboard"))


def _titles(event: str, count: int) -> str:
    if event == NotificationEvent.LOW_STOCK:
        return ngettext("%(count)d product is at or below the low-stock threshold",
                        "%(count)d products are at or below the low-stock threshold", count) % {"count": count}
    if event == NotificationEvent.BATCH_EXPIRING:
        return ngettext("%(count)d batch entered the expiry window", "%(count)d batches entered the expiry window",
                        count) % {"count": count}
    return ngettext("%(count)d shipment has had no tracking progress for 72 hours",
                    "%(count)d shipments have had no tracking progress for 72 hours", count) % {"count": count}


SCANS = (
    (NotificationEvent.LOW_STOCK, _low_stock, _low_stock_lines),
    (NotificationEvent.BATCH_EXPIRING, _expiring, _expiring_lines),
    (NotificationEvent.LOGISTICS_STALLED, _stalled, _stalled_lines),
)


def _conditions_update(merchant, event: str, current: dict[str, int], now) -> list[str]:
    """Keep the conditions found now, drop those that ended; returns the keys that started, in key order."""
    raised = set(NotificationCondition.objects.filter(merchant=merchant, event=event)
                 .values_list("subject_key", flat=True))
    ended = sorted(raised - current.keys())
    for start in range(0, len(ended), CHUNK):
        NotificationCondition.objects.filter(merchant=merchant, event=event,
                                             subject_key__in=ended[start:start + CHUNK]).delete()
    started = sorted(key for key in current if key not in raised)
    NotificationCondition.objects.bulk_create(
        [NotificationCondition(merchant=merchant, event=event, subject_key=key, since=now) for key in started],
        ignore_conflicts=True, batch_size=CHUNK)
    return started


def _subject(started: list[str]) -> str:
    if len(started) == 1:
        return started[0]
    return "several:" + hashlib.sha1("\n".join(started).encode()).hexdigest()[:20]


def merchant_scan(merchant, *, now=None) -> dict[str, int]:
    """Scan one merchant; returns {event: how many conditions started}."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    started_counts = {}
    for event, find, describe in SCANS:
        with transaction.atomic():
            current = find(merchant, today, now)
            started = _conditions_update(merchant, event, current, now)
            if not started:
                continue
            ids = [current[key] for key in started]
            lines, path = describe(ids)
            if len(ids) > LISTED_IN_BODY:
                lines.append(_("…and %(count)d more.") % {"count": len(ids) - LISTED_IN_BODY})
            notify(merchant=merchant, event=event, subject_key=_subject(started), title=_titles(event, len(ids)),
                   body="\n".join(lines), url=path)
            started_counts[str(event)] = len(ids)
    return started_counts


def notifications_scan(*, now=None) -> dict[str, int]:
    """Scan every active merchant (the periodic job); returns the total of conditions started per event."""
    totals: dict[str, int] = {}
    with translation.override(settings.LANGUAGE_CODE):
        for merchant in Merchant.objects.filter(is_active=True).order_by("pk"):
            for event, count in merchant_scan(merchant, now=now).items():
                totals[event] = totals.get(event, 0) + count
    return totals
