"""Bulk shipping from a spreadsheet (the logistics import): each row is an order in a parcel, checked by the order
page's shipping rules into a change set, and applied in one transaction through the same shipping service."""
import io

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from merchant.models import (
    AuditEntry, AuditSource, ImportJob, ImportStatus, Order, OrderSource, OrderStatus, Role, RowAction, Shipment,
    ShipmentItem,
)
from merchant.permissions import Actor
from merchant.services import orders as order_services
from merchant.services.imports import import_actor, import_apply_claimed, import_upload
from merchant.services.shipping import ShipmentRefused, ShipmentRequest, orders_ship
from merchant.spreadsheets.imports import pipeline
from merchant.spreadsheets.imports.template import DATA_SHEET, template_workbook
from sync.models import Connection, Outbox, OutboxKind

from .factories import CarrierFactory, OrderFactory
from .import_files import actions, row_errors, validated, xlsx_bytes

pytestmark = pytest.mark.usefixtures("english")

HEADER = ["order_no", "carrier", "tracking_no"]
PARTIAL = ["order_no", "carrier", "tracking_no", "line_no", "quantity", "batch_no"]
S = OrderStatus


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def carriers(db):
    return {
        "SF": CarrierFactory(code="SF", name="顺丰速运"),
        "YTO": CarrierFactory(code="YTO", name="圆通速递"),
        "TTKDEX": CarrierFactory(code="TTKDEX", name="天天快递", is_active=False),
    }


@pytest.fixture
def shop(merchant_a):
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


def order_of(merchant, number, *, status=S.AWAITING_SHIPMENT, **fields) -> Order:
    """An order of the merchant: line 1 is 3 of "Amoxicillin", line 2 is 2 of "Ibuprofen"."""
    return OrderFactory(merchant=merchant, order_no=number, status=status, items=[
        {"quantity": 3, "item_name": "Amoxicillin"}, {"quantity": 2, "item_name": "Ibuprofen"}], **fields)


def applied(job: ImportJob, user, *, valid_only: bool = False) -> dict:
    """Apply a checked job as the confirm step and the worker do (one transaction); returns the outcome."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING, valid_only=valid_only)
    result = import_apply_claimed(job=job, actor=import_actor(user, user.membership.role), valid_only=valid_only)
    job.refresh_from_db()
    return result


def shipped(order: Order) -> list[tuple]:
    """The order's shipments: (carrier code, tracking number, {line: (quantity, batch)})."""
    return [(s.carrier.code, s.tracking_no, {i.order_item.line_no: (i.quantity, i.batch_no) for i in s.items.all()})
            for s in order.shipments.order_by("pk")]


def changes(job: ImportJob) -> dict[int, dict]:
    return {row.row_number: row.changes for row in job.rows.filter(action=RowAction.CHANGED).order_by("row_number")}


# --- a valid sheet ---------------------------------------------------------------------------------------------

