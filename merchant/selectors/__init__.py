"""Reads that span relations, always scoped to one merchant."""
import hashlib
import json
from datetime import timedelta

from django.apps import apps
from django.core.paginator import Paginator
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import OperationalError, connections, transaction
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.functional import cached_property

from merchant.models import (
    AuditEntry, Batch, Customer, ErpCustomerCode, FollowUp, FollowUpStatus, GroupPrice, HeldItem, HeldValue,
    ListingState, ModuleSwitch, Order, OrderStatus, Product, RegionGroupProvince, Shipment, SkuSwitch, SwitchKind,
    TrackingEntry,
)
from merchant.pinyin import pinyin_patterns


def product_text_filter(q: str) -> Q:
    """The products search box: an ERP product id or barcode starting with the text (any letter case), a
    name containing it, or, for Latin letters, the pinyin of a Chinese name: syllables from a syllable's start
    (`ganmao`) or initials (`gml`), see merchant/pinyin.py. Each part has its index on PostgreSQL (migrations
    0003 and 0015)."""
    match = Q(erp_product_id__istartswith=q) | Q(barcode__istartswith=q) | Q(name__icontains=q)
    syllables, initials = pinyin_patterns(q)
    for text in syllables:
        match |= Q(name_pinyin__contains=text)
    if initials:
        match |= Q(name_pinyin__regex=initials)
    return match


def products_search(merchant, *, q="", listing_state="", matched="", zero_stock=False, paused="",
                    order_by=("erp_product_id",)):
    """The merchant's products filtered as on the products list (SPEC M3)."""
    qs = Product.objects.filter(merchant=merchant).defer("name_pinyin")
    q = (q or "").strip()
    if q:
        qs = qs.filter(product_text_filter(q))
    if listing_state in ListingState.values:  # anything else, NUL included, would only fail the query
        qs = qs.filter(listing_state=listing_state)
    if matched == "yes":
        qs = qs.filter(base_product__isnull=False)
    elif matched == "no":
        qs = qs.filter(base_product__isnull=True)
    if zero_stock:
        qs = qs.filter(stock=0)
    if paused in SwitchKind.values:
        qs = qs.filter(Exists(SkuSwitch.objects.filter(product=OuterRef("pk"), kind=paused, enabled=False)))
    return qs.order_by(*order_by)


COUNT_EXACT_UP_TO = 10_000


def estimated_count(queryset, exact_up_to=COUNT_EXACT_UP_TO) -> int:
    """The number of rows of queryset: exact up to exact_up_to, beyond that PostgreSQL's planner estimate.

    count(*) reads every matching index entry: ~80 ms for a million orders on every list page view, which
    alone breaks the pages bar (SPEC N). Past ten thousand rows nobody pages to the end, so an estimate
    (never below the exact lower bound) is shown instead. Other databases always count exactly.
    """
    queryset = queryset.order_by().select_related(None)
    n = queryset[: exact_up_to + 1].count()
    if n <= exact_up_to:
        return n
    return max(planned_count(queryset), n)


def cheap_count(queryset, limit: int, milliseconds: int) -> int | None:
    """The exact number of rows of queryset, up to limit + 1, if PostgreSQL counts them within milliseconds;
    None when that would take longer (a rare row among many). Other databases always count."""
    queryset = queryset.order_by()
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset[: limit + 1].count()
    # A count that did not fit is not tried again for PLAN_SECONDS: it would not fit the next page view either.
    slow_key = "slow:" + _sql_key(queryset)
    if cache.get(slow_key):
        return None
    with transaction.atomic(using=queryset.db):
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = %s", [milliseconds])
        try:
            with transaction.atomic(using=queryset.db):  # a savepoint: the cancelled count is undone alone
                return queryset[: limit + 1].count()
        except OperationalError:
            cache.set(slow_key, True, PLAN_SECONDS)
            return None


def _sql_key(queryset) -> str:
    """A short key naming the query a queryset runs (for remembering what is known about it)."""
    try:
        sql, params = queryset.order_by().values("pk").query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:
        sql, params = "", ()
    return hashlib.sha1(repr((sql, params)).encode()).hexdigest()


PLAN_SECONDS = 30  # how long an estimate, or the verdict that an exact count is too slow, is reused


def planned_counts(querysets: dict) -> dict:
    """planned_count() of several querysets, remembered for PLAN_SECONDS (the same estimate serves every page
    view of those filters meanwhile: an estimate does not move in seconds, and the orders list asks for eight
    of them on each view). Keys of the answer are those of querysets."""
    if not querysets:
        return {}
    first = next(iter(querysets.values()))
    if connections[first.db].vendor != "postgresql":
        return {key: planned_count(qs) for key, qs in querysets.items()}
    keys = {key: "plan:" + _sql_key(qs) for key, qs in querysets.items()}
    known = cache.get_many(list(keys.values()))
    answer, fresh = {}, {}
    for key, qs in querysets.items():
        if keys[key] in known:
            answer[key] = known[keys[key]]
        else:
            answer[key] = fresh[keys[key]] = planned_count(qs)
    if fresh:
        cache.set_many(fresh, PLAN_SECONDS)
    return answer


