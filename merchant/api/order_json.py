"""Orders as the Open API answers them: the five parts the source names (basic info, amounts, shipping,
invoice, items), money as 2-decimal strings (never a float), times as ISO 8601 with the offset of the
platform's time zone. The shape is ORDER in order_schemas.py."""
from collections import defaultdict

from django.db.models import Prefetch
from django.utils import timezone

from merchant.models import ErpCustomerCode, Order, Shipment


def orders_with_parts(queryset):
    """The queryset with what order_json reads, in a fixed number of queries for a whole page."""
    return queryset.select_related("customer", "carrier").prefetch_related(
        "items", Prefetch("shipments", Shipment.objects.select_related("carrier").prefetch_related("items")))


def orders_json(merchant, orders: list[Order]) -> list[dict]:
    """The orders (from orders_with_parts) with each customer's ERP code for this merchant (one query)."""
    customer_ids = {order.customer_id for order in orders if order.customer_id}
    codes = dict(ErpCustomerCode.objects.filter(merchant=merchant, customer_id__in=customer_ids)
                 .values_list("customer_id", "code")) if customer_ids else {}
    return [order_json(order, codes) for order in orders]


def _money(value) -> str:
    return f"{value:.2f}"


def _moment(value) -> str | None:
    return timezone.localtime(value).isoformat() if value else None


def _day(value) -> str | None:
    return value.isoformat() if value else None


def order_json(order: Order, codes: dict[int, str]) -> dict:
    shipments, shipped_lines = [], defaultdict(list)
    for shipment in order.shipments.all():
        shipments.append({"carrier_code": shipment.carrier.code, "carrier_name": shipment.carrier.name,
                          "tracking_no": shipment.tracking_no, "shipped_at": _moment(shipment.shipped_at)})
        for line in shipment.items.all():
            shipped_lines[line.order_item_id].append({
                "quantity": line.quantity, "batch_no": line.batch_no, "production_date": _day(line.production_date),
                "expiry_date": _day(line.expiry_date), "tracking_no": shipment.tracking_no,
            })
    customer = order.customer
    return {
        "order_no": order.order_no,
        "source": order.source,
        "basic": {
            "status": order.status, "platform_status": order.platform_status,
            "erp_status": order.erp_status or None, "refund_status": order.refund_status or None,
            "is_presale": order.is_presale, "presale_status": order.presale_status,
            "presale_frozen": order.presale_frozen, "presale_balance_due_at": _moment(order.presale_balance_due_at),
            "created_at": _moment(order.created_at), "modified_at": _moment(order.modified_at),
            "paid_at": _moment(order.paid_at), "payment": order.payment,
            "buyer_nick": order.buyer_nick, "buyer_message": order.buyer_message,
            "customer": None if customer is None else {
                "name": customer.name, "uscc": customer.uscc, "erp_customer_code": codes.get(customer.pk)},
            "taken_by_erp": order.taken_by_erp, "taken_at": _moment(order.taken_at),
            "has_unmapped_lines": order.has_unmapped_lines,
        },
        "amounts": {
            "goods_amount": _money(order.goods_amount), "shipping_fee": _money(order.shipping_fee),
            "discount_amount": _money(order.discount_amount), "total_amount": _money(order.total_amount),
            "paid_amount": _money(order.paid_amount),
        },
        "shipping": {
            "receiver_name": order.receiver_name, "receiver_phone": order.receiver_phone,
            "province": order.receiver_province, "city": order.receiver_city,
            "district": order.receiver_district, "address": order.receiver_address,
            "carrier_code": order.carrier.code if order.carrier else None, "tracking_no": order.tracking_no,
            "shipped_at": _moment(order.shipped_at), "completed_at": _moment(order.completed_at),
            "shipments": shipments,
        },
        "invoice": {
            "type": order.invoice_type, "title": order.invoice_title, "tax_no": order.invoice_tax_no,
            "email": order.invoice_email,
        },
        "items": [{
            "line_no": item.line_no, "erp_product_id": item.erp_product_id, "item_name": item.item_name,
            "spec": item.spec, "quantity": item.quantity, "unit_price": _money(item.unit_price),
            "amount": _money(item.amount), "refund_status": item.refund_status or None,
            # The batch numbers the buyer sees, and what each shipment of the line carried.
            "batch_numbers": [batch for batch in item.batch_no.split(",") if batch],
            "shipped_quantity": sum(line["quantity"] for line in shipped_lines[item.pk]),
            "shipments": shipped_lines[item.pk],
        } for item in order.items.all()],
    }
