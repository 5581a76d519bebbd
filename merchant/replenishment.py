"""Purchase suggestions (采购建议单): per product, how many units to order from the supplier now.

    suggested = forecast over (lead time + review period)
              + safety stock (safety days x forecast per day)
              - available stock - quantity on order
    rounded up to whole units, never below 0, and for a batch-managed product never more than can be sold
    before it would reach the merchant's expiry cutoff (see expiry_cap).

Safety stock is counted in days of forecast sales, not in units: one merchant-wide number then fits fast and
slow movers alike. Lead time, review period and safety days are the merchant's (Merchant.replenish_*) unless
the product has its own (ProductReplenishment, null = the merchant's). "On order" is the quantity the
merchant has ordered from the supplier and not yet received, typed per product on the suggestions page; no
other part of the system knows about purchase orders.

Available stock is the stock that can still be sold: the stock in force (for a batch-managed product its
on-sale batches outside the expiry exclusion window) less the quantity of orders the ERP has not taken yet
(they are not out of the ERP's stock figure yet), as merchant/sellable.py counts them; the marketplaces' safety
stock is not subtracted (it is still the merchant's stock).

Demand history (what merchant/forecast.py is given), per product and day in the merchant's time zone, over
the last 8 weeks up to yesterday: units of order lines by the day the order was paid (created when unpaid),
leaving out cancelled orders, fully refunded orders and refunded lines. A day is unknown (None), not zero:
- before the product existed (its creation here; but one that sold before that was imported after its
  orders were synced, and existed all along), or before the merchant's first order at all (orders not
  synced yet);
- when the product sold nothing that day and its stock was 0 at some moment of it. The stock over time is
  rebuilt from the audit trail's stock entries (every stock change is audited, M7): the first entry's old
  value, then each new value. With no entry in the window the stock was what it is now; for a product at 0
  now that means out of stock since some day after its last sale (it had stock to sell then), so the days
  after its last sale are unknown. A stock-out day on which something sold counts what sold (a lower
  bound, the best that is known).

Reads are done for a whole list of products at once: one query each for sales, stock history, batches,
held orders and plans, whatever their number.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from merchant.forecast import MAX_HISTORY_DAYS, Forecast, forecast_demand
from merchant.models import (
    AuditEntry, Batch, Order, OrderItem, OrderStatus, Product, ProductReplenishment, RefundStatus,
)
from merchant.selectors import product_text_filter
from merchant.sellable import HOLDING_STATUSES  # orders holding stock the ERP has not subtracted yet

TREND_WORTH_SAYING = 0.01  # a trend of 1 % of the level per day or more is named in the reason
WEEKDAY_WORTH_SAYING = 1.15


@dataclass(frozen=True)
class Plan:
    """The purchase parameters in force for one product, and which of them are the product's own."""

    lead_days: int
    review_days: int
    safety_days: int
    on_order: int
    own: frozenset = frozenset()


@dataclass(frozen=True)
class Quantity:
    """suggest_quantity's answer: the units to order and the figures behind them."""

    suggested: int
    need: float  # forecast over lead + review days
    safety: float
    uncapped: int
    cap: int | None  # the expiry cap, when one applies


@dataclass
class Suggestion:
    product: Product
    available: int
    on_order: int
    forecast_daily: Decimal
    suggested_qty: int
    reason: str
    plan: Plan
    forecast: Forecast
    quantity: Quantity


def plan_for(merchant, row: ProductReplenishment | None) -> Plan:
    """The merchant's lead time, review period and safety days, overridden by the product's where set."""
    own = set()
    values = {}
    for name in ("lead_days", "review_days", "safety_days"):
        value = getattr(row, name, None) if row is not None else None
        if value is None:
            value = getattr(merchant, f"replenish_{name}")
        else:
            own.add(name)
        values[name] = value
    return Plan(**values, on_order=row.on_order if row is not None else 0, own=frozenset(own))


def expiry_cap(*, per_day: float, shelf_days: int | None, exclusion_days: int, lead_days: int, available: int,
               on_order: int) -> int | None:
    """The most units of a batch-managed product worth ordering: what sells between the goods' arrival and
    their expiry cutoff, after the stock already there (first expiry, first out) is gone.

    The goods not yet bought have no expiry date; the newest batch's shelf life (expiry - production) is the
    best guess of what the supplier delivers. They arrive after the lead time, at the earliest produced on the
    day of ordering, and stop being offered `exclusion_days` before their expiry (the merchant's rule). So they
    can sell for shelf - lead - exclusion days, minus the days the stock left on arrival still covers.
    None when no shelf life is known (no batch, or not batch-managed).
    """
    if shelf_days is None:
        return None
    window = shelf_days - lead_days - exclusion_days
    if window <= 0:
        return 0
    left_on_arrival = max(0.0, available + on_order - per_day * lead_days)
    return max(0, math.floor(per_day * window - left_on_arrival))


