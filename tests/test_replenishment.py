"""Purchase suggestions: the forecast's rules (pure), the quantity's rules on real rows, the settings services,
the command's contract, the page per role and merchant isolation."""
import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from merchant.forecast import forecast_demand
from merchant.models import AuditEntry, OrderStatus, Product, RefundStatus
from merchant.replenishment import (
    Plan, expiry_cap, replenishment_suggestions, suggest_quantity, suggestion_list,
)
from merchant.services.replenishment import replenishment_defaults_set, replenishment_product_set
from merchant.services.stock import stock_set
from tests.factories import BatchFactory, OrderFactory, ProductFactory

MONDAY = date(2026, 1, 5)


# --- the forecast (merchant/forecast.py) --------------------------------------------------------------------------

def test_weekday_seasonality_forecasts_busy_weekdays_above_the_weekend():
    history = [20 if (MONDAY + timedelta(days=i)).weekday() < 5 else 5 for i in range(56)]
    f = forecast_demand(history, MONDAY, 7)  # the forecast starts on a Monday again
    monday, saturday = f.daily[0], f.daily[5]
    assert monday > 15 and saturday < 9
    assert f.total(7) == pytest.approx(sum(history[-7:]), rel=0.1)
    flat = forecast_demand([15] * 56, MONDAY, 7)
    assert flat.daily[0] == pytest.approx(flat.daily[5])


def test_weekday_factors_stay_near_flat_with_only_one_week_of_history():
    history = [20, 20, 20, 20, 20, 5, 5]
    f = forecast_demand(history, MONDAY, 7)
    assert f.daily[0] / f.daily[5] < 2  # one "plain" prior day per weekday halves a single observation


def test_stock_out_days_are_not_read_as_zero_demand():
    sold = [10] * 50
    with_gap = forecast_demand(sold + [None] * 6, MONDAY, 7)
    as_zeros = forecast_demand(sold + [0] * 6, MONDAY, 7)
    assert with_gap.per_day == pytest.approx(10, abs=0.5)
    assert with_gap.missing_days == 6
    assert as_zeros.per_day < 6  # what the naive reading would have said


def test_a_rising_trend_is_followed():
    history = [10 + i * 0.5 for i in range(56)]  # ends at 37.5 a day
    f = forecast_demand(history, MONDAY, 7)
    assert f.trend > 0
    assert f.per_day > 35


def test_promotion_days_do_not_inflate_the_forecast():
    history = [10] * 56
    history[-3:] = [80, 90, 85]
    f = forecast_demand(history, MONDAY, 7)
    assert f.clipped_days == 3
    assert f.per_day < 20


def test_too_little_history_uses_the_plain_average_and_none_forecasts_zero():
    short = forecast_demand([None] * 50 + [4, 6, 5], MONDAY, 7)
    assert short.simple and short.per_day == pytest.approx(5)
    assert forecast_demand([None] * 56, MONDAY, 7).per_day == 0


# --- the quantity (merchant/replenishment.py), pure ---------------------------------------------------------------

def _flat(per_day: float):
    return forecast_demand([per_day] * 56, MONDAY, 60)


def test_quantity_is_forecast_over_lead_and_review_plus_safety_minus_available_and_on_order():
    q = suggest_quantity(forecast=_flat(10), plan=Plan(7, 7, 3, on_order=25), available=40)
    assert q.suggested == 10 * 14 + 10 * 3 - 40 - 25


def test_on_order_is_subtracted():
    without = suggest_quantity(forecast=_flat(10), plan=Plan(7, 7, 0, on_order=0), available=0).suggested
    with_order = suggest_quantity(forecast=_flat(10), plan=Plan(7, 7, 0, on_order=60), available=0).suggested
    assert without - with_order == 60


def test_quantity_is_floored_at_zero_when_stock_covers_the_period():
    assert suggest_quantity(forecast=_flat(10), plan=Plan(7, 7, 3, on_order=500), available=900).suggested == 0


