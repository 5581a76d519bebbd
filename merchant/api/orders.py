"""The ERP's fulfilment uploads (SPEC A2): logistics (-> shipped), partial shipments with batch data, and
ERP statuses (-> tracking entries; signed completes the order).

Each request carries up to API_MAX_ITEMS items, applied in order, each in its own savepoint: an invalid
item changes nothing and the others still apply; a request refused as a whole (bad JSON, too many items,
too large) writes nothing. Items name orders by `order_no` (plus `source` when the merchant has a
storefront and a marketplace order with the same number); another merchant's order is unknown here.

The "fulfilment" sync switch does not hold these uploads: it governs what goes out to the marketplaces.
What the ERP reports has happened in the warehouse (a parcel left, a buyer signed), and holding it would
only make the back office wrong, so an upload always applies.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from merchant.models import AuditSource, Carrier, Order, OrderItem, OrderSource
from merchant.permissions import Actor
from merchant.services.orders import (
    ERP_FLOW, SHIPPABLE, ShipmentLine, order_erp_status_add, order_logistics_enter, order_shipment_add,
    remaining_quantities,
)

from .order_fields import Fields
from .requests import batch_items, json_body
from .views import api_view

OK, INVALID = "ok", "invalid"
MAX_LINES = 200
# ERP and server clocks drift; a time further ahead than this is a mistake (a wrong year, a wrong zone).
FUTURE_SLACK = timedelta(minutes=10)
# The services' field names -> the upload's.
SERVICE_FIELDS = {"tracking_no": "tracking_no", "carrier": "carrier_code", "erp_status": "status"}
LOGISTICS_FIELDS = ("order_no", "source", "carrier_code", "tracking_no")
SHIPMENT_FIELDS = ("order_no", "source", "carrier_code", "tracking_no", "shipped_at", "lines")
LINE_FIELDS = ("line_no", "erp_product_id", "quantity", "batch_no", "production_date", "expiry_date")
ERP_STATUS_FIELDS = ("order_no", "source", "status", "at", "note")


class Invalid(Exception):
    """The item cannot apply; its Fields hold the reasons."""


@dataclass
class Upload:
    merchant: object
    actor: Actor
    carriers: dict[str, Carrier]


def _batch(request, handle, known: tuple[str, ...]) -> JsonResponse:
    raw = batch_items(json_body(request))
    upload = Upload(merchant=request.api_credential.merchant, actor=Actor.system(source=AuditSource.API),
                    carriers={c.code: c for c in Carrier.objects.filter(is_active=True)})
    with transaction.atomic():
        results = [_apply_one(Fields(item, f"items[{index}]", known), index, handle, upload)
                   for index, item in enumerate(raw)]
    counts = {OK: 0, "held": 0, INVALID: 0}
    for result in results:
        counts[result["status"]] += 1
    return JsonResponse({"results": results, "counts": counts})


def _apply_one(fields: Fields, index: int, handle, upload: Upload) -> dict:
    order_no = fields.raw.get("order_no")
    answer = {"index": index, "key": order_no if isinstance(order_no, str) else ""}
    try:
        with transaction.atomic():
            done = handle(fields, upload)
    except Invalid:
        pass
    except ValidationError as error:
        _service_errors(fields, error)
    if fields.errors:
        return answer | {"status": INVALID, "errors": fields.errors_json()}
    return answer | {"status": OK, **done}


def _service_errors(fields: Fields, error: ValidationError) -> None:
    """A service's refusal at the upload's field (its messages are the back office's, in the API's language)."""
    by_field = error.error_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.error_list}
    for name, errors in by_field.items():
        messages = [message for e in errors for message in e.messages]
        fields.error(SERVICE_FIELDS.get(name, ""), " ".join(messages))


def _check(fields: Fields) -> None:
    if fields.errors:
        raise Invalid


def _order(fields: Fields, merchant) -> Order | None:
    """The merchant's order the item names; None (with the reason) when there is not exactly one."""
    order_no = fields.text("order_no", 64, required=True)
    source = fields.choice("source", OrderSource.values)
    if not order_no or fields.at("source") in fields.errors:
        return None
    found = Order.objects.filter(merchant=merchant, order_no=order_no)
    found = list((found.filter(source=source) if source else found)[:2])
    if not found:
        fields.error("order_no", _("no order with this number"))
        return None
    if len(found) > 1:
        fields.error("source", _("an own-storefront and a marketplace order have this number; give source"))
        return None
    return found[0]


def _carrier(fields: Fields, upload: Upload, required: bool) -> Carrier | None:
    code = fields.text("carrier_code", 30, required)
    if code and code not in upload.carriers:
        fields.error("carrier_code", _("unknown carrier (GET /api/v1/carriers lists the codes)"))
    return upload.carriers.get(code)


def _not_future(fields: Fields, name: str, moment) -> None:
    if moment is not None and moment > timezone.now() + FUTURE_SLACK:
        fields.error(name, _("is in the future"))


@api_view(("POST",), write=True)
def logistics_upload(request):
    """Carrier and tracking number for everything of an order not shipped yet: the order becomes shipped.
    Sending the same carrier and tracking number again for an order they shipped is answered ok, unchanged."""
    return _batch(request, _logistics_one, LOGISTICS_FIELDS)


def _logistics_one(fields: Fields, upload: Upload) -> dict:
    order = _order(fields, upload.merchant)
    carrier = _carrier(fields, upload, required=True)
    tracking_no = fields.text("tracking_no", 64, required=True)
    _check(fields)
    # An ERP retries after a lost answer; the repeat must not read as a failure.
    if order.status not in SHIPPABLE and order.shipments.filter(carrier=carrier, tracking_no=tracking_no).exists():
        return {"changed": False, "order_status": order.status}
    shipment = order_logistics_enter(order=order, carrier=carrier, tracking_no=tracking_no, actor=upload.actor)
    return {"changed": True, "order_status": shipment.order.status}


