"""JSON Schemas (OpenAPI 3.0: `nullable`, no type lists) of the order endpoints, exactly what the views in
order_query.py and orders.py accept and answer, for the OpenAPI document (openapi.py calls openapi_paths()).

Limits and value lists come from the code that enforces them, so the two cannot drift apart.
"""
from inspect import cleandoc

from django.conf import settings

from merchant.models import OrderSource, OrderStatus, RefundStatus
from merchant.services.orders import ERP_FLOW

from .order_query import DEFAULT_LIMIT, MAX_LIMIT
from .order_takes import TAKE_KEEP
from .orders import FUTURE_SLACK, MAX_LINES

PREFIX = "/api/v1"
INT_MAX = 2**31 - 1
ERP_STATUSES = [str(status) for status in ERP_FLOW]
# A nullable enum lists null itself (OpenAPI 3.0.3: an enum restricts null too), so every document that uses
# these schemas (this API's and the ERP bridge contract's) is right for strict client generators.
REFUND_STATUSES = [*(s for s in RefundStatus.values if s), None]
SLACK = f"{int(FUTURE_SLACK.total_seconds() // 60)} minutes"


def _text(max_length: int, description: str = "", nullable: bool = True, **extra) -> dict:
    schema = {"type": "string", "maxLength": max_length, **extra}
    if nullable:
        schema["nullable"] = True
    if description:
        schema["description"] = description
    return schema


def _required_text(max_length: int, description: str = "", **extra) -> dict:
    return _text(max_length, description, nullable=False, minLength=1, **extra)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


MONEY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "example": "12.50",
         "description": "Money in CNY with 2 decimals, as a string (never a float)."}
MOMENT = {"type": "string", "format": "date-time", "example": "2026-03-01T08:00:00+08:00"}
NULLABLE_MOMENT = {**MOMENT, "nullable": True}
DAY = {"type": "string", "format": "date", "nullable": True, "example": "2026-03-01"}
SOURCE = {"type": "string", "enum": [*OrderSource.values, None], "nullable": True,
          "description": "Only needed when an own-storefront and a marketplace order share the number."}
ORDER_NO = _required_text(64, "The order number, as in the order query.")


def _object(properties: dict, required=None, **extra) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties if required is None else required),
            "additionalProperties": False, **extra}


SHIPMENT_BATCH = _object({
    "quantity": {"type": "integer", "minimum": 1},
    "batch_no": {"type": "string", "description": "Empty when the shipment named no batch."},
    "production_date": {**DAY}, "expiry_date": {**DAY},
    "tracking_no": {"type": "string", "description": "The shipment (parcel) that carried it."},
})

ORDER_LINE = _object({
    "line_no": {"type": "integer", "minimum": 1, "description": "Names the line in shipment uploads."},
    "erp_product_id": {"type": "string"},
    "item_name": {"type": "string"},
    "spec": {"type": "string"},
    "quantity": {"type": "integer", "minimum": 1},
    "unit_price": MONEY,
    "amount": MONEY,
    "refund_status": {"type": "string", "enum": REFUND_STATUSES, "nullable": True,
                      "description": "The line's refund; null when none was asked for."},
    "batch_numbers": {"type": "array", "items": {"type": "string"},
                      "description": "The batch numbers shown to the buyer."},
    "shipped_quantity": {"type": "integer", "minimum": 0, "description": "Shipped so far, over all shipments."},
    "shipments": {"type": "array", "items": SHIPMENT_BATCH, "description": "What each shipment of the line carried."},
})

