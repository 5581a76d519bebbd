"""Shop orders and after-sales as /order/searchList and /afterSale/List send them (fields of zsmhub/doudian-sdk
api/order_searchList/response and api/afterSale_List/response)."""


def shop_order(order_id="4923812345678901234", *, status=2, update_time=1764806400, code="ERP-1", **extra):
    record = {
        "order_id": order_id, "order_status": status, "order_status_desc": "备货中",
        "create_time": 1764806000, "update_time": update_time, "pay_time": 1764806100, "ship_time": 0,
        "finish_time": 0, "order_amount": 12345, "pay_amount": 11345, "post_amount": 1000,
        "promotion_amount": 1000, "buyer_words": "请尽快发货", "seller_words": "",
        "encrypt_post_receiver": "#ENC#name", "mask_post_receiver": "张**",
        "encrypt_post_tel": "$ENC$tel", "mask_post_tel": "138****0000",
        "post_addr": {"province": {"name": "浙江省"}, "city": {"name": "杭州市"}, "town": {"name": "西湖区"},
                      "street": {"name": "文三路"}, "encrypt_detail": "#ENC#detail", "detail": "1**号"},
        "sku_order_list": [{
            "order_id": "4923812345678901235", "parent_order_id": order_id, "code": code, "sku_id": 1750000000001,
            "product_id": 3600000000000000001, "product_name": "绿茶 250g", "spec": [{"name": "重量", "value": "250g"}],
            "item_num": 2, "origin_amount": 5673, "pay_amount": 11345, "goods_price": 5673,
            "after_sale_info": {"after_sale_status": 0, "after_sale_type": 0, "refund_status": 0},
        }],
    }
    record.update(extra)
    return record


def aftersale(aftersale_id="7100000000000000001", *, order_id="4923812345678901234",
              line_id="4923812345678901235", status=6, refund_status=1, update_time=1764806500):
    return {"aftersale_info": {"aftersale_id": aftersale_id, "aftersale_type": 2, "aftersale_status": status,
                               "refund_status": refund_status, "update_time": update_time, "refund_amount": 5673},
            "order_info": {"shop_order_id": order_id, "related_order_info": [{"sku_order_id": line_id}]}}
