"""The orders workbench pages (SPEC M14) for each role: tabs and search, the user's own columns, sort, page
size and saved views, bulk actions after a confirmation, the live list, the memo and the exception settings."""
import io
from datetime import timedelta

import openpyxl
import pytest
from django.urls import reverse
from django.utils import timezone

from merchant.models import AuditEntry, Order, OrderFlag, OrderListPreference, OrderStatus, SavedOrderView

from merchant.services.order_attention import order_attention_refresh

from .factories import OrderFactory

S = OrderStatus
pytestmark = pytest.mark.usefixtures("english_pages")
LIST = "order_list"


@pytest.fixture
def day(merchant_a):
    now = timezone.now()
    return {
        "wait1": OrderFactory(merchant=merchant_a, order_no="W-1", created_at=now - timedelta(hours=3)),
        "wait2": OrderFactory(merchant=merchant_a, order_no="W-2", created_at=now - timedelta(hours=2),
                              receiver_phone="13800001234"),
        "unpaid": OrderFactory(merchant=merchant_a, order_no="U-1", status=S.PENDING_PAYMENT, paid_at=None),
        "shipped": OrderFactory(merchant=merchant_a, order_no="S-1", status=S.SHIPPED,
                                shipped_at=now - timedelta(hours=1)),
    }


def test_every_role_sees_the_tabs_with_counts(client_viewer, day):
    response = client_viewer.get(reverse(LIST))
    assert response.status_code == 200
    tabs = {t["key"]: t["count"] for t in response.context["tabs"]}
    assert tabs["all"] == 4 and tabs["awaiting_shipment"] == 2 and tabs["pending_payment"] == 1
    assert tabs["shipped"] == 1 and tabs["exceptions"] == 0
    html = response.content.decode()
    assert 'data-tab-count="awaiting_shipment">2<' in html
    # A viewer may print and export the selection, but not change orders.
    assert "Export selection" in html and 'name="action" value="status"' not in html


def test_a_tab_lists_only_its_orders_and_the_search_narrows_it(client_viewer, day):
    rows = client_viewer.get(reverse(LIST), {"tab": "awaiting_shipment"}).context["rows"]
    assert {o.order_no for o in rows} == {"W-1", "W-2"}
    rows = client_viewer.get(reverse(LIST), {"tab": "awaiting_shipment", "q": "1234"}).context["rows"]
    assert [o.order_no for o in rows] == ["W-2"]


def test_sort_and_page_size_are_remembered_for_the_user(client_operator, client_viewer, operator, day):
    client_operator.get(reverse(LIST), {"sort": "created", "size": "20"})
    pref = OrderListPreference.objects.get(user=operator)
    assert (pref.sort, pref.page_size) == ("created", 20)
    response = client_operator.get(reverse(LIST))
    assert response.context["sort"] == "created" and response.context["size"] == 20
    assert [o.created_at for o in response.context["rows"]] == sorted(o.created_at for o in response.context["rows"])
    # Another user's list is as it was.
    assert client_viewer.get(reverse(LIST)).context["sort"] == "-created"


def test_an_unknown_sort_or_size_is_ignored(client_viewer, day):
    response = client_viewer.get(reverse(LIST), {"sort": "status; drop", "size": "100000"})
    assert response.status_code == 200
    assert response.context["sort"] == "-created" and response.context["size"] == 50


def test_columns_are_chosen_per_user(client_viewer, viewer, day):
    response = client_viewer.post(reverse("order_list_columns"), {"columns": ["receiver", "tracking", "nonsense"],
                                                                  "next": reverse(LIST) + "?tab=shipped"})
    assert response.status_code == 302 and response["Location"] == reverse(LIST) + "?tab=shipped"
    assert OrderListPreference.objects.get(user=viewer).columns == ["receiver", "tracking"]
    html = client_viewer.get(reverse(LIST)).content.decode()
    assert "<th>Receiver</th>" in html and "<th>Platform status</th>" not in html and "13800001234" in html