ORDER = _object({
    "order_no": {"type": "string", "description": "The order number (top level, outside `basic`); the uploads name "
                                                  "the order by it."},
    "source": {"type": "string", "enum": list(OrderSource.values),
               "description": "Own storefront or marketplace (top level); give it in uploads when both have an "
                              "order with this number."},
    "basic": _object({
        "status": {"type": "string", "enum": list(OrderStatus.values), "description": "The platform's status."},
        "platform_status": {"type": "string", "description": "The marketplace's own status, if any."},
        "erp_status": {"type": "string", "enum": [*ERP_STATUSES, None], "nullable": True,
                       "description": "The last status the ERP uploaded; null before the first."},
        "refund_status": {"type": "string", "enum": REFUND_STATUSES, "nullable": True,
                          "description": "null when no refund was asked for."},
        "is_presale": {"type": "boolean"},
        "presale_status": {"type": "string", "description": (
            "The marketplace's presale stage (TOP step_trade_status), empty for other orders. A presale whose "
            "balance is unpaid is only offered when the merchant hands presales over at deposit: then "
            "FRONT_PAID_FINAL_NOPAID, and presale_frozen is true.")},
        "presale_frozen": {"type": "boolean", "description": (
            "Deposit paid, balance not yet and its deadline not passed: the quantity is frozen for the buyer.")},
        "presale_balance_due_at": {**NULLABLE_MOMENT, "description": (
            "When the balance of a deposit-paid presale falls due, when the marketplace said; else null.")},
        "created_at": MOMENT, "modified_at": MOMENT, "paid_at": NULLABLE_MOMENT,
        "payment": {"type": "string"},
        "buyer_nick": {"type": "string"},
        "buyer_message": {"type": "string"},
        "customer": {**_object({
            "name": {"type": "string"},
            "uscc": {"type": "string", "description": "Unified social credit code."},
            "erp_customer_code": {"type": "string", "nullable": True,
                                  "description": "This merchant's ERP code for the customer, if set."},
        }), "nullable": True},
        "taken_by_erp": {"type": "boolean", "description": "Whether an ERP query has marked it taken."},
        "taken_at": {**NULLABLE_MOMENT, "description": "When it was first marked taken."},
        "has_unmapped_lines": {"type": "boolean",
                               "description": "Some lines name an ERP product id none of the products has."},
    }),
    "amounts": _object({name: MONEY for name in (
        "goods_amount", "shipping_fee", "discount_amount", "total_amount", "paid_amount")}),
    "shipping": _object({
        **{name: {"type": "string"} for name in (
            "receiver_name", "receiver_phone", "province", "city", "district", "address")},
        "carrier_code": {"type": "string", "nullable": True, "description": "Of the last shipment; null before."},
        "tracking_no": {"type": "string", "description": "Of the last shipment; empty before."},
        "shipped_at": NULLABLE_MOMENT,
        "completed_at": NULLABLE_MOMENT,
        "shipments": {"type": "array", "items": _object({
            "carrier_code": {"type": "string"}, "carrier_name": {"type": "string"},
            "tracking_no": {"type": "string"}, "shipped_at": MOMENT,
        })},
    }),
    "invoice": _object({name: {"type": "string"} for name in ("type", "title", "tax_no", "email")}),
    "items": {"type": "array", "items": ORDER_LINE},
}, description="An order in the five parts: basic info, amounts, shipping, invoice, items.")

ORDERS_PAGE = _object({
    "orders": {"type": "array", "items": _ref("Order"), "maxItems": MAX_LIMIT,
               "description": "The page, oldest first (or newest first with `order=newest`)."},
    "next_cursor": {"type": "string", "nullable": True,
                    "description": "Pass as `cursor` for the next page; null on the last page."},
    "marked": {"type": "boolean", "description": "Whether the orders returned are now marked taken by the ERP."},
    "newly_marked": {"type": "integer", "minimum": 0,
                     "description": "How many of them this request marked (the others were taken already)."},
    "reason": {"type": "string", "nullable": True, "description": "Why they were not marked (null when they were)."},
    "take_id": {"type": "string", "nullable": True, "maxLength": 40,
                "description": f"When the orders were marked: the id that fetches this page again with GET "
                               f"{PREFIX}/orders/takes/{{take_id}} (kept {TAKE_KEEP.days} days); null when nothing "
                               f"was marked."},
})