def test_a_valid_sheet_ships_the_orders_and_tells_the_marketplace(merchant_a, owner, carriers, shop):
    storefront = order_of(merchant_a, "0012026030100001")
    marketplace = order_of(merchant_a, "1234567890123456789", source=OrderSource.MARKETPLACE, connection=shop)

    job = validated(merchant_a, "logistics", [HEADER, ["0012026030100001", "SF", "SF1001"],
                                              ["1234567890123456789", "圆通速递", "YT2002"]])

    assert (job.status, job.changed_count, job.invalid_count) == ("preview", 2, 0)
    assert changes(job)[2] == {
        "carrier": ["", "顺丰速运 (SF)"], "tracking_no": ["", "SF1001"],
        "shipment": ["", "line 1 Amoxicillin × 3; line 2 Ibuprofen × 2"],
        "status": ["Awaiting shipment", "Shipped"],
    }
    assert "The valid rows record 2 parcels for 2 orders. 1 of them is a marketplace order" in job.warnings[0]
    assert not Shipment.objects.exists()  # the check writes nothing

    result = applied(job, owner)

    assert (result["applied"], job.status, job.applied_count) == (2, ImportStatus.APPLIED, 2)
    storefront.refresh_from_db()
    marketplace.refresh_from_db()
    assert (storefront.status, storefront.carrier.code, storefront.tracking_no) == (S.SHIPPED, "SF", "SF1001")
    assert (marketplace.status, marketplace.carrier.code, marketplace.tracking_no) == (S.SHIPPED, "YTO", "YT2002")
    assert shipped(storefront) == [("SF", "SF1001", {1: (3, ""), 2: (2, "")})]
    logistics = Outbox.objects.get(kind=OutboxKind.LOGISTICS)
    assert (logistics.order, logistics.connection, logistics.pending) == (marketplace, shop, True)
    entries = AuditEntry.objects.filter(entity="order", entity_id=storefront.pk, field="status")
    assert [(e.source, e.actor, e.old_value, e.new_value) for e in entries] == [
        (AuditSource.IMPORT, owner, S.AWAITING_SHIPMENT, S.SHIPPED)]
    assert f"import #{job.pk}" in entries[0].reason
    assert Shipment.objects.get(tracking_no="SF1001").created_by == owner


def test_partial_shipments_by_line_quantity_and_batch_group_into_parcels(merchant_a, owner, carriers):
    order = order_of(merchant_a, "A-1")
    rows = [PARTIAL,
            ["A-1", "SF", "P1", 1, 2, "B1"],
            ["A-1", "SF", "P1", 2, 1, ""],  # same order, same tracking number: the same parcel
            ["A-1", "sf", "P2", 1, 1, "B2"],  # another tracking number: another parcel
            ["A-1", "SF", "P3", "", "", ""]]  # no line: everything left

    job = validated(merchant_a, "logistics", rows)

    assert (job.changed_count, job.invalid_count) == (4, 0)
    assert [c["status"] for c in changes(job).values()] == [
        ["Awaiting shipment", "Partially shipped"], ["Partially shipped", "Partially shipped"],
        ["Partially shipped", "Partially shipped"], ["Partially shipped", "Shipped"]]
    assert changes(job)[2]["shipment"] == ["", "line 1 Amoxicillin × 2 (batch B1)"]
    assert changes(job)[5]["shipment"] == ["", "line 2 Ibuprofen × 1"]

    applied(job, owner)

    assert shipped(order) == [("SF", "P1", {1: (2, "B1"), 2: (1, "")}), ("SF", "P2", {1: (1, "B2")}),
                              ("SF", "P3", {2: (1, "")})]
    order.refresh_from_db()
    assert (order.status, order.tracking_no) == (S.SHIPPED, "P3")
    assert order.items.get(line_no=1).batch_no == "B1,B2"  # the buyer sees both batches
    assert list(AuditEntry.objects.filter(entity_id=order.pk, field="status").order_by("pk")
                .values_list("new_value", flat=True)) \
        == [S.PARTIALLY_SHIPPED, S.SHIPPED]


def test_a_line_without_a_quantity_ships_what_is_left_of_it(merchant_a, owner, carriers):
    order = order_of(merchant_a, "A-1")
    first_line = order_services.ShipmentLine(order_item=order.items.get(line_no=1), quantity=1)
    order_services.order_shipment_add(order=order, carrier=carriers["SF"], tracking_no="EARLIER",
                                      actor=Actor.system(), lines=[first_line])

    job = validated(merchant_a, "logistics", [PARTIAL, ["A-1", "SF", "P1", 1, "", ""]])
    applied(job, owner)

    assert shipped(order)[1] == ("SF", "P1", {1: (2, "")})
    order.refresh_from_db()
    assert order.status == S.PARTIALLY_SHIPPED


