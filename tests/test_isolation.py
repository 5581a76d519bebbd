"""Tenant isolation (SPEC M1, security bar): no back-office URL lets merchant B see or touch merchant A's data.

The URL list is read from merchant/urls.py, so a new URL is covered as soon as it exists; a URL whose ids this
module does not know how to fill fails loudly instead of being skipped.
"""
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.urls import URLPattern, reverse
from django.utils import timezone

import merchant.urls
from merchant.models import (
    ApiCredential, AuditEntry, Batch, ErpCustomerCode, GroupPrice, ImportJob, ImportRow, ImportStatus, Membership,
    ModuleSwitch, Order, Product, SavedOrderView, Shipment, SkuSwitch, TrackingEntry,
)
from merchant.permissions import Actor
from merchant.models import Delivery, NotificationEvent, NotificationRead, RobotChannel
from merchant.models import FollowUp
from merchant.services.api_credentials import api_credential_create
from merchant.services.followups import followup_stalled_open
from merchant.services.notifications import notify

from sync.models import AnomalyKind, AnswerAnomaly, Connection, MarketplaceSku

from .factories import BatchFactory, ConnectionFactory, GroupPriceFactory, RegionGroupFactory, RobotChannelFactory

NONEXISTENT = 987654321


def _int_kwargs(pattern: URLPattern) -> list[str]:
    return [name for name, conv in pattern.pattern.converters.items() if conv.regex == "[0-9]+"]


PATTERNS = [p for p in merchant.urls.urlpatterns if isinstance(p, URLPattern)]
ID_PATTERNS = [p for p in PATTERNS if _int_kwargs(p)]
PLAIN_PATTERNS = [p for p in PATTERNS if not _int_kwargs(p)]

# Which object the `pk` of a URL names, by the URL's first path segment(s).
PK_OWNER_BY_PREFIX = [
    ("switches/sku/", "product"),
    ("orders/views/", "saved_view"),
    ("products/", "product"),
    ("replenishment/", "product"),
    ("orders/", "order"),
    ("customers/", "customer"),
    ("team/", "membership"),
    ("imports/", "import_job"),
    ("connections/", "connection"),
    ("api-keys/", "api_credential"),
    ("notifications/channels/", "robot_channel"),
    ("notifications/", "notification"),
    ("followups/", "followup"),
]
OTHER_KWARGS = {"price_pk": "group_price", "batch_pk": "batch", "product_pk": "product", "connection_pk": "connection",
                "anomaly_pk": "anomaly"}


@pytest.fixture
def a_objects(merchant_a, owner, operator, product, order, customer, carrier, settings, tmp_path):
    """One object of every kind merchant A has, each reachable by an id in some URL."""
    settings.MEDIA_ROOT = tmp_path
    region = RegionGroupFactory(code="south", name="South")
    batch_product = BatchFactory(product__merchant=merchant_a).product
    objects = {
        "product": product,
        "batch_product": batch_product,
        "group_price": GroupPriceFactory(product=product, region_group=region),
        "batch": batch_product.batches.get(),
        "order": order,
        "customer": customer,   # only merchant A has ever dealt with this customer
        "membership": operator.membership,
        "region": region,
        "import_job": _import_job(merchant_a, owner, product),
        # Its gateway refuses connections at once, so the owner's "test" click in the walk stays fast and offline.
        "connection": ConnectionFactory(merchant=merchant_a, name="Merchant A shop",
                                        gateway_url="http://127.0.0.1:9/router/rest"),
        "api_credential": api_credential_create(merchant=merchant_a, actor=Actor.for_user(owner), name="ERP")[0],
        "saved_view": SavedOrderView.objects.create(merchant=merchant_a, user=owner, name="Mine", query="tab=shipped"),
        "robot_channel": RobotChannelFactory(merchant=merchant_a, name="Merchant A robot"),
        "notification": notify(merchant=merchant_a, event=NotificationEvent.LOW_STOCK, subject_key="isolation",
                               title=f"Low stock: {product.name}"),
        "followup": followup_stalled_open(order=order, since=timezone.now() - timedelta(hours=80), last_node_at=None,
                                          last_node_text="", carrier_name="SF", tracking_no="SF1"),
    }
    objects["anomaly"] = AnswerAnomaly.objects.create(
        connection=objects["connection"], method="taobao.trades.sold.get", kind=AnomalyKind.UNKNOWN_ERROR,
        subject="99", first_at=timezone.now(), last_at=timezone.now())
    return objects