def planned_count(queryset) -> int:
    """PostgreSQL's planner estimate of the number of rows of queryset, without running it (an exact count on
    other databases)."""
    queryset = queryset.order_by()
    if queryset._fields is None:  # a values() queryset has no related objects to drop
        queryset = queryset.select_related(None)
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    query = queryset.query if queryset._fields is not None else queryset.values("pk").query
    try:
        sql, params = query.get_compiler(using=queryset.db).as_sql()
    except EmptyResultSet:  # a filter that can match nothing (an empty id list): nothing to ask
        return 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator for lists that can hold millions of rows: see estimated_count(). known=(count, is_estimate):
    the caller counted already (the orders list's tabs), so the pager does not count again."""

    def __init__(self, *args, known: tuple[int, bool] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = known

    @cached_property
    def count(self):
        if self.known is not None:
            return self.known[0]
        return estimated_count(self.object_list)

    @property
    def count_is_estimate(self) -> bool:
        """Whether count is the planner's estimate, so the page can say "about"."""
        if self.known is not None:
            return self.known[1]
        return self.count > COUNT_EXACT_UP_TO and connections[self.object_list.db].vendor == "postgresql"


def paused_kinds_by_product(products) -> dict[int, set[str]]:
    """Product id -> the SKU switch kinds that are off, for one page of products (one query)."""
    result: dict[int, set[str]] = {}
    rows = SkuSwitch.objects.filter(product__in=[p.pk for p in products], enabled=False).values_list("product_id", "kind")
    for pid, kind in rows:
        result.setdefault(pid, set()).add(kind)
    return result


def product_detail(merchant, pk):
    return (
        Product.objects.filter(merchant=merchant)
        .select_related("base_product")
        .prefetch_related(
            Prefetch("group_prices", GroupPrice.objects.select_related("region_group", "customer_group")),
            Prefetch("batches", Batch.objects.order_by("expiry_date")),
            "switches",
            "held_values",
        )
        .get(pk=pk)
    )


def audit_for(merchant, entity: str, entity_id: int, limit: int = 100):
    return (
        AuditEntry.objects.filter(merchant=merchant, entity=entity, entity_id=entity_id)
        .select_related("actor").order_by("-at", "-id")[:limit]
    )


def customers_for_merchant(merchant, q=""):
    """Customers this merchant deals with: those who ordered from it or have its ERP code."""
    ordered = Order.objects.filter(merchant=merchant, customer=OuterRef("pk"))
    coded = ErpCustomerCode.objects.filter(merchant=merchant, customer=OuterRef("pk"))
    qs = Customer.objects.filter(Exists(ordered) | Exists(coded)).select_related("customer_group")
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(uscc=q.upper()) | Q(erp_codes__merchant=merchant, erp_codes__code=q))
    return qs.order_by("name", "pk").distinct()


def erp_codes_by_customer(merchant, customers) -> dict[int, str]:
    return dict(
        ErpCustomerCode.objects.filter(merchant=merchant, customer__in=[c.pk for c in customers])
        .values_list("customer_id", "code")
    )


def order_detail(merchant, pk):
    return (
        Order.objects.filter(merchant=merchant)
        .select_related("customer", "carrier", "connection")
        .prefetch_related(
            "items",
            Prefetch("shipments", Shipment.objects.select_related("carrier").prefetch_related("items__order_item")),
            "tracking",
        )
        .get(pk=pk)
    )


def dashboard_stats(merchant) -> dict:
    """Counts, alerts and 30 days of orders and sales for the dashboard (SPEC M2)."""
    now = timezone.now()
    today = timezone.localdate()
    products = Product.objects.filter(merchant=merchant)
    by_state = dict(products.values_list("listing_state").annotate(n=Count("pk")).values_list("listing_state", "n"))
    orders = Order.objects.filter(merchant=merchant)
    by_status = dict(orders.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    open_statuses = [OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTIALLY_SHIPPED]
    start = today - timedelta(days=29)
    daily = {
        row["day"]: row
        for row in orders.filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at")).values("day")
        .annotate(n=Count("pk"), sales=Sum("total_amount", filter=~Q(status=OrderStatus.CANCELLED)))
    }
    days = [start + timedelta(days=i) for i in range(30)]
    stalled_before = now - timedelta(hours=72)
    return {
        "products_by_state": [(s, s.label, by_state.get(s.value, 0)) for s in ListingState],
        "orders_by_status": [(s, s.label, by_status.get(s.value, 0)) for s in OrderStatus],
        "awaiting_shipment": sum(by_status.get(s, 0) for s in open_statuses),
        "not_taken_by_erp": orders.filter(taken_by_erp=False, status__in=open_statuses).count(),
        "daily": [(d, daily.get(d, {}).get("n", 0), daily.get(d, {}).get("sales") or 0) for d in days],
        "low_stock": products.filter(listing_state=ListingState.LISTED, stock__lte=merchant.low_stock_threshold)
        .order_by("stock", "erp_product_id")[:10],
        "expiring_batches": Batch.objects.filter(
            product__merchant=merchant, quantity__gt=0, expiry_date__gt=today,
            expiry_date__lte=today + timedelta(days=90),
        ).select_related("product").order_by("expiry_date")[:10],
        # Stalled logistics (SPEC S10): shipped over 72 h ago and no tracking progress in the last 72 h.
        # Marketplace parcels whose carrier trace sync reads are judged by it: they are in the follow-up queue.
        "stalled_shipments": orders.filter(status=OrderStatus.SHIPPED, shipped_at__lt=stalled_before)
        .exclude(Exists(TrackingEntry.objects.filter(order=OuterRef("pk"), at__gte=stalled_before)))
        .exclude(Exists(apps.get_model("sync", "TraceWatch").objects.filter(order=OuterRef("pk"))))
        .exclude(Exists(FollowUp.objects.filter(order=OuterRef("pk"), status=FollowUpStatus.OPEN)))
        .order_by("shipped_at")[:10],
        "followups_open": FollowUp.objects.filter(merchant=merchant, status=FollowUpStatus.OPEN).count(),
        # The switches page lists held values and held records alike.
        "held_count": HeldValue.objects.filter(merchant=merchant).count()
        + HeldItem.objects.filter(merchant=merchant).count(),
    }


def paused_switches(merchant):
    """Everything whose auto-sync is off, with who paused it and until when (SPEC M11)."""
    modules = ModuleSwitch.objects.filter(merchant=merchant, enabled=False).select_related("changed_by")
    skus = (
        SkuSwitch.objects.filter(product__merchant=merchant, enabled=False)
        .select_related("product", "changed_by").order_by("paused_until", "product__erp_product_id")
    )
    return modules, skus


def held_records(merchant, limit: int = 200):
    """What automatic channels sent while sync was off, waiting to apply (SPEC M11): whole records held under
    a module switch, and stock and price values held under SKU switches; the newest first."""
    from merchant.models import HeldItem

    items = HeldItem.objects.filter(merchant=merchant).order_by("-received_at")[:limit]
    values = (HeldValue.objects.filter(merchant=merchant).select_related("product")
              .order_by("-received_at")[:limit])
    return items, values


def price_for_customer(product, customer):
    """The price a customer pays (SPEC M5): customer-group price, else region-group price, else default."""
    prices = list(product.group_prices.all())
    if customer is not None and customer.customer_group_id:
        for gp in prices:
            if gp.customer_group_id == customer.customer_group_id:
                return gp.price
    if customer is not None and customer.province:
        region_ids = set(
            RegionGroupProvince.objects.filter(province=customer.province).values_list("region_group_id", flat=True)
        )
        for gp in prices:
            if gp.region_group_id in region_ids:
                return gp.price
    return product.default_price


# Notifications (SPEC M15)

# The bell shows at most this many ("99+" beyond): counting stops there, whatever the backlog.
UNREAD_SHOWN_MAX = 99


def _unread_for(user):
    from django.db.models import Subquery, Value
    from django.db.models.functions import Coalesce

    from merchant.models import NotificationCursor, NotificationRead

    read_through = NotificationCursor.objects.filter(user_id=user.pk).values("read_through")[:1]
    return Q(pk__gt=Coalesce(Subquery(read_through), Value(0))) & ~Q(
        Exists(NotificationRead.objects.filter(user_id=user.pk, notification_id=OuterRef("pk"))))


def notifications_unread_count(user, merchant_id: int) -> int:
    """How many of the merchant's notifications `user` has not read, up to UNREAD_SHOWN_MAX + 1: one query on
    notification_recent_idx, the user's cursor and reads looked up by key."""
    from merchant.models import Notification

    return (Notification.objects.filter(_unread_for(user), merchant_id=merchant_id).order_by()
            .values("pk")[:UNREAD_SHOWN_MAX + 1].count())


def notifications_for(merchant, user):
    """The merchant's notifications, newest first, each with `unread` for `user`."""
    from django.db.models import Case, When
    from django.db.models import BooleanField as _Bool

    from merchant.models import Notification

    return (Notification.objects.filter(merchant=merchant)
            .annotate(unread=Case(When(_unread_for(user), then=True), default=False, output_field=_Bool()))
            .order_by("-id"))