def suggest_quantity(*, forecast: Forecast, plan: Plan, available: int, cap_args: dict | None = None) -> Quantity:
    """The purchase quantity for one product (see the module docstring). cap_args: expiry_cap's shelf_days and
    exclusion_days for a batch-managed product."""
    need = forecast.total(plan.lead_days + plan.review_days)
    safety = forecast.per_day * plan.safety_days
    uncapped = max(0, math.ceil(round(need + safety - available - plan.on_order, 6)))
    cap = None
    if cap_args:
        cap = expiry_cap(per_day=forecast.per_day, lead_days=plan.lead_days, available=available,
                         on_order=plan.on_order, **cap_args)
    return Quantity(suggested=uncapped if cap is None else min(uncapped, cap), need=need, safety=safety,
                    uncapped=uncapped, cap=cap)


# Up to this many products the reads name them (IN); beyond, they read the merchant's rows and the caller keeps
# those it asked for: a whole catalog in one IN list is slower, and past SQLite's variable limit it fails.
IN_LIST_MAX = 500


def _among(field: str, ids) -> Q:
    ids = list(ids)
    return Q(**{f"{field}__in": ids}) if len(ids) <= IN_LIST_MAX else Q()


def _history_days(today: date) -> tuple[date, int]:
    first = today - timedelta(days=MAX_HISTORY_DAYS)
    return first, MAX_HISTORY_DAYS


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _daily_sales(merchant, product_ids, first: date, today: date) -> dict[int, dict[date, int]]:
    tz = timezone.get_current_timezone()
    moment = Coalesce("order__paid_at", "order__created_at")
    rows = (
        OrderItem.objects.filter(_among("product_id", product_ids), order__merchant=merchant)
        .exclude(order__status=OrderStatus.CANCELLED)
        .exclude(order__refund_status=RefundStatus.REFUNDED)
        .exclude(refund_status=RefundStatus.REFUNDED)
        .annotate(moment=moment)
        .filter(moment__gte=_local_start(first), moment__lt=_local_start(today))
        .annotate(day=TruncDate(moment, tzinfo=tz))
        .values("product_id", "day").annotate(units=Sum("quantity")).order_by()
        .values_list("product_id", "day", "units")
    )
    sales: dict[int, dict[date, int]] = defaultdict(dict)
    for product_id, day, units in rows:
        sales[product_id][day] = units
    return sales


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _stock_out_days(products, merchant, first: date, today: date) -> dict[int, set[date] | None]:
    """Per product, the days (first .. yesterday) on which its stock was 0 at some moment, from the audit
    trail's stock entries; None for a product at 0 now with no stock change in the window (out of stock
    since a day the trail does not say)."""
    tz = timezone.get_current_timezone()
    entries = defaultdict(list)
    for entity_id, at, old, new in (
        AuditEntry.objects.filter(_among("entity_id", [p.pk for p in products]), merchant=merchant,
                                  entity="product", field="stock", at__gte=_local_start(first))
        .order_by("entity_id", "at", "id").values_list("entity_id", "at", "old_value", "new_value")
    ):
        entries[entity_id].append((timezone.localtime(at, tz).date(), _as_int(old), _as_int(new)))
    out: dict[int, set[date]] = {}
    for p in products:
        changes = entries.get(p.pk, [])
        if not changes:
            out[p.pk] = set() if p.stock else None  # None: at 0 since some unknown day (the caller decides)
            continue
        level = changes[0][1]
        if level is None:
            level = p.stock
        days = set()
        k = 0
        day = first
        while day < today:
            zero = level == 0
            while k < len(changes) and changes[k][0] <= day:
                if changes[k][0] == day and changes[k][2] == 0:
                    zero = True
                if changes[k][2] is not None:
                    level = changes[k][2]
                k += 1
            if zero:
                days.add(day)
            day += timedelta(days=1)
        out[p.pk] = days
    return out