def test_columns_refuse_a_foreign_return_address(client_viewer, day):
    response = client_viewer.post(reverse("order_list_columns"), {"columns": ["receiver"],
                                                                  "next": "https://evil.example/"})
    assert response["Location"] == reverse(LIST)


def test_a_saved_view_becomes_the_users_tab(client_viewer, viewer, operator, day):
    response = client_viewer.post(reverse("saved_view_create"), {"name": "Phones 1234", "q": "1234",
                                                                 "tab": "awaiting_shipment", "page": "3"})
    view = SavedOrderView.objects.get(user=viewer)
    assert view.query == "q=1234&tab=awaiting_shipment"
    assert response["Location"] == reverse(LIST) + "?q=1234&tab=awaiting_shipment"
    listed = client_viewer.get(response["Location"])
    assert [(v.name, active) for v, active in listed.context["saved_views"]] == [("Phones 1234", True)]
    assert [o.order_no for o in listed.context["rows"]] == ["W-2"]
    # The same name twice is refused with the reason; the views are the user's own.
    again = client_viewer.post(reverse("saved_view_create"), {"name": "Phones 1234"}, follow=True)
    assert "already have a view named" in again.content.decode()
    assert not SavedOrderView.objects.filter(user=operator).exists()
    client_viewer.post(reverse("saved_view_delete", args=[view.pk]))
    assert not SavedOrderView.objects.exists()


def test_another_users_saved_view_cannot_be_deleted(client_operator, viewer, merchant_a):
    view = SavedOrderView.objects.create(merchant=merchant_a, user=viewer, name="Mine")
    assert client_operator.post(reverse("saved_view_delete", args=[view.pk])).status_code == 404
    assert SavedOrderView.objects.filter(pk=view.pk).exists()


def _bulk(client, data, **extra):
    return client.post(reverse("order_bulk"), {"next": reverse(LIST), **data}, **extra)


def test_a_viewer_cannot_use_bulk_actions(client_viewer, day):
    response = _bulk(client_viewer, {"action": "taken", "id": [day["wait1"].pk]})
    assert response.status_code == 403
    assert not Order.objects.get(pk=day["wait1"].pk).taken_by_erp


def test_bulk_status_change_shows_what_it_will_do_then_does_it(client_operator, day):
    ids = [day["wait1"].pk, day["unpaid"].pk, day["shipped"].pk]
    data = {"action": "status", "new_status": S.CANCELLED, "reason": "buyer called", "id": ids}
    confirm = _bulk(client_operator, data)
    assert confirm.status_code == 200 and confirm.context["changing"] == 2 and confirm.context["total"] == 3
    html = confirm.content.decode()
    assert "Shipped orders cannot be changed to Cancelled" in html and "Change 2 orders" in html
    assert Order.objects.filter(status=S.CANCELLED).count() == 0  # nothing happens before the confirmation
    done = _bulk(client_operator, {**data, "confirm": "1"}, follow=True)
    assert set(Order.objects.filter(status=S.CANCELLED).values_list("order_no", flat=True)) == {"W-1", "U-1"}
    text = done.content.decode()
    assert "2 orders changed." in text and "1 order left as it was" in text
    assert AuditEntry.objects.filter(entity="order", field="status", reason="buyer called").count() == 2


def test_bulk_status_change_needs_a_reason(client_operator, day):
    response = _bulk(client_operator, {"action": "status", "new_status": S.CANCELLED, "reason": " ",
                                       "id": [day["wait1"].pk], "confirm": "1"}, follow=True)
    assert "Give a reason" in response.content.decode()
    assert Order.objects.get(pk=day["wait1"].pk).status == S.AWAITING_SHIPMENT