def _import_job(merchant, user, product) -> ImportJob:
    """An import waiting for confirmation, with a change to the product."""
    job = ImportJob(merchant=merchant, kind="stock", file_name="stock.csv", file_format="csv", uploaded_by=user,
                    status=ImportStatus.PREVIEW, changed_count=1, rows_total=1)
    job.file.save("stock.csv", ContentFile(f"erp_product_id,stock\n{product.erp_product_id},999\n".encode()))
    ImportRow.objects.create(job=job, row_number=2, action="changed", key=product.erp_product_id,
                             data={"erp_product_id": product.erp_product_id, "stock": "999"},
                             changes={"stock": [str(product.stock), "999"]})
    return job


def url_kwargs(pattern: URLPattern, objects: dict) -> dict:
    route = str(pattern.pattern)
    owner = next((kind for prefix, kind in PK_OWNER_BY_PREFIX if route.startswith(prefix)), None)
    if owner is None:
        pytest.fail(f"tests/test_isolation.py does not know which object the ids of {route!r} name: add it.")
    kwargs = {}
    for name in _int_kwargs(pattern):
        if name == "pk":
            kind = owner
            # A batch URL's pk is the batch's product.
            if "batch_pk" in _int_kwargs(pattern):
                kind = "batch_product"
        elif name in OTHER_KWARGS:
            kind = OTHER_KWARGS[name]
        else:
            pytest.fail(f"tests/test_isolation.py does not know the {name!r} of {route!r}: add it.")
        kwargs[name] = objects[kind].pk
    return kwargs


def _text_kwargs(pattern: URLPattern) -> dict:
    """Values for URLs whose only parameters are words (the import template's kind)."""
    return {name: "products" for name in pattern.pattern.converters}


def hostile_post(objects, carrier) -> dict:
    """A payload that would be valid for every form, so that only the merchant check can refuse it."""
    today = timezone.localdate()
    return {
        "name": "Hijacked", "barcode": "1", "approval_number": "1", "spec": "1", "manufacturer": "1", "unit": "1",
        "default_price": "0.01", "stock": "0", "reason": "hijack", "pause_for": "24", "listed": "0",
        "group": f"r:{objects['region'].pk}", "price": "0.01",
        "batch_no": "HIJACK", "production_date": (today - timedelta(days=1)).isoformat(),
        "expiry_date": (today + timedelta(days=100)).isoformat(), "quantity": "1",
        "kind": "stock", "enabled": "0", "code": "HIJACK", "next": "/",
        "status": "cancelled", "carrier": carrier.code, "tracking_no": "HIJACK",
        "s-carrier": carrier.code, "s-tracking_no": "HIJACK", "erp_status": "picking", "message": "hijack",
        "role": "viewer",
        "gateway_url": "http://hijack.example/router/rest", "app_key": "HIJACK", "app_secret": "HIJACK",
        "session": "HIJACK", "sign_method": "md5", "calls_per_minute": "1", "orders_interval": "1",
        "refunds_interval": "1", "job": "orders_full", "note": "hijack",
        **{f"i{item.pk}-quantity": "1" for item in objects["order"].items.all()},
    }