_STATUS_ONE = "|".join(OrderStatus.values)
ORDERS_QUERY_PARAMS = [
    {"name": "created_from", "in": "query", "required": False, "schema": MOMENT,
     "description": "Orders created at or after this time (ISO 8601 with a UTC offset; encode `+` as %2B)."},
    {"name": "created_to", "in": "query", "required": False, "schema": MOMENT,
     "description": "Orders created before this time; must be after created_from."},
    {"name": "status", "in": "query", "required": False,
     "schema": {"type": "string", "pattern": f"^({_STATUS_ONE})(,({_STATUS_ONE}))*$"},
     "description": "One status or several, comma-separated."},
    {"name": "sync_status", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["taken", "not_taken"]},
     "description": "Whether the ERP has taken the order already."},
    {"name": "order_no", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 64},
     "description": "Exactly this order number."},
    {"name": "source", "in": "query", "required": False,
     "schema": {"type": "string", "enum": list(OrderSource.values)}, "description": "Only orders of this source."},
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
     "description": "Orders per page."},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "`next_cursor` of the previous page, as it came (with the same `order`)."},
    {"name": "order", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["oldest", "newest"], "default": "oldest"},
     "description": "Oldest (by creation time) first, or newest first."},
    {"name": "mark", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["true", "false"], "default": "true"},
     "description": "`false` returns the orders without marking them taken."},
]

CARRIER = _object({"code": {"type": "string"}, "name": {"type": "string"}})
CARRIERS = _object({"carriers": {"type": "array", "items": _ref("Carrier")}})

CARRIER_CODE = _text(30, "A code from GET /api/v1/carriers.", minLength=1)
TRACKING_NO = _text(64, "The carrier's tracking number.", minLength=1)

LOGISTICS_ITEM = _object({
    "order_no": ORDER_NO, "source": SOURCE,
    "carrier_code": {**CARRIER_CODE, "nullable": False}, "tracking_no": {**TRACKING_NO, "nullable": False},
}, required=["order_no", "carrier_code", "tracking_no"])

SHIPMENT_LINE = _object({
    "line_no": {"type": "integer", "minimum": 1, "maximum": 10**6, "nullable": True,
                "description": "The order line (`line_no` in the order query)."},
    "erp_product_id": _text(64, "Names the line when one line of the order has this ERP product id."),
    "quantity": {"type": "integer", "minimum": 1, "maximum": INT_MAX,
                 "description": "At most what is left to ship of the line."},
    "batch_no": _text(64),
    "production_date": DAY,
    "expiry_date": {**DAY, "description": "After the production date."},
}, required=["quantity"], anyOf=[{"required": ["line_no"]}, {"required": ["erp_product_id"]}])

SHIPMENT_ITEM = _object({
    "order_no": ORDER_NO, "source": SOURCE,
    "carrier_code": {**CARRIER_CODE, "description": "With tracking_no, or neither: the order's last carrier and "
                                                    "tracking number (the same parcel)."},
    "tracking_no": TRACKING_NO,
    "shipped_at": {**NULLABLE_MOMENT, "description": f"Default now; at most {SLACK} ahead of the server's clock."},
    "lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": _ref("ShipmentLine")},
}, required=["order_no", "lines"])

ERP_STATUS_ITEM = _object({
    "order_no": ORDER_NO, "source": SOURCE,
    "status": {"type": "string", "enum": ERP_STATUSES,
               "description": "Moves forward only; signed completes a shipped order."},
    "at": {**NULLABLE_MOMENT,
           "description": f"When it happened; default now; at most {SLACK} ahead of the server's clock."},
    "note": _text(300, "The tracking entry's text; default the standard text of the status."),
}, required=["order_no", "status"])

ORDER_OK_RESULT = _object({
    "index": {"type": "integer", "minimum": 0},
    "key": {"type": "string", "description": "The item's order_no."},
    "status": {"type": "string", "enum": ["ok"]},
    "changed": {"type": "boolean", "description": "false when the upload repeated what the order already had."},
    "order_status": {"type": "string", "enum": list(OrderStatus.values), "description": "The order's status now."},
})
ORDER_ITEM_RESULT = {"oneOf": [_ref("OrderOkResult"), _ref("InvalidResult")],
                     "discriminator": {"propertyName": "status", "mapping": {
                         "ok": "#/components/schemas/OrderOkResult",
                         "invalid": "#/components/schemas/InvalidResult"}}}