def available_stock(products, merchant, today: date) -> dict[int, int]:
    """{product id: stock that can still be sold}: see the module docstring."""
    batch_managed = [p.pk for p in products if p.batch_managed]
    in_force = {p.pk: p.stock for p in products if not p.batch_managed}
    if batch_managed:
        last_excluded = today + timedelta(days=merchant.expiry_exclusion_days)
        totals = dict(
            Batch.objects.filter(_among("product_id", batch_managed), product__merchant=merchant, quantity__gt=0,
                                 expiry_date__gt=last_excluded, product__batch_managed=True)
            .values_list("product_id").annotate(total=Sum("quantity")).values_list("product_id", "total")
        )
        in_force.update({pk: totals.get(pk, 0) for pk in batch_managed})
    held = dict(
        OrderItem.objects.filter(
            _among("product_id", list(in_force)), order__merchant_id=merchant.pk, order__taken_by_erp=False,
            order__status__in=HOLDING_STATUSES,
        ).exclude(refund_status=RefundStatus.REFUNDED)
        .values_list("product_id").annotate(total=Sum("quantity")).values_list("product_id", "total")
    )
    return {pk: max(0, stock - held.get(pk, 0)) for pk, stock in in_force.items()}


def _shelf_days(products, merchant) -> dict[int, int]:
    """Per batch-managed product with batches: the shelf life (days) of its newest batch."""
    ids = [p.pk for p in products if p.batch_managed]
    newest = {}
    for product_id, production, expiry in (
        Batch.objects.filter(_among("product_id", ids), product__merchant=merchant, product__batch_managed=True)
        .order_by("product_id", "-production_date", "-id")
        .values_list("product_id", "production_date", "expiry_date")
    ):
        newest.setdefault(product_id, (expiry - production).days)
    return newest


def replenishment_suggestions(merchant, products=None, *, today: date | None = None) -> list[Suggestion]:
    """One Suggestion per product of `products` (default: all the merchant's), in the order given.

    Products of another merchant are ignored.
    """
    today = today or timezone.localdate()
    if products is None:
        products = Product.objects.filter(merchant=merchant).defer("name_pinyin").order_by("erp_product_id")
    products = [p for p in products if p.merchant_id == merchant.pk]
    if not products:
        return []
    ids = [p.pk for p in products]
    first, length = _history_days(today)
    sales = _daily_sales(merchant, ids, first, today)
    outs = _stock_out_days(products, merchant, first, today)
    available = available_stock(products, merchant, today)
    shelf = _shelf_days(products, merchant)
    rows = {r.product_id: r for r in ProductReplenishment.objects.filter(_among("product_id", ids), merchant=merchant)}
    first_order = Order.objects.filter(merchant=merchant).aggregate(first=Min("created_at"))["first"]
    synced_from = timezone.localtime(first_order).date() if first_order else today

    result = []
    for p in products:
        by_day, out = sales.get(p.pk, {}), outs[p.pk]
        if out is None:
            # At 0 with no recorded change: it had stock on its last day with a sale, so it ran out after that.
            last_sale = max(by_day, default=first - timedelta(days=1))
            out = {first + timedelta(days=i) for i in range(length) if first + timedelta(days=i) > last_sale}
        # A product that sold before it was created here was imported after its orders were synced: it
        # existed all along.
        created = timezone.localtime(p.created_at).date()
        existed_from = first if by_day and min(by_day) < created else created
        known_from = max(first, synced_from, existed_from)
        history, stock_outs = [], 0
        for i in range(length):
            day = first + timedelta(days=i)
            units = by_day.get(day, 0)
            if day < known_from:
                history.append(None)
            elif units == 0 and day in out:
                history.append(None)
                stock_outs += 1
            else:
                history.append(units)
        plan = plan_for(merchant, rows.get(p.pk))
        horizon = max(7, plan.lead_days + plan.review_days)
        # Most of a large catalog sold nothing in 8 weeks: nothing to smooth.
        forecast = forecast_demand(history if by_day else [], first, horizon)
        cap_args = None
        if p.batch_managed and p.pk in shelf:
            cap_args = {"shelf_days": shelf[p.pk], "exclusion_days": merchant.expiry_exclusion_days}
        quantity = suggest_quantity(forecast=forecast, plan=plan, available=available[p.pk], cap_args=cap_args)
        result.append(Suggestion(
            product=p, available=available[p.pk], on_order=plan.on_order,
            forecast_daily=Decimal(str(forecast.per_day)).quantize(Decimal("0.01"), ROUND_HALF_UP),
            suggested_qty=quantity.suggested, plan=plan, forecast=forecast, quantity=quantity,
            reason=reason_text(forecast, plan, available[p.pk], quantity, cap_args, history, stock_outs),
        ))
    return result


def _weekday_names():
    return [_("Mondays"), _("Tuesdays"), _("Wednesdays"), _("Thursdays"), _("Fridays"), _("Saturdays"),
            _("Sundays")]