def merchant_a_state(merchant_a) -> dict:
    """A fingerprint of everything merchant A owns that any form could change."""
    return {
        "audit": AuditEntry.objects.filter(merchant=merchant_a).count(),
        "products": sorted(Product.objects.filter(merchant=merchant_a).values_list(
            "pk", "name", "stock", "default_price", "listing_state")),
        "prices": sorted(GroupPrice.objects.filter(product__merchant=merchant_a).values_list("pk", "price")),
        "batches": sorted(Batch.objects.filter(product__merchant=merchant_a).values_list("pk", "quantity")),
        "switches": sorted(SkuSwitch.objects.filter(product__merchant=merchant_a).values_list("pk", "enabled")),
        "module_switches": ModuleSwitch.objects.filter(merchant=merchant_a).count(),
        "orders": sorted(Order.objects.filter(merchant=merchant_a).values_list("pk", "status", "erp_status")),
        "shipments": Shipment.objects.filter(order__merchant=merchant_a).count(),
        "tracking": TrackingEntry.objects.filter(order__merchant=merchant_a).count(),
        "codes": sorted(ErpCustomerCode.objects.filter(merchant=merchant_a).values_list("customer_id", "code")),
        "members": sorted(Membership.objects.filter(merchant=merchant_a).values_list("pk", "role")),
        "imports": sorted(ImportJob.objects.filter(merchant=merchant_a).values_list("pk", "status")),
        "connections": sorted(Connection.objects.filter(merchant=merchant_a).values_list(
            "pk", "name", "gateway_url", "app_key", "app_secret_encrypted", "session_encrypted", "is_enabled",
            "stopped_reason")),
        "api_keys": sorted(ApiCredential.objects.filter(merchant=merchant_a).values_list("pk", "name", "revoked_at")),
        "robots": sorted(RobotChannel.objects.filter(merchant=merchant_a).values_list(
            "pk", "name", "webhook_url_encrypted", "secret_encrypted", "events", "is_enabled")),
        "robot_tests": Delivery.objects.filter(channel__merchant=merchant_a).count(),
        "notification_reads": NotificationRead.objects.filter(notification__merchant=merchant_a).count(),
        "item_links": sorted(MarketplaceSku.objects.filter(connection__merchant=merchant_a).values_list(
            "pk", "product_id", "found", "link", "sku_id")),
        "followups": sorted(FollowUp.objects.filter(merchant=merchant_a).values_list(
            "pk", "status", "assignee_id", "note")),
    }


def test_every_back_office_url_with_an_id_is_covered():
    names = {p.name for p in ID_PATTERNS}
    # A sanity check that the URL list is really read: these exist today.
    assert {"product_detail", "order_detail", "customer_detail", "batch_delete", "group_price_delete",
            "member_role", "sku_switch_resume", "connection_detail", "connection_edit", "connection_sync",
            "connection_test", "connection_enable", "connection_disable", "connection_runs", "item_mapping",
            "item_mapping_link", "item_mapping_unlink", "item_mapping_by_code", "item_mapping_refresh"} <= names