def test_a_sheet_imported_again_ships_nothing_twice(merchant_a, owner, carriers):
    order = order_of(merchant_a, "A-1")
    rows = [PARTIAL, ["A-1", "SF", "P1", 1, 1, ""], ["A-1", "SF", "P2", "", "", ""]]
    applied(validated(merchant_a, "logistics", rows), owner)

    again = validated(merchant_a, "logistics", rows)

    assert (again.unchanged_count, again.changed_count, again.invalid_count) == (2, 0, 0)
    assert order.shipments.count() == 2


def test_valid_rows_only_ships_them_and_skips_the_invalid_ones(merchant_a, owner, carriers):
    good = order_of(merchant_a, "GOOD")
    job = validated(merchant_a, "logistics", [HEADER, ["GOOD", "SF", "T1"], ["NOPE", "SF", "T2"]])

    result = applied(job, owner, valid_only=True)

    assert (result["applied"], result["skipped"]) == (1, 1)
    good.refresh_from_db()
    assert good.status == S.SHIPPED


# --- bad rows ------------------------------------------------------------------------------------------------

def test_every_bad_row_names_its_row_column_and_reason(merchant_a, merchant_b, carriers, shop):
    for number in ("OK-1", "OK-2", "OK-3"):
        order_of(merchant_a, number)
    order_of(merchant_b, "THEIRS")  # another merchant's order is not found
    order_of(merchant_a, "TWICE")
    order_of(merchant_a, "TWICE", source=OrderSource.MARKETPLACE, connection=shop)
    done = order_of(merchant_a, "DONE")
    order_services.order_logistics_enter(order=done, carrier=carriers["SF"], tracking_no="OLD", actor=Actor.system())
    order_of(merchant_a, "GONE", status=S.CANCELLED)
    order_of(merchant_a, "UNPAID", status=S.PENDING_PAYMENT)
    rows = [
        PARTIAL,
        ["NOPE", "SF", "T2"],  # 2
        ["THEIRS", "SF", "T3"],  # 3
        ["TWICE", "SF", "T4"],  # 4
        ["DONE", "SF", "NEW"],  # 5
        ["GONE", "SF", "T6"],  # 6
        ["UNPAID", "SF", "T7"],  # 7
        ["OK-1", "DHL", "T8"],  # 8
        ["OK-1", "天天快递", "T9"],  # 9
        ["OK-1", "SF", "T10", 9, 1],  # 10
        ["OK-1", "SF", "T11", 1, 5],  # 11
        ["OK-1", "SF", ""],  # 12
        ["OK-1", "SF", "T13", "", 1],  # 13
        ["OK-1", "SF", "T14", "", "", "B1"],  # 14
        ["OK-1", "SF", "T15", 1, 0],  # 15
        ["OK-1", "SF", "T16", 1, -1],  # 16
        ["OK-2", "SF", "T17", 1, 2],  # 17: valid, takes 2 of line 1's 3
        ["OK-2", "SF", "T18", 1, 2],  # 18: only 1 is left
        ["OK-2", "YTO", "T17", 2, 1],  # 19: the parcel of row 17 is with SF
        ["DONE", "YTO", "OLD"],  # 20: recorded with SF
        ["OK-2", "SF", "T21", "", ""],  # 21: valid, the rest of the order
        ["OK-2", "SF", "T22"],  # 22: row 21 ships the rest
        ["OK-3", "SF", "T23", 2, 2],  # 23: valid, all of line 2
        ["OK-3", "SF", "T24", 2, ""],  # 24: nothing of line 2 left
        [1.2345678901234568e18, "SF", "T25"],  # 25: a 19-digit number stored as a number
        ["OK-1", "SF", "1.23457E+18"],  # 26: shown shortened and saved as text
        ["OK-1", "SF", "DUP", 2, 1],  # 27
        ["OK-1", "SF", "DUP", 2, 1],  # 28
    ]

    job = validated(merchant_a, "logistics", rows)

    assert row_errors(job) == {
        2: {"order_no": "no order of yours has this number"},
        3: {"order_no": "no order of yours has this number"},
        4: {"order_no": "ambiguous: an own-storefront order and a marketplace order both have this number"},
        5: {"order_no": "An order that is Shipped cannot be shipped."},
        6: {"order_no": "An order that is Cancelled cannot be shipped."},
        7: {"order_no": "An order that is Pending payment cannot be shipped."},
        8: {"carrier": "not in the carrier code list (the template's Carriers sheet lists them)"},
        9: {"carrier": "天天快递 (TTKDEX) is no longer in the carrier code list: choose another."},
        10: {"line_no": "this order has no line 9"},
        11: {"quantity": "Line 1: 5 is more than the 3 not yet shipped."},
        12: {"tracking_no": "required"},
        13: {"quantity": "needs a line number in the Line column"},
        14: {"batch_no": "needs a line number in the Line column"},
        15: {"quantity": "Enter a quantity for at least one item."},
        16: {"quantity": "Line 1: quantity cannot be negative."},
        18: {"quantity": "Line 1: 2 is more than the 1 not yet shipped. (Row 17 of this file ships some of this "
                         "line.)"},
        19: {"carrier": "row 17 gives 顺丰速运 (SF) for this tracking number"},
        20: {"tracking_no": "already recorded for this order with another carrier"},
        22: {"order_no": "row 21 of this file already ships the rest of this order"},
        24: {"line_no": "nothing of line 2 is left: row 23 of this file ships the rest"},
        25: {"order_no": "a number this long lost its last digits in the spreadsheet: format the column as text "
                         "and type it again"},
        26: {"tracking_no": "the spreadsheet shortened this number to 1.23457E+18: format the column as text and "
                            "type it again"},
        27: {"tracking_no": "the same record is also on row 28"},
        28: {"tracking_no": "the same record is also on row 27"},
    }
    assert actions(job)[17] == actions(job)[21] == actions(job)[23] == RowAction.CHANGED
    stored = {error["column"]: error["value"] for error in job.rows.get(row_number=8).errors}
    assert stored == {"carrier": "DHL"}