def test_expiry_cap_limits_what_can_be_sold_before_the_cutoff():
    # Shelf life 60 days, lead time 7, offered until 30 days before expiry: 23 selling days after arrival.
    assert expiry_cap(per_day=10, shelf_days=60, exclusion_days=30, lead_days=7, available=0, on_order=0) == 230
    # Stock still there on arrival sells first and takes part of those days.
    assert expiry_cap(per_day=10, shelf_days=60, exclusion_days=30, lead_days=7, available=100, on_order=0) == 200
    assert expiry_cap(per_day=10, shelf_days=30, exclusion_days=30, lead_days=7, available=0, on_order=0) == 0
    capped = suggest_quantity(forecast=_flat(10), plan=Plan(7, 30, 3, on_order=0), available=0,
                              cap_args={"shelf_days": 60, "exclusion_days": 30})
    assert capped.uncapped == 10 * 37 + 30 and capped.suggested == 230


# --- on real rows --------------------------------------------------------------------------------------------------

def _sell(product, per_day, days, *, today=None, status=OrderStatus.COMPLETED, skip=()):
    """Orders of `per_day` units of product on each of the `days` days before today (local noon)."""
    today = today or timezone.localdate()
    for back in range(1, days + 1):
        if back in skip:
            continue
        day = today - timedelta(days=back)
        moment = timezone.make_aware(datetime.combine(day, time(12)))
        units = per_day(day) if callable(per_day) else per_day
        if units:
            OrderFactory(merchant=product.merchant, created_at=moment, paid_at=moment, status=status,
                         items=[{"product": product, "quantity": units}])


def _backdate(product, days=80):
    Product.objects.filter(pk=product.pk).update(created_at=timezone.now() - timedelta(days=days))
    product.refresh_from_db()


@pytest.fixture
def selling(merchant_a):
    """A product of merchant A that sold 10 a day for 8 weeks, with 20 in stock."""
    p = ProductFactory(merchant=merchant_a, erp_product_id="P-SELL", name="Selling", stock=20)
    _backdate(p)
    _sell(p, 10, 56)
    return p


def test_suggestion_on_rows_uses_the_merchant_defaults(selling):
    s, = replenishment_suggestions(selling.merchant, [selling])
    assert s.forecast_daily == Decimal("10.00")
    assert s.available == 20
    assert s.suggested_qty == 10 * (7 + 7) + 10 * 3 - 20


def test_product_override_beats_the_merchant_default(selling, operator_actor, english):
    replenishment_product_set(product=selling, lead_days=2, review_days=None, safety_days=0, on_order=0,
                              actor=operator_actor)
    s, = replenishment_suggestions(selling.merchant, [selling])
    assert (s.plan.lead_days, s.plan.review_days, s.plan.safety_days) == (2, 7, 0)
    assert s.suggested_qty == 10 * 9 - 20
    assert "own purchase settings" in s.reason


def test_on_order_entered_for_a_product_is_subtracted(selling, operator_actor):
    before, = replenishment_suggestions(selling.merchant, [selling])
    replenishment_product_set(product=selling, lead_days=None, review_days=None, safety_days=None, on_order=50,
                              actor=operator_actor)
    after, = replenishment_suggestions(selling.merchant, [selling])
    assert (after.on_order, before.suggested_qty - after.suggested_qty) == (50, 50)


def test_cancelled_orders_and_refunded_lines_are_not_demand(merchant_a):
    p = ProductFactory(merchant=merchant_a, stock=0)
    _backdate(p)
    _sell(p, 10, 56)
    _sell(p, 30, 56, status=OrderStatus.CANCELLED)
    today = timezone.localdate()
    moment = timezone.make_aware(datetime.combine(today - timedelta(days=3), time(15)))
    OrderFactory(merchant=merchant_a, created_at=moment, paid_at=moment, status=OrderStatus.COMPLETED,
                 items=[{"product": p, "quantity": 500, "refund_status": RefundStatus.REFUNDED}])
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.forecast_daily == Decimal("10.00")