def test_bulk_on_all_matching_orders_uses_the_filters(client_operator, day):
    data = {"action": "flag", "new_flag": OrderFlag.RED, "scope": "all", "tab": "awaiting_shipment",
            "id": [day["shipped"].pk]}
    confirm = _bulk(client_operator, data)
    assert confirm.context["total"] == 2  # the tab's orders, whatever is ticked
    _bulk(client_operator, {**data, "confirm": "1"})
    assert set(Order.objects.filter(flag="red").values_list("order_no", flat=True)) == {"W-1", "W-2"}


def test_bulk_memo_sets_and_clears_the_merchants_note(client_operator, day):
    ids = [day["wait1"].pk, day["wait2"].pk]
    confirm = _bulk(client_operator, {"action": "memo", "new_memo": "cold chain", "id": ids})
    assert confirm.context["changing"] == 2 and "cold chain" in confirm.content.decode()
    _bulk(client_operator, {"action": "memo", "new_memo": "cold chain", "id": ids, "confirm": "1"})
    assert set(Order.objects.filter(seller_memo="cold chain").values_list("order_no", flat=True)) == {"W-1", "W-2"}
    assert Order.objects.get(pk=ids[0]).modified_at == day["wait1"].modified_at
    _bulk(client_operator, {"action": "memo", "new_memo": "", "id": ids[:1], "confirm": "1"})
    assert Order.objects.get(pk=ids[0]).seller_memo == ""


def test_bulk_on_too_many_orders_is_refused(client_operator, day, settings):
    settings.ORDER_SELECTION_MAX = 3
    response = _bulk(client_operator, {"action": "taken", "scope": "all", "confirm": "1"}, follow=True)
    assert "More than 3 orders match" in response.content.decode()
    assert not Order.objects.filter(taken_by_erp=True).exists()


def test_bulk_mark_taken_and_not_taken(client_operator, day):
    ids = [day["wait1"].pk, day["wait2"].pk]
    _bulk(client_operator, {"action": "taken", "id": ids, "confirm": "1"})
    assert Order.objects.filter(pk__in=ids, taken_by_erp=True).count() == 2
    confirm = _bulk(client_operator, {"action": "not_taken", "id": ids[:1]})
    assert confirm.context["changing"] == 1
    _bulk(client_operator, {"action": "not_taken", "id": ids[:1], "confirm": "1"})
    assert list(Order.objects.filter(taken_by_erp=True).values_list("order_no", flat=True)) == ["W-2"]


def test_bulk_ignores_another_merchants_orders(client_operator, merchant_b, day):
    theirs = OrderFactory(merchant=merchant_b)
    response = _bulk(client_operator, {"action": "taken", "id": [theirs.pk], "confirm": "1"}, follow=True)
    assert "Tick at least one order" in response.content.decode()
    assert not Order.objects.get(pk=theirs.pk).taken_by_erp


def test_export_of_the_ticked_orders_holds_only_them(client_viewer, day):
    response = client_viewer.post(reverse("order_export"), {"format": "xlsx", "id": [day["wait2"].pk]})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    numbers = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert numbers == {"W-2"}


def test_live_list_counts_new_orders_and_serves_their_rows(client_viewer, merchant_a, day):
    page = client_viewer.get(reverse(LIST), {"tab": "awaiting_shipment"})
    after = page.context["last_id"]
    live = client_viewer.get(reverse("order_list_live"), {"tab": "awaiting_shipment", "after": after}).json()
    assert live["new"] == 0 and live["tabs"]["awaiting_shipment"]["text"] == "2"
    fresh = OrderFactory(merchant=merchant_a, order_no="NEW-1")
    OrderFactory(merchant=merchant_a, order_no="NEW-UNPAID", status=S.PENDING_PAYMENT, paid_at=None)
    live = client_viewer.get(reverse("order_list_live"), {"tab": "awaiting_shipment", "after": after}).json()
    assert live["new"] == 1 and live["tabs"]["awaiting_shipment"]["count"] == 3
    rows = client_viewer.get(reverse("order_list_live"), {"tab": "awaiting_shipment", "after": after,
                                                          "rows": "1"}).json()
    assert "NEW-1" in rows["rows"] and "NEW-UNPAID" not in rows["rows"] and rows["last_id"] == fresh.pk
    assert f'name="id" value="{fresh.pk}"' in rows["rows"]