def test_a_sheet_without_the_required_columns_is_refused_naming_them(merchant_a, carriers):
    job = validated(merchant_a, "logistics", [["订单号", "物流公司"], ["A-1", "SF"]])

    assert job.status == ImportStatus.FAILED
    assert "运单号 / Tracking number (tracking_no)" in job.error


# --- apply: one transaction, re-checked under lock ---------------------------------------------------------------

def _cancel(order, carriers):
    order_services.order_status_change(order=order, status=S.CANCELLED, reason="buyer asked", actor=Actor.system())


def _ship_on_the_order_page(order, carriers):
    order_services.order_logistics_enter(order=order, carrier=carriers["YTO"], tracking_no="BY-HAND",
                                         actor=Actor.system())


def _ship_part_on_the_order_page(order, carriers):
    two_of_line_1 = order_services.ShipmentLine(order_item=order.items.get(line_no=1), quantity=2)
    order_services.order_shipment_add(order=order, carrier=carriers["YTO"], tracking_no="BY-HAND",
                                      actor=Actor.system(), lines=[two_of_line_1])


@pytest.mark.parametrize("meanwhile, reason", [
    (_cancel, "Order number: An order that is Cancelled cannot be shipped."),
    (_ship_on_the_order_page, "Order number: An order that is Shipped cannot be shipped."),
    (_ship_part_on_the_order_page, "Quantity: Line 1: 3 is more than the 1 not yet shipped."),
])
def test_a_row_the_data_changed_under_since_the_check_stops_the_apply_and_nothing_ships(
        merchant_a, owner, carriers, meanwhile, reason):
    first, second = order_of(merchant_a, "A-1"), order_of(merchant_a, "A-2")
    job = validated(merchant_a, "logistics", [PARTIAL, ["A-1", "SF", "T1"], ["A-2", "SF", "T2", 1, 3]])
    assert (job.changed_count, job.invalid_count) == (2, 0)
    meanwhile(second, carriers)
    before = (AuditEntry.objects.count(), Shipment.objects.count())

    result = applied(job, owner)

    assert result["status"] == ImportStatus.PREVIEW
    assert "Nothing was applied: row 3 is no longer valid" in job.error and reason in job.error
    assert job.status == ImportStatus.PREVIEW
    first.refresh_from_db()
    assert (first.status, first.tracking_no) == (S.AWAITING_SHIPMENT, "")
    assert (AuditEntry.objects.count(), Shipment.objects.count()) == before