def test_days_out_of_stock_in_the_audit_trail_are_left_out_not_zero(merchant_a, owner_actor, english):
    p = ProductFactory(merchant=merchant_a, stock=30)
    _backdate(p)
    _sell(p, 10, 56, skip=range(1, 9))  # nothing sold in the last 8 days ...
    stock_set(product=p, quantity=0, actor=owner_actor)  # ... because it ran out 8 days ago
    AuditEntry.objects.filter(entity="product", entity_id=p.pk, field="stock").update(
        at=timezone.now() - timedelta(days=8, hours=12))
    out, = replenishment_suggestions(merchant_a, [p])
    assert out.forecast.missing_days >= 8
    assert out.forecast_daily >= Decimal("9.50")
    assert "days out of stock left out" in out.reason

    q = ProductFactory(merchant=merchant_a, stock=30)  # the same sales with stock all along: demand did drop
    _backdate(q)
    _sell(q, 10, 56, skip=range(1, 9))
    kept, = replenishment_suggestions(merchant_a, [q])
    assert kept.forecast_daily < Decimal("7")


def test_zero_sales_while_stock_was_zero_with_no_audit_history_are_missing(merchant_a):
    p = ProductFactory(merchant=merchant_a, stock=0)  # no stock change recorded: 0 all along
    _backdate(p)
    _sell(p, 10, 56, skip=range(1, 9))
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.forecast_daily >= Decimal("9.50")


def test_orders_before_the_product_was_created_here_still_count(merchant_a):
    p = ProductFactory(merchant=merchant_a, stock=5)  # created today, sold for weeks (imported late)
    _sell(p, lambda day: 20 if day.day % 2 else 0, 56)  # every other day
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.forecast.missing_days <= 1  # only a day before the first order; days without sales count as 0
    assert Decimal("8") <= s.forecast_daily <= Decimal("12")


def test_days_before_a_new_product_was_created_are_not_zero_demand(merchant_a):
    old = ProductFactory(merchant=merchant_a)
    _backdate(old)
    _sell(old, 1, 56)  # the merchant's orders go back 8 weeks
    p = ProductFactory(merchant=merchant_a, stock=5)
    _backdate(p, days=14)
    _sell(p, 10, 13)
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.forecast.observed_days == 14 and s.forecast.missing_days == 42
    assert s.forecast_daily >= Decimal("9")


def test_expiry_cap_applies_to_batch_managed_products_with_the_merchant_rule(merchant_a):
    merchant_a.expiry_exclusion_days = 30
    merchant_a.replenish_review_days = 30
    merchant_a.save()
    p = ProductFactory(merchant=merchant_a, batch_managed=True, stock=0)
    _backdate(p)
    today = timezone.localdate()
    BatchFactory(product=p, quantity=0, production_date=today - timedelta(days=10),
                 expiry_date=today + timedelta(days=50))  # shelf life 60 days
    _sell(p, 10, 56)
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.quantity.uncapped == 10 * 37 + 30
    assert s.suggested_qty == 10 * (60 - 7 - 30)
    assert "230" in s.reason


def test_orders_not_taken_by_the_erp_reduce_available_stock(merchant_a):
    p = ProductFactory(merchant=merchant_a, stock=20)
    OrderFactory(merchant=merchant_a, status=OrderStatus.AWAITING_SHIPMENT, taken_by_erp=False,
                 items=[{"product": p, "quantity": 5}])
    s, = replenishment_suggestions(merchant_a, [p])
    assert s.available == 15


# --- settings services ---------------------------------------------------------------------------------------------

def test_merchant_defaults_are_owner_only_validated_and_audited(merchant_a, owner_actor, operator_actor):
    with pytest.raises(PermissionDenied):
        replenishment_defaults_set(merchant=merchant_a, lead_days=3, review_days=3, safety_days=1,
                                   actor=operator_actor)
    with pytest.raises(ValidationError):
        replenishment_defaults_set(merchant=merchant_a, lead_days=0, review_days=0, safety_days=1,
                                   actor=owner_actor)
    replenishment_defaults_set(merchant=merchant_a, lead_days=3, review_days=14, safety_days=2, actor=owner_actor)
    merchant_a.refresh_from_db()
    assert (merchant_a.replenish_lead_days, merchant_a.replenish_review_days) == (3, 14)
    fields = set(AuditEntry.objects.filter(entity="merchant", entity_id=merchant_a.pk).values_list("field", flat=True))
    assert fields == {"replenish_lead_days", "replenish_review_days", "replenish_safety_days"}


