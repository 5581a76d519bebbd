"""The sandbox's records in Douyin's answer shapes (field names and types of the official Go SDK's
api/*/response structs: order_searchList, afterSale_List, product_listV2, sku_list, sku_stockNum). The
platform mixes id types and so does the sandbox: order ids, after-sale ids and the SKU order's parent id are
strings, while sku_id, product_id and shop_id are JSON integers (int64 in the SDK; 19 digits, so a client
must read them as integers or strings, never floats). Money is fen; times are epoch seconds (0 when not
happened yet)."""
from datetime import datetime

from . import cipher
from .models import DouyinAfterSale, DouyinOrder, DouyinProduct, DouyinSku, DouyinSkuOrder, OrderStatus

# /order/logisticsCompanyList: Douyin names carriers by pinyin codes.
LOGISTICS_COMPANIES = [
    {"id": 7, "name": "顺丰速运", "code": "shunfeng"},
    {"id": 12, "name": "中通快递", "code": "zhongtong"},
    {"id": 15, "name": "圆通速递", "code": "yuantong"},
    {"id": 16, "name": "申通快递", "code": "shentong"},
    {"id": 17, "name": "韵达快递", "code": "yunda"},
    {"id": 22, "name": "京东物流", "code": "jd"},
    {"id": 3, "name": "EMS", "code": "ems"},
    {"id": 29, "name": "德邦快递", "code": "debangwuliu"},
]


def order_shape(order: DouyinOrder) -> dict:
    receiver, auth_id = order.receiver, order.shop_order_id
    return {
        "order_id": order.shop_order_id, "order_status": order.status,
        "order_status_desc": OrderStatus(order.status).label,
        "create_time": _epoch(order.create_time), "update_time": _epoch(order.update_time),
        "pay_time": _epoch(order.pay_time), "ship_time": _epoch(order.ship_time),
        "finish_time": _epoch(order.finish_time),
        "order_amount": order.order_amount, "pay_amount": order.pay_amount, "post_amount": order.post_amount,
        "promotion_amount": order.promotion_amount, "buyer_words": order.buyer_words,
        "seller_words": order.seller_words, "shop_id": order.shop.shop_id,
        "encrypt_post_receiver": cipher.encrypt(auth_id, receiver.get("name", "")),
        "mask_post_receiver": cipher.mask_name(receiver.get("name", "")),
        "encrypt_post_tel": cipher.encrypt(auth_id, receiver.get("tel", "")),
        "mask_post_tel": cipher.mask_tel(receiver.get("tel", "")),
        "post_addr": {
            "province": {"name": receiver.get("province", ""), "id": ""},
            "city": {"name": receiver.get("city", ""), "id": ""},
            "town": {"name": receiver.get("town", ""), "id": ""},
            "street": {"name": receiver.get("street", ""), "id": ""},
            "encrypt_detail": cipher.encrypt(auth_id, receiver.get("detail", "")),
            "detail": cipher.mask_detail(receiver.get("detail", "")),
        },
        "logistics_info": ([{"company": order.company_code, "tracking_no": order.logistics_code,
                             "ship_time": _epoch(order.ship_time)}] if order.logistics_code else []),
        "sku_order_list": [_sku_order_shape(order, line) for line in order.sku_orders.all()],
    }


def _sku_order_shape(order: DouyinOrder, line: DouyinSkuOrder) -> dict:
    return {
        "order_id": line.sku_order_id, "parent_order_id": order.shop_order_id, "code": line.code,
        "sku_id": line.sku_id, "product_id": line.product_id, "product_name": line.product_name,
        "spec": [{"name": "规格", "value": line.spec_name}] if line.spec_name else [],
        "item_num": line.item_num, "origin_amount": line.origin_amount, "pay_amount": line.pay_amount,
        "goods_price": line.goods_price, "order_status": order.status,
        "after_sale_info": {"after_sale_status": line.after_sale_status,
                            "after_sale_type": line.after_sale_type if line.after_sale_type is not None else 0,
                            "refund_status": line.refund_status},
    }


def after_sale_shape(after_sale: DouyinAfterSale) -> dict:
    order, line = after_sale.order, after_sale.sku_order
    return {
        "aftersale_info": {
            "aftersale_id": after_sale.aftersale_id, "aftersale_order_type": 1,
            "aftersale_type": after_sale.aftersale_type, "aftersale_status": after_sale.aftersale_status,
            "refund_status": after_sale.refund_status, "related_id": line.sku_order_id,
            "apply_time": _epoch(after_sale.apply_time), "create_time": _epoch(after_sale.apply_time),
            "update_time": _epoch(after_sale.update_time), "refund_amount": after_sale.refund_amount,
            "refund_post_amount": 0, "aftersale_num": line.item_num, "got_pkg": 1 if order.ship_time else 0,
        },
        "order_info": {
            "shop_order_id": order.shop_order_id,
            "related_order_info": [{
                "sku_order_id": line.sku_order_id, "order_status": order.status, "pay_amount": line.pay_amount,
                "item_num": line.item_num, "product_name": line.product_name, "product_id": line.product_id,
                "shop_sku_code": line.code, "aftersale_pay_amount": after_sale.refund_amount,
                "aftersale_item_num": line.item_num, "price": line.goods_price,
            }],
        },
        "text_part": {"reason_text": after_sale.reason},
    }


def product_shape(product: DouyinProduct) -> dict:
    return {"product_id": product.product_id, "name": product.name, "status": 0 if product.online else 1,
            "check_status": 3, "update_time": _epoch(product.modified)}


def sku_shape(sku: DouyinSku) -> dict:
    return {"id": sku.sku_id, "product_id": sku.product.product_id, "code": sku.code,
            "spec_detail_name1": sku.spec_name, "stock_num": sku.stock_num, "price": sku.price}


def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0