def test_memo_and_flag_on_the_order_page(client_operator, client_viewer, day):
    order = day["wait1"]
    response = client_operator.post(reverse("order_memo", args=[order.pk]),
                                    {"seller_memo": "ship with ice pack", "flag": "blue"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert (order.seller_memo, order.flag) == ("ship with ice pack", "blue")
    assert order.modified_at == day["wait1"].modified_at  # the memo is not a change of the order itself
    assert client_viewer.post(reverse("order_memo", args=[order.pk]), {"seller_memo": "x"}).status_code == 403
    rows = client_viewer.get(reverse(LIST), {"q": "ice pack"}).context["rows"]
    assert [o.order_no for o in rows] == ["W-1"]


def test_the_exception_queue_says_why_and_owners_set_its_clocks(client_owner, client_operator, merchant_a,
                                                                 django_capture_on_commit_callbacks):
    OrderFactory(merchant=merchant_a, order_no="LATE", paid_at=timezone.now() - timedelta(hours=6))
    order_attention_refresh(merchant=merchant_a)
    response = client_owner.get(reverse(LIST), {"tab": "exceptions"})
    assert [o.order_no for o in response.context["rows"]] == ["LATE"]
    assert "Paid, not yet taken by the ERP" in response.content.decode()
    assert client_operator.get(reverse("exception_settings")).status_code == 403
    bad = client_owner.post(reverse("exception_settings"), {"take_hours": 0, "ship_hours": 24, "stall_hours": 72})
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        client_owner.post(reverse("exception_settings"), {"take_hours": 8, "ship_hours": 24, "stall_hours": 72})
    merchant_a.refresh_from_db()
    assert merchant_a.exception_take_hours == 8
    assert client_owner.get(reverse(LIST), {"tab": "exceptions"}).context["rows"] == []
    detail = client_owner.get(reverse("order_detail", args=[Order.objects.get(order_no="LATE").pk]))
    assert detail.context["exceptions"] == []


def test_search_refuses_text_postgresql_cannot_store(client_viewer, day):
    response = client_viewer.get(reverse(LIST), {"q": "a\x00b"})
    assert response.status_code == 200 and response.context["rows"] == []


def test_every_value_in_the_rows_is_escaped(client_viewer, viewer, merchant_a):
    OrderFactory(merchant=merchant_a, order_no='X"><b>1', receiver_name="<script>r</script>", buyer_nick="<i>n</i>",
                 seller_memo='m"<u>', tracking_no="<t>", flag="red")
    client_viewer.post(reverse("order_list_columns"), {"columns": ["customer", "receiver", "tracking", "memo"]})
    html = client_viewer.get(reverse(LIST)).content.decode()
    for raw in ("<script>r", "<b>1", "<i>n", "<u>", "<t>"):
        assert raw not in html
    assert "&lt;script&gt;r&lt;/script&gt;" in html and "X&quot;&gt;&lt;b&gt;1" in html


def test_the_filter_fields_are_drawn_as_django_draws_them(merchant_a):
    import re

    from django.http import QueryDict

    from merchant.filters import OrderFilter
    from merchant.templatetags.list_rows import plain_widget

    f = OrderFilter(QueryDict('q=a"<b&status=shipped&created_from=2024-03-01T10:00&exception=stalled&flag=red'),
                    merchant=merchant_a)
    assert f.is_valid()

    def parts(html):  # the options and attributes, whatever their order and quoting
        html = str(html).replace("&#x27;", "'").replace("&#34;", "&quot;")
        return sorted(re.findall(r'<option[^>]*>[^<]*</option>|\w+="[^"]*"|\bselected\b', html))

    for field in f.form:
        assert parts(plain_widget(field)) == parts(field.as_widget()), field.name