ORDER_BATCH_RESULT = _object({"results": {"type": "array", "items": _ref("OrderItemResult")},
                              "counts": _ref("Counts")},
                             description="`counts.held` is always 0: fulfilment uploads always apply.")

SCHEMAS = {
    "Order": ORDER, "OrdersPage": ORDERS_PAGE, "Carrier": CARRIER, "Carriers": CARRIERS,
    "LogisticsItem": LOGISTICS_ITEM, "ShipmentItem": SHIPMENT_ITEM, "ShipmentLine": SHIPMENT_LINE,
    "ErpStatusItem": ERP_STATUS_ITEM, "OrderOkResult": ORDER_OK_RESULT, "OrderItemResult": ORDER_ITEM_RESULT,
    "OrderBatchResult": ORDER_BATCH_RESULT,
}


def _errors(*statuses: int) -> dict:
    return {str(status): {"$ref": f"#/components/responses/Error{status}"} for status in statuses}


def _upload(operation_id: str, summary: str, description: str, item: str) -> dict:
    return {"post": {
        "operationId": operation_id, "tags": ["orders"], "summary": summary, "description": description,
        "parameters": [{"$ref": "#/components/parameters/IdempotencyKey"}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _object({"items": {
            "type": "array", "minItems": 1, "maxItems": settings.API_MAX_ITEMS, "items": _ref(item)}})}}},
        "responses": {
            "200": {"description": "Each item answered on its own, in order: ok (applied) or invalid (per field "
                                   "path, nothing of this item written).",
                    "headers": {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}},
                    "content": {"application/json": {"schema": _ref("OrderBatchResult")}}},
            **_errors(400, 401, 405, 413, 422, 429),
        },
    }}


def _doc(*documented) -> str:
    return "\n\n".join(cleandoc(thing.__doc__) for thing in documented)


def openapi_paths() -> tuple[dict, dict]:
    """(paths, component schemas) of the order endpoints for the OpenAPI document."""
    from . import order_query, order_takes, orders

    paths = {
        f"{PREFIX}/orders": {"get": {
            "operationId": "orders_query", "tags": ["orders"], "summary": "Query orders (and take them)",
            "description": _doc(order_query.orders_query, order_query),
            "parameters": ORDERS_QUERY_PARAMS,
            "responses": {"200": {"description": "One page of orders.", "content": {"application/json": {
                "schema": _ref("OrdersPage")}}}, **_errors(400, 401, 405, 413, 429)},
        }},
        f"{PREFIX}/orders/takes/{{take_id}}": {"get": {
            "operationId": "orders_take", "tags": ["orders"], "summary": "A marking query's page again, by its take id",
            "description": _doc(order_query.order_take, order_takes),
            "parameters": [{"name": "take_id", "in": "path", "required": True,
                            "schema": {"type": "string", "maxLength": 40},
                            "description": "`take_id` of the answer to a marking GET /api/v1/orders."}],
            "responses": {"200": {"description": "The page as it was taken (the orders as they are now).",
                                  "content": {"application/json": {"schema": _ref("OrdersPage")}}},
                          **_errors(400, 401, 404, 405, 413, 429)},
        }},
        f"{PREFIX}/orders/logistics": _upload(
            "orders_logistics", "Upload logistics (the order becomes shipped)", _doc(orders.logistics_upload),
            "LogisticsItem"),
        f"{PREFIX}/orders/shipments": _upload(
            "orders_shipments", "Upload (partial) shipments with batch data", _doc(orders.shipments_upload),
            "ShipmentItem"),
        f"{PREFIX}/orders/erp-status": _upload(
            "orders_erp_status", "Upload ERP statuses (tracking entries; signed completes)",
            _doc(orders.erp_status_upload, orders), "ErpStatusItem"),
        f"{PREFIX}/carriers": {"get": {
            "operationId": "carriers", "tags": ["orders"], "summary": "The carrier code list",
            "description": _doc(order_query.carriers),
            "responses": {"200": {"description": "The active carriers.", "content": {"application/json": {
                "schema": _ref("Carriers")}}}, **_errors(400, 401, 405, 413, 429)},
        }},
    }
    return paths, SCHEMAS