@pytest.mark.parametrize("pattern", ID_PATTERNS, ids=[p.name for p in ID_PATTERNS])
def test_another_merchants_ids_are_not_found(pattern, a_objects, merchant_a, client_outsider, client_owner, carrier,
                                             outsider_product, outsider_order):
    kwargs = url_kwargs(pattern, a_objects)
    url = reverse(pattern.name, kwargs=kwargs)
    missing_url = reverse(pattern.name, kwargs={k: NONEXISTENT for k in kwargs})
    before = merchant_a_state(merchant_a)

    outsider = {
        "GET": client_outsider.get(url),
        "POST": client_outsider.post(url, hostile_post(a_objects, carrier)),
    }
    missing = {"GET": client_outsider.get(missing_url), "POST": client_outsider.post(missing_url, {})}
    assert merchant_a_state(merchant_a) == before

    # The owner of merchant A reaches the same URL (so the ids above are the right ones): a method the view does
    # not take answers 405 to everyone, any other answer must not be a 404.
    owner = {"GET": client_owner.get(url), "POST": client_owner.post(url, {})}
    for method in ("GET", "POST"):
        if owner[method].status_code == 405:
            assert outsider[method].status_code == 405, method
        else:
            assert owner[method].status_code != 404, method
            assert outsider[method].status_code == 404, method
            assert a_objects["product"].name.encode() not in outsider[method].content
        # An id of merchant A answers exactly as an id that does not exist: nothing to learn by probing.
        assert outsider[method].status_code == missing[method].status_code, method
    assert 404 in {outsider["GET"].status_code, outsider["POST"].status_code}


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.name for p in PATTERNS])
def test_a_user_without_a_merchant_is_refused_everywhere(pattern, a_objects, client):
    user = get_user_model().objects.create_user(username="drifter", password="x-Unused-Passw0rd")
    client.force_login(user)
    url = reverse(pattern.name, kwargs=url_kwargs(pattern, a_objects) if _int_kwargs(pattern) else _text_kwargs(pattern))
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.name for p in PATTERNS])
def test_anonymous_visitors_are_sent_to_the_login_page(pattern, a_objects, client, merchant_a):
    url = reverse(pattern.name, kwargs=url_kwargs(pattern, a_objects) if _int_kwargs(pattern) else _text_kwargs(pattern))
    before = merchant_a_state(merchant_a)
    for response in (client.get(url), client.post(url, {"code": "X", "stock": "1", "listed": "0"})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    assert merchant_a_state(merchant_a) == before


def test_users_of_an_inactive_merchant_are_refused(client_owner, merchant_a):
    merchant_a.is_active = False
    merchant_a.save()
    assert client_owner.get(reverse("dashboard")).status_code == 403
    assert client_owner.get(reverse("product_list")).status_code == 403


# --- the outsider's own pages show nothing of merchant A -----------------------------------------------------------


@pytest.fixture
def both_sides(a_objects, outsider_product, outsider_order, outsider_customer):
    return a_objects


def test_outsider_product_list_shows_only_merchant_b(client_outsider, both_sides, outsider_product):
    response = client_outsider.get(reverse("product_list"))
    assert [p.pk for p in response.context["page"].object_list] == [outsider_product.pk]
    content = response.content.decode()
    assert both_sides["product"].name not in content
    assert both_sides["product"].erp_product_id not in content
    # Searching for merchant A's product by its exact ERP id finds nothing either.
    response = client_outsider.get(reverse("product_list"), {"q": both_sides["product"].erp_product_id})
    assert list(response.context["page"].object_list) == []


def test_outsider_order_list_shows_only_merchant_b(client_outsider, both_sides, outsider_order):
    response = client_outsider.get(reverse("order_list"))
    assert [o.pk for o in response.context["page"].object_list] == [outsider_order.pk]
    assert both_sides["order"].order_no not in response.content.decode()
    response = client_outsider.get(reverse("order_list"), {"order_no": both_sides["order"].order_no})
    assert list(response.context["page"].object_list) == []


def test_outsider_cannot_find_orders_by_merchant_a_customer(client_outsider, both_sides, merchant_b):
    customer = both_sides["customer"]
    codes = list(customer.erp_codes.filter(merchant=both_sides["order"].merchant).values_list("code", flat=True))
    for query in [customer.name, customer.uscc, *codes]:
        response = client_outsider.get(reverse("order_list"), {"customer": query})
        assert list(response.context["page"].object_list) == [], query
        assert both_sides["order"].order_no not in response.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "csv-spreadsheet", "xlsx"])
def test_outsider_export_holds_only_merchant_b_orders(client_outsider, both_sides, outsider_order, fmt):
    response = client_outsider.get(reverse("order_export"), {"format": fmt})
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    if fmt == "xlsx":
        import io

        import openpyxl
        sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
        order_nos = {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)}
    else:
        order_nos = {line.split(",")[0] for line in body.decode("utf-8-sig").splitlines()[1:]}
    assert order_nos == {outsider_order.order_no}
    assert both_sides["order"].order_no.encode() not in body