def test_a_failed_apply_changes_nothing(merchant_a, owner, carriers, shop, monkeypatch):
    marketplace = order_of(merchant_a, "M-1", source=OrderSource.MARKETPLACE, connection=shop)
    storefront = order_of(merchant_a, "S-1")
    job = validated(merchant_a, "logistics", [HEADER, ["S-1", "SF", "T1"], ["M-1", "SF", "T2"]])

    def broken(**kwargs):
        raise RuntimeError("the outbox table went away")

    monkeypatch.setattr("merchant.services.shipping.orders_changed", broken)
    with pytest.raises(RuntimeError):
        applied(job, owner)

    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW and "nothing was changed" in job.error
    for order in (storefront, marketplace):
        order.refresh_from_db()
        assert (order.status, order.carrier, order.tracking_no) == (S.AWAITING_SHIPMENT, None, "")
    assert not Shipment.objects.exists() and not ShipmentItem.objects.exists()
    assert not AuditEntry.objects.exists() and not Outbox.objects.exists()


# --- files as they come --------------------------------------------------------------------------------------------

def test_a_carriers_export_with_a_chinese_header_and_extra_columns_ships(merchant_a, owner, carriers):
    first, second = order_of(merchant_a, "000123"), order_of(merchant_a, "2026030100000000019")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "发货明细"
    sheet.append(["序号", "订单编号", "收件人", "联系电话", "快递公司", "快递单号", "重量(kg)", "备注"])
    sheet.append([1, "000123", "张三", "13800000000", "顺丰速运", "SF1234567890123", 1.2, ""])
    sheet.append([2, "2026030100000000019", "李四", "13900000000", "YTO", "YT9876543210", 0.8, "易碎"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = validated(merchant_a, "logistics", content=buffer.getvalue(), name="顺丰导出.xlsx")

    assert (job.changed_count, job.invalid_count) == (2, 0)
    assert job.warnings[0] == "Columns not recognised, ignored: 序号, 收件人, 联系电话, 重量(kg), 备注."
    applied(job, owner)
    assert shipped(first) == [("SF", "SF1234567890123", {1: (3, ""), 2: (2, "")})]
    assert shipped(second)[0][:2] == ("YTO", "YT9876543210")


def test_the_template_filled_in_round_trips(merchant_a, owner, carriers, tmp_path):
    order = order_of(merchant_a, "0099")
    workbook = openpyxl.load_workbook(io.BytesIO(template_workbook("logistics")))
    sheet = workbook[DATA_SHEET]
    columns = {cell.value.splitlines()[-1]: cell.column for cell in sheet[1]}
    for label, value in {"Order number": "0099", "Carrier": "SF", "Tracking number": "SF777", "Line": 1,
                         "Quantity": 1, "Batch number": "B9"}.items():
        sheet.cell(row=3, column=columns[label], value=value)  # below the example row, which is left as it is
    buffer = io.BytesIO()
    workbook.save(buffer)

    job = validated(merchant_a, "logistics", content=buffer.getvalue())

    assert (job.rows_total, job.changed_count, job.invalid_count) == (1, 1, 0)
    applied(job, owner)
    assert shipped(order) == [("SF", "SF777", {1: (1, "B9")})]


# --- who may import ------------------------------------------------------------------------------------------------

def test_viewers_cannot_upload_a_logistics_file_and_operators_can(merchant_a, operator_actor, viewer_actor, carriers):
    content = xlsx_bytes([HEADER, ["A-1", "SF", "T1"]])

    with pytest.raises(PermissionDenied):
        import_upload(merchant=merchant_a, kind="logistics", uploaded_file=SimpleUploadedFile("s.xlsx", content),
                      actor=viewer_actor)
    job = import_upload(merchant=merchant_a, kind="logistics", uploaded_file=SimpleUploadedFile("s.xlsx", content),
                        actor=operator_actor)
    assert job.kind == "logistics"


def test_the_import_page_offers_the_kind_and_shows_what_will_ship(client_owner, merchant_a, carriers, english_pages):
    order_of(merchant_a, "A-1")
    page = client_owner.get(reverse("import_list")).content.decode()
    assert reverse("import_template", args=["logistics"]) in page
    assert '<option value="logistics">' in page

    job = validated(merchant_a, "logistics", [PARTIAL, ["A-1", "SF", "T1", 2, 1, "B5"]])
    page = client_owner.get(job.get_absolute_url()).content.decode()

    assert "A-1" in page and "顺丰速运 (SF)" in page and "T1" in page
    assert "line 2 Ibuprofen × 1 (batch B5)" in page
    assert "<s>Awaiting shipment</s> → <b>Partially shipped</b>" in page


def test_a_viewer_may_not_upload_on_the_page(client_viewer):
    response = client_viewer.post(reverse("import_list"), {
        "kind": "logistics", "file": SimpleUploadedFile("s.csv", b"order_no,carrier,tracking_no\nA,SF,T\n")})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


# --- the service's bulk path ---------------------------------------------------------------------------------------

def test_bulk_shipping_costs_the_same_queries_for_ten_orders_as_for_two(merchant_a, carriers, shop):
    def ship(count: int, prefix: str) -> int:
        orders = [order_of(merchant_a, f"{prefix}{n}", source=OrderSource.MARKETPLACE, connection=shop)
                  for n in range(count)]
        requests = [ShipmentRequest(order=order, carrier=carriers["SF"], tracking_no=f"T{order.pk}")
                    for order in orders]
        with CaptureQueriesContext(connection) as queries:
            orders_ship(shipments=requests, actor=Actor.system())
        assert Order.objects.filter(pk__in=[o.pk for o in orders], status=S.SHIPPED).count() == count
        return len(queries)

    assert ship(10, "TEN-") == ship(2, "TWO-")
    assert Outbox.objects.filter(kind=OutboxKind.LOGISTICS).count() == 12


def test_bulk_shipping_refuses_all_when_one_shipment_breaks_a_rule(merchant_a, carriers):
    good, cancelled = order_of(merchant_a, "G"), order_of(merchant_a, "C", status=S.CANCELLED)

    with pytest.raises(ShipmentRefused) as refused:
        orders_ship(shipments=[ShipmentRequest(order=good, carrier=carriers["SF"], tracking_no="T1"),
                               ShipmentRequest(order=cancelled, carrier=carriers["SF"], tracking_no="T2")],
                    actor=Actor.system())

    assert refused.value.index == 1 and refused.value.problems[0].field == "status"
    assert not Shipment.objects.exists()
    good.refresh_from_db()
    assert good.status == S.AWAITING_SHIPMENT


def test_bulk_shipping_needs_a_role_that_may_edit(merchant_a, carriers, viewer_actor):
    order = order_of(merchant_a, "A-1")
    with pytest.raises(PermissionDenied):
        orders_ship(shipments=[ShipmentRequest(order=order, carrier=carriers["SF"], tracking_no="T1")],
                    actor=viewer_actor)
    assert Role.VIEWER == viewer_actor.role and not Shipment.objects.exists()