def _n(value: float) -> str:
    """A quantity for the reason text: whole units when whole, else one decimal."""
    rounded = round(value, 1)
    return f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.1f}"


def reason_text(forecast: Forecast, plan: Plan, available: int, quantity: Quantity, cap_args, history,
                stock_outs: int) -> str:
    """Why this quantity, in the merchant's words (the active language): the forecast's basis, then the sum."""
    parts = []
    recent = [v for v in history[-7:] if v is not None]
    if forecast.observed_days == 0:
        parts.append(_("No sales known in the last 8 weeks."))
    elif forecast.simple:
        parts.append(ngettext("Only %(days)s day of sales known: %(avg)s a day.",
                              "Only %(days)s days of sales known: their average, %(avg)s a day.",
                              forecast.observed_days) % {"days": forecast.observed_days, "avg": _n(forecast.per_day)})
    else:
        parts.append(_("Forecast from %(days)s days of sales (%(units)s sold in the last 7 days).") % {
            "days": forecast.observed_days, "units": _n(sum(recent))})
        if stock_outs:
            parts.append(ngettext("%(days)s day out of stock left out.", "%(days)s days out of stock left out.",
                                  stock_outs) % {"days": stock_outs})
        if forecast.clipped_days:
            parts.append(ngettext("%(days)s promotion day counted at a normal level.",
                                  "%(days)s promotion days counted at a normal level.",
                                  forecast.clipped_days) % {"days": forecast.clipped_days})
        if forecast.level > 0 and abs(forecast.trend) / forecast.level >= TREND_WORTH_SAYING:
            parts.append(_("Sales rising.") if forecast.trend > 0 else _("Sales falling."))
        busiest = max(range(7), key=lambda w: forecast.weekday_factors[w])
        if forecast.weekday_factors[busiest] >= WEEKDAY_WORTH_SAYING:
            parts.append(_("Busiest on %(day)s.") % {"day": _weekday_names()[busiest]})
    if forecast.per_day > 0 or plan.on_order:
        parts.append(_("Needed for %(days)s days %(need)s + safety stock for %(safety_days)s days %(safety)s − "
                       "available %(available)s − on order %(on_order)s = %(result)s.") % {
            "days": plan.lead_days + plan.review_days, "need": _n(quantity.need),
            "safety_days": plan.safety_days, "safety": _n(quantity.safety), "available": available,
            "on_order": plan.on_order, "result": _n(quantity.need + quantity.safety - available - plan.on_order)})
    if quantity.cap is not None and quantity.cap < quantity.uncapped:
        parts.append(_("Limited to %(cap)s: more would reach the expiry cutoff unsold (shelf life %(shelf)s days, "
                       "offered until %(exclusion)s days before expiry).") % {
            "cap": quantity.cap, "shelf": cap_args["shelf_days"], "exclusion": cap_args["exclusion_days"]})
    elif quantity.suggested == 0 and (forecast.per_day > 0 or plan.on_order):
        parts.append(_("Enough stock: nothing to order."))
    if plan.own:
        parts.append(_("This product's own purchase settings apply."))
    return " ".join(parts)


SORTS = {
    "erp": lambda s: s.product.erp_product_id,
    "name": lambda s: s.product.name,
    "available": lambda s: s.available,
    "on_order": lambda s: s.on_order,
    "forecast": lambda s: s.forecast_daily,
    "suggested": lambda s: s.suggested_qty,
    "reason": lambda s: s.reason,
}
DEFAULT_SORT = "-suggested"


def suggestion_list(merchant, *, q: str = "", only_positive: bool = False, sort: str = DEFAULT_SORT,
                    today: date | None = None) -> list[Suggestion]:
    """The suggestions page's rows: the merchant's products matching the search text (as the products list
    searches), optionally only those with something to order, sorted by a SORTS key ("-" first for
    descending; unknown keys sort by the default), ties by ERP product id."""
    products = Product.objects.filter(merchant=merchant).defer("name_pinyin").order_by("erp_product_id")
    q = (q or "").strip()
    if q:
        products = products.filter(product_text_filter(q))
    rows = replenishment_suggestions(merchant, products, today=today)
    if only_positive:
        rows = [s for s in rows if s.suggested_qty > 0]
    key = sort.removeprefix("-")
    if key not in SORTS:
        key, sort = DEFAULT_SORT.removeprefix("-"), DEFAULT_SORT
    rows.sort(key=SORTS[key], reverse=sort.startswith("-"))  # stable: ties stay in ERP product id order
    return rows