def test_outsider_export_filtered_by_merchant_a_customer_is_empty(client_outsider, both_sides):
    customer = both_sides["customer"]
    for query in (customer.name, customer.uscc, "CUST-A1"):
        response = client_outsider.get(reverse("order_export"), {"format": "csv", "customer": query})
        assert response.status_code == 200
        lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
        assert len(lines) == 1, query  # the header only
        assert both_sides["order"].order_no not in lines[0]


def test_outsider_customer_list_shows_only_merchant_b_customers(client_outsider, both_sides, outsider_customer):
    response = client_outsider.get(reverse("customer_list"))
    assert [c.pk for c, _code in response.context["rows"]] == [outsider_customer.pk]
    content = response.content.decode()
    assert both_sides["customer"].name not in content
    assert "CUST-A1" not in content
    response = client_outsider.get(reverse("customer_list"), {"q": "CUST-A1"})
    assert response.context["rows"] == []


def test_a_shared_customer_shows_each_merchant_only_its_own_code_and_orders(client_outsider, both_sides, merchant_b):
    from .factories import ErpCustomerCodeFactory

    shared = both_sides["customer"]
    ErpCustomerCodeFactory(merchant=merchant_b, customer=shared, code="B-CODE")
    response = client_outsider.get(reverse("customer_detail", args=[shared.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "B-CODE" in content
    assert "CUST-A1" not in content
    assert both_sides["order"].order_no not in content


def test_outsider_dashboard_counts_only_merchant_b(client_outsider, both_sides):
    response = client_outsider.get(reverse("dashboard"))
    stats = response.context["stats"]
    assert stats["awaiting_shipment"] == 1  # merchant B's own order only
    assert both_sides["product"].name not in response.content.decode()


def test_outsider_notification_centre_and_bell_show_only_merchant_b(client_outsider, both_sides, merchant_b):
    notify(merchant=merchant_b, event=NotificationEvent.IMPORT_FAILED, subject_key="b", title="B's own import")
    content = client_outsider.get(reverse("notification_list")).content.decode()
    assert "B&#x27;s own import" in content or "B's own import" in content
    assert both_sides["product"].name not in content
    assert 'id="bell-count">1<' in content
    robots = client_outsider.get(reverse("robot_channel_list")).content.decode()
    assert "Merchant A robot" not in robots

# --- pages that take a selection of order ids (?id=1&id=2, or the same fields posted) --------------------------------

SELECTION_URLS = ["order_print_delivery_notes", "order_print_pick_list"]


def test_every_selection_url_is_walked():
    assert {p.name for p in PLAIN_PATTERNS if str(p.pattern).startswith("orders/print/")} == set(SELECTION_URLS)


@pytest.mark.parametrize("name", SELECTION_URLS)
def test_another_merchants_order_ids_select_nothing(name, a_objects, merchant_a, client_outsider, client_owner,
                                                    outsider_order):
    order = a_objects["order"]
    url = reverse(name)
    before = merchant_a_state(merchant_a)
    outsider = [client_outsider.get(url, {"id": order.pk}), client_outsider.post(url, {"id": order.pk})]
    missing = [client_outsider.get(url, {"id": NONEXISTENT}), client_outsider.post(url, {"id": NONEXISTENT})]
    assert merchant_a_state(merchant_a) == before
    for response, nothing in zip(outsider, missing):
        assert response.status_code == nothing.status_code == 200
        assert order.order_no.encode() not in response.content
        assert a_objects["product"].name.encode() not in response.content
        # The same page as for ids that do not exist: nothing to learn by probing.
        assert b'id="print-empty"' in response.content and b'id="print-empty"' in nothing.content
    # Mixed with its own order, the outsider gets only its own.
    both = client_outsider.get(url, {"id": [order.pk, outsider_order.pk]})
    assert outsider_order.order_no.encode() in both.content
    assert order.order_no.encode() not in both.content
    # The owner of merchant A reaches the same ids (so they are the right ones).
    assert order.order_no.encode() in client_owner.get(url, {"id": order.pk}).content