def test_product_settings_need_edit_rights_and_are_audited(product, viewer_actor, operator_actor):
    with pytest.raises(PermissionDenied):
        replenishment_product_set(product=product, lead_days=None, review_days=None, safety_days=None,
                                  on_order=5, actor=viewer_actor)
    replenishment_product_set(product=product, lead_days=4, review_days=None, safety_days=None, on_order=5,
                              actor=operator_actor)
    entries = AuditEntry.objects.filter(entity="replenishment", entity_id=product.pk)
    assert {(e.field, e.old_value, e.new_value) for e in entries} == {("lead_days", "", "4"), ("on_order", "0", "5")}


# --- the command ----------------------------------------------------------------------------------------------------

CONTRACT = ["erp_product_id", "name", "available", "on_order", "forecast_daily", "suggested_qty", "reason"]


def test_command_writes_the_csv_contract_for_only_that_merchant(selling, merchant_b, tmp_path):
    ProductFactory(merchant=merchant_b, erp_product_id="B-ONLY")
    out, stdout = tmp_path / "s.csv", io.StringIO()
    call_command("replenishment", "merchant-a", out=str(out), stdout=stdout)
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert set(CONTRACT) <= set(rows[0])
    assert [r["erp_product_id"] for r in rows] == ["P-SELL"]
    assert rows[0]["suggested_qty"] == "150" and rows[0]["forecast_daily"] == "10.00"
    assert rows[0]["reason"].startswith("Forecast from")  # English on the terminal
    assert "Wrote 1 products (1 to order" in stdout.getvalue()


def test_command_writes_xlsx_with_the_same_columns(selling, tmp_path):
    out = tmp_path / "s.xlsx"
    call_command("replenishment", "merchant-a", out=str(out), stdout=io.StringIO())
    sheet = openpyxl.load_workbook(out, read_only=True).active
    header, first = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
    assert set(CONTRACT) <= set(header)
    assert dict(zip(header, first))["suggested_qty"] == 150


@pytest.mark.parametrize("code, out, message", [
    ("nobody", "s.csv", "No merchant with code 'nobody'"),
    ("merchant-a", "s.txt", "must end in .xlsx or .csv"),
])
def test_command_refuses_an_unknown_merchant_or_extension_and_writes_nothing(merchant_a, tmp_path, code, out,
                                                                            message):
    with pytest.raises(CommandError, match=message):
        call_command("replenishment", code, out=str(tmp_path / out), stdout=io.StringIO())
    assert list(tmp_path.iterdir()) == []


# --- the page ------------------------------------------------------------------------------------------------------

URL = reverse("replenishment_list")


@pytest.mark.parametrize("who", ["client_owner", "client_operator", "client_viewer"])
def test_every_role_sees_the_suggestions(request, selling, who):
    response = request.getfixturevalue(who).get(URL)
    assert response.status_code == 200
    assert [s.product.erp_product_id for s in response.context["page"].object_list] == ["P-SELL"]
    assert reverse("replenishment_export").encode() in response.content


def test_viewer_reads_but_cannot_change_product_settings(client_viewer, selling):
    page = client_viewer.get(reverse("replenishment_edit", args=[selling.pk]))
    assert page.status_code == 200 and b'name="on_order"' not in page.content
    post = client_viewer.post(reverse("replenishment_edit", args=[selling.pk]), {"on_order": 5})
    assert post.status_code == 403


def test_operator_sets_on_order_on_the_suggestions_page(client_operator, selling):
    response = client_operator.post(reverse("replenishment_edit", args=[selling.pk]),
                                    {"on_order": 40, "lead_days": "", "review_days": "", "safety_days": "",
                                     "next": "/replenishment/?sort=name"})
    assert response.status_code == 302 and response["Location"] == "/replenishment/?sort=name"
    assert selling.replenishment.on_order == 40
    assert client_operator.get(URL).context["page"].object_list[0].suggested_qty == 150 - 40


def test_only_the_owner_edits_the_merchant_defaults(client_owner, client_operator, merchant_a):
    settings_url = reverse("replenishment_settings")
    assert client_operator.get(settings_url).status_code == 403
    response = client_owner.post(settings_url, {"lead_days": 5, "review_days": 10, "safety_days": 2})
    assert response.status_code == 302
    merchant_a.refresh_from_db()
    assert merchant_a.replenish_review_days == 10