@dataclass
class _Line:
    fields: Fields
    line_no: int | None
    erp_product_id: str
    quantity: int | None
    batch_no: str
    production_date: date | None
    expiry_date: date | None


@api_view(("POST",), write=True)
def shipments_upload(request):
    """A (partial) shipment per item: per order line the quantity, batch, production and expiry date. A line
    is named by `line_no` or by `erp_product_id` (when one line of the order has it). Without carrier_code
    and tracking_no the shipment goes with the order's last carrier and tracking number (the same parcel).
    Not deduplicated (two equal partial shipments can both be real): retry with an Idempotency-Key."""
    return _batch(request, _shipment_one, SHIPMENT_FIELDS)


def _shipment_one(fields: Fields, upload: Upload) -> dict:
    order = _order(fields, upload.merchant)
    carrier = _carrier(fields, upload, required=False)
    tracking_no = fields.text("tracking_no", 64)
    shipped_at = fields.moment("shipped_at")
    _not_future(fields, "shipped_at", shipped_at)
    lines = [_line(Fields(raw, f"{fields.path}.lines[{j}]", LINE_FIELDS, fields.errors))
             for j, raw in enumerate(fields.objects("lines", MAX_LINES))]
    _check(fields)
    if fields.given("carrier_code") != fields.given("tracking_no"):
        fields.error("tracking_no" if carrier else "carrier_code", _("give carrier_code and tracking_no together"))
    elif carrier is None:
        if order.carrier is None or not order.tracking_no:
            fields.error("carrier_code", _("required: this order has no earlier shipment to go with"))
        carrier, tracking_no = order.carrier, order.tracking_no
    items = _lines_resolve(order, lines)
    _check(fields)
    shipment = order_shipment_add(
        order=order, carrier=carrier, tracking_no=tracking_no, actor=upload.actor, shipped_at=shipped_at,
        lines=[ShipmentLine(order_item=items[n], quantity=line.quantity, batch_no=line.batch_no,
                            production_date=line.production_date, expiry_date=line.expiry_date)
               for n, line in enumerate(lines)])
    return {"changed": True, "order_status": shipment.order.status}


def _line(fields: Fields) -> _Line:
    line = _Line(
        fields=fields, line_no=fields.integer("line_no", 1, 10**6), erp_product_id=fields.text("erp_product_id", 64),
        quantity=fields.integer("quantity", 1, required=True), batch_no=fields.text("batch_no", 64),
        production_date=fields.day("production_date"), expiry_date=fields.day("expiry_date"),
    )
    if not fields.given("line_no") and not fields.given("erp_product_id"):
        fields.error("line_no", _("give line_no or erp_product_id"))
    if line.production_date and line.expiry_date and line.expiry_date <= line.production_date:
        fields.error("expiry_date", _("must be after the production date"))
    return line


def _lines_resolve(order: Order, lines: list[_Line]) -> list[OrderItem]:
    """The order line each shipment line names, checked against what is left to ship (the service checks
    again under the order's lock; this names the offending line for the ERP)."""
    items = list(order.items.all())
    by_no = {item.line_no: item for item in items}
    resolved = []
    for line in lines:
        if line.line_no is not None:
            item = by_no.get(line.line_no)
            if item is None:
                line.fields.error("line_no", _("this order has no line %(line)s") % {"line": line.line_no})
            elif line.erp_product_id and line.erp_product_id != item.erp_product_id:
                line.fields.error("erp_product_id", _("line %(line)s is ERP product id %(id)s") % {
                    "line": item.line_no, "id": item.erp_product_id})
        else:
            matching = [item for item in items if item.erp_product_id == line.erp_product_id]
            item = matching[0] if len(matching) == 1 else None
            if not matching:
                line.fields.error("erp_product_id", _("no line of this order has this ERP product id"))
            elif len(matching) > 1:
                line.fields.error("erp_product_id", _("several lines of this order have this ERP product id; "
                                                    "give line_no"))
        resolved.append(item)
    if order.status in SHIPPABLE:  # otherwise the service gives the reason: the order's status
        left = remaining_quantities(order)
        asked: dict[int, int] = {}
        for line, item in zip(lines, resolved):
            if item is not None and line.quantity:
                asked[item.pk] = asked.get(item.pk, 0) + line.quantity
                if asked[item.pk] > left[item.pk]:
                    line.fields.error("quantity", _("line %(line)s has %(left)s not yet shipped (%(asked)s asked in "
                                                    "this shipment)") % {
                        "line": item.line_no, "left": left[item.pk], "asked": asked[item.pk]})
    return resolved


@api_view(("POST",), write=True)
def erp_status_upload(request):
    """The ERP's progress on an order: each status adds a tracking entry (with `note` as its text, else the
    standard one), statuses only move forward, and "signed" completes a shipped order. Sending the order's
    current ERP status again is answered ok, unchanged."""
    return _batch(request, _erp_status_one, ERP_STATUS_FIELDS)


def _erp_status_one(fields: Fields, upload: Upload) -> dict:
    order = _order(fields, upload.merchant)
    status = fields.choice("status", [str(s) for s in ERP_FLOW], required=True)
    at = fields.moment("at")
    _not_future(fields, "at", at)
    note = fields.text("note", 300)
    _check(fields)
    if order.erp_status == status:
        return {"changed": False, "order_status": order.status}
    entry = order_erp_status_add(order=order, erp_status=status, actor=upload.actor, at=at, message=note)
    return {"changed": True, "order_status": entry.order.status}