def test_page_filters_by_text_and_by_something_to_order_and_sorts_each_column(client_owner, selling, merchant_a):
    idle = ProductFactory(merchant=merchant_a, erp_product_id="P-IDLE", name="Idle", stock=5)
    names = lambda r: [s.product.erp_product_id for s in r.context["page"].object_list]
    assert names(client_owner.get(URL)) == ["P-SELL", "P-IDLE"]  # most to order first
    assert names(client_owner.get(URL, {"only": "1"})) == ["P-SELL"]
    assert names(client_owner.get(URL, {"q": "idle"})) == ["P-IDLE"]
    assert names(client_owner.get(URL, {"sort": "available"})) == ["P-IDLE", "P-SELL"]
    assert names(client_owner.get(URL, {"sort": "-available"})) == ["P-SELL", "P-IDLE"]
    for key in ("erp", "name", "on_order", "forecast", "suggested", "reason", "bogus"):
        assert client_owner.get(URL, {"sort": key}).status_code == 200
    assert idle.pk


def test_page_is_paginated(client_owner, merchant_a):
    for n in range(55):
        ProductFactory(merchant=merchant_a, erp_product_id=f"P{n:03d}")
    first = client_owner.get(URL).context["page"]
    assert len(first.object_list) == 50 and first.paginator.count == 55
    assert len(client_owner.get(URL, {"page": 2}).context["page"].object_list) == 5


def test_export_downloads_the_filtered_rows_with_formulas_neutralised(client_viewer, selling, merchant_a):
    ProductFactory(merchant=merchant_a, erp_product_id="=HYPERLINK(1)", name="+evil", stock=0)
    response = client_viewer.get(reverse("replenishment_export"), {"format": "csv"})
    rows = list(csv.reader(b"".join(response.streaming_content).decode("utf-8-sig").splitlines()))
    assert rows[0][:2] == ["erp_product_id", "name"]
    assert ["'=HYPERLINK(1)", "'+evil"] in [r[:2] for r in rows[1:]]
    xlsx = client_viewer.get(reverse("replenishment_export"), {"format": "xlsx", "only": "1"})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content)), read_only=True).active
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "ERP商品编码" and [r[0] for r in table[1:]] == ["P-SELL"]
    assert client_viewer.get(reverse("replenishment_export"), {"format": "pdf"}).status_code == 400


def test_merchant_b_sees_nothing_of_merchant_a(client_outsider, selling, merchant_b):
    listing = client_outsider.get(URL)
    assert listing.status_code == 200 and list(listing.context["page"].object_list) == []
    assert b"P-SELL" not in listing.content
    assert client_outsider.get(reverse("replenishment_edit", args=[selling.pk])).status_code == 404
    assert client_outsider.post(reverse("replenishment_edit", args=[selling.pk]),
                                {"on_order": 9}).status_code == 404
    export = client_outsider.get(reverse("replenishment_export"), {"format": "csv"})
    assert b"P-SELL" not in b"".join(export.streaming_content)
    assert not Product.objects.filter(pk=selling.pk, replenishment__isnull=False).exists()  # the POST wrote nothing
    assert suggestion_list(merchant_b) == []


def test_the_suggestions_page_is_in_the_navigation(client_viewer):
    assert reverse("replenishment_list").encode() in client_viewer.get(reverse("dashboard")).content


def test_a_whole_catalog_reads_the_merchants_rows_and_keeps_only_its_own(selling, merchant_a, merchant_b,
                                                                         monkeypatch):
    from merchant import replenishment

    other = ProductFactory(merchant=merchant_b, erp_product_id="P-SELL")
    _backdate(other)
    _sell(other, 99, 56)
    idle = ProductFactory(merchant=merchant_a, erp_product_id="P-IDLE", batch_managed=True, stock=0)
    BatchFactory(product=idle, quantity=4)
    named = [(s.product.pk, s.available, s.suggested_qty, s.reason) for s in suggestion_list(merchant_a)]
    monkeypatch.setattr(replenishment, "IN_LIST_MAX", 1)  # the same two products, read without an IN list
    assert [(s.product.pk, s.available, s.suggested_qty, s.reason) for s in suggestion_list(merchant_a)] == named
    assert {pk for pk, *_rest in named} == {selling.pk, idle.pk}
