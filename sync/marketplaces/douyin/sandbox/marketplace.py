"""State changes of the sandbox Douyin shop: tokens, products and stock, orders, after-sales, and the push
messages they queue.

A change a buyer, the seller or the platform makes sets the order's update_time and queues the push message
Douyin would send (tags of douyin-protocol.md; data keys as the official Go SDK's message/ structs, e.g.
message/订单支付确认消息.go), only while the shop has push on, in the same transaction. Times are whole seconds.
"""
import json
import random
import secrets
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .models import (
    FINAL_AFTER_SALE_STATUSES, AfterSaleStatus, AfterSaleType, DouyinAfterSale, DouyinIdempotentId, DouyinOrder,
    DouyinProduct, DouyinPushMessage, DouyinSequence, DouyinShop, DouyinSku, DouyinSkuOrder, OrderStatus,
    RefundStatus,
)

ACCESS_LIFETIME = timedelta(days=7)
REFRESH_LIFETIME = timedelta(days=14)
# Within this much of the access token's expiry a refresh hands out a new pair; the old one lasts this long.
REFRESH_WINDOW = timedelta(hours=1)
PARCEL_TRANSIT = timedelta(minutes=10)
CHUNK = 1000
UNLISTED_PRICE = 1000
# 19-digit ids like Douyin's (below 2**63: the Go SDK parses p_id as int64).
ID_BASES = {
    "order": 6_920_000_000_000_000_000,
    "aftersale": 7_100_000_000_000_000_000,
    "msg": 7_300_000_000_000_000_000,
    "product": 3_600_000_000_000_000_000,
    "sku": 1_700_000_000_000_000_000,
}
TAG_CREATED, TAG_PAID, TAG_SHIPPED, TAG_FINISHED, TAG_CANCELLED = "100", "101", "102", "103", "106"
TAG_AS_CREATED, TAG_AS_REFUND_AGREED, TAG_AS_REFUND_SUCCESS, TAG_AS_CLOSED = "200", "201", "206", "207"
RECEIVERS = [
    ("浙江省", "杭州市", "西湖区", "文新街道"), ("广东省", "深圳市", "南山区", "粤海街道"),
    ("上海市", "上海市", "浦东新区", "花木街道"), ("北京市", "北京市", "朝阳区", "建外街道"),
    ("江苏省", "南京市", "鼓楼区", "华侨路街道"), ("四川省", "成都市", "武侯区", "玉林街道"),
]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"]
STREETS = ["文一西路", "科技园南路", "世纪大道", "建国路", "中山北路", "人民南路"]
BUYER_WORDS = ["请尽快发货", "发顺丰，谢谢", "需要开发票", "工作日送货"]
REASONS = ["不想要了", "拍错了/多拍了", "商品破损", "未按约定时间发货"]
GENERATED_STATUS_WEIGHTS = {
    OrderStatus.UNPAID: 10, OrderStatus.AWAITING_SHIPMENT: 35, OrderStatus.SHIPPED: 20,
    OrderStatus.FINISHED: 30, OrderStatus.CANCELLED: 5,
}

_rng = random.Random()


class Refused(Exception):
    """The platform refuses a change (a business failure: code 50002 or, for a bad argument, 40004)."""

    def __init__(self, message: str, *, code: int = 50002, sub_code: str = "isv.business-failed"):
        super().__init__(message)
        self.code, self.sub_code = code, sub_code


# Shops and tokens

def shop_create(*, app_key: str, app_secret: str, shop_id: int | None = None,
                shop_name: str = "抖店沙箱店铺") -> DouyinShop:
    """The shop with `app_key`, created or updated with these values."""
    shop_id = shop_id or 10_000_000 + zlib.crc32(app_key.encode()) % 90_000_000
    shop, _created = DouyinShop.objects.update_or_create(
        app_key=app_key, defaults={"app_secret": app_secret, "shop_id": shop_id, "shop_name": shop_name})
    return shop


def token_create(shop: DouyinShop, *, now: datetime) -> DouyinShop:
    """/token/create for a self-use app: the current pair while it has more than an hour left, else a new one."""
    with transaction.atomic():
        shop = DouyinShop.objects.select_for_update().get(pk=shop.pk)
        if not shop.access_token or shop.access_expires_at - now <= REFRESH_WINDOW:
            _new_pair(shop, now)
    return shop


def token_refresh(shop: DouyinShop, refresh_token: str, *, now: datetime) -> DouyinShop:
    """/token/refresh: the same pair more than an hour before expiry; within the last hour (or after) a new
    pair, the old access token valid one more hour while it had not expired. Raises Refused for a refresh token
    that is not the shop's or has expired."""
    with transaction.atomic():
        shop = DouyinShop.objects.select_for_update().get(pk=shop.pk)
        if not refresh_token or refresh_token != shop.refresh_token:
            raise Refused("refresh_token 无效", code=40004, sub_code="isv.invalid-refresh-token")
        if shop.refresh_expires_at <= now:
            raise Refused("refresh_token 已过期", code=40004, sub_code="isv.refresh-token-expired")
        if shop.access_expires_at - now > REFRESH_WINDOW:
            return shop
        _new_pair(shop, now)
    return shop


def token_state(shop: DouyinShop, token: str, *, now: datetime) -> str:
    """"ok", "expired" or "unknown" for an access token sent with a call."""
    if token and token == shop.access_token:
        return "ok" if shop.access_expires_at > now else "expired"
    if token and token == shop.previous_access_token:
        return "ok" if shop.previous_valid_until and shop.previous_valid_until > now else "expired"
    return "unknown"


def token_expire(shop: DouyinShop, *, now: datetime) -> None:
    """The access token expires now (the one-shot fault; a refresh then hands out a new pair)."""
    DouyinShop.objects.filter(pk=shop.pk).update(access_expires_at=now, previous_valid_until=None)
    shop.access_expires_at, shop.previous_valid_until = now, None


def _new_pair(shop: DouyinShop, now: datetime) -> None:
    if shop.access_token and shop.access_expires_at > now:
        shop.previous_access_token, shop.previous_valid_until = shop.access_token, now + REFRESH_WINDOW
    else:
        shop.previous_access_token, shop.previous_valid_until = "", None
    shop.access_token, shop.access_expires_at = secrets.token_hex(16), now + ACCESS_LIFETIME
    shop.refresh_token, shop.refresh_expires_at = secrets.token_hex(16), now + REFRESH_LIFETIME
    shop.save(update_fields=["access_token", "access_expires_at", "refresh_token", "refresh_expires_at",
                             "previous_access_token", "previous_valid_until"])


# Products and stock

def products_from_codes(shop: DouyinShop, products: Iterable[tuple[str, str, int, int]]) -> int:
    """Upsert one product with one SKU per `(code, name, price_fen, stock_num)`, keyed by the SKU code (the
    merchant's product code). Returns how many were written."""
    by_code = {str(code): (name, int(price), int(stock)) for code, name, price, stock in products}
    with transaction.atomic():
        existing = {sku.code: sku for sku in DouyinSku.objects.filter(product__shop=shop, code__in=list(by_code))}
        for code, sku in existing.items():
            _name, sku.price, sku.stock_num = by_code[code]
        DouyinSku.objects.bulk_update(existing.values(), ["price", "stock_num"], batch_size=CHUNK)
        new = [code for code in by_code if code not in existing]
        first_product, first_sku = _reserve_ids("product", len(new)), _reserve_ids("sku", len(new))
        made = DouyinProduct.objects.bulk_create([
            DouyinProduct(shop=shop, product_id=first_product + i, name=by_code[code][0][:200])
            for i, code in enumerate(new)], batch_size=CHUNK)
        DouyinSku.objects.bulk_create([
            DouyinSku(product=product, sku_id=first_sku + i, code=code, price=by_code[code][1],
                      stock_num=by_code[code][2])
            for i, (product, code) in enumerate(zip(made, new))], batch_size=CHUNK)
    return len(by_code)


def sku_find(shop: DouyinShop, *, sku_id: int | None = None, code: str = "") -> DouyinSku:
    """The SKU by sku_id, else by code; raises Refused when the shop has none."""
    skus = DouyinSku.objects.filter(product__shop=shop).select_related("product")
    sku = skus.filter(sku_id=sku_id).first() if sku_id else skus.filter(code=code).order_by("sku_id").first()
    if sku is None:
        raise Refused(f"SKU {sku_id or code} 不存在", sub_code="isv.business-failed:sku-not-exist")
    return sku


def stock_sync(shop: DouyinShop, *, sku_id: int | None, code: str, stock_num: int, incremental: bool,
               idempotent_id: str, now: datetime) -> DouyinSku:
    """/sku/syncStock: set the SKU's stock (full), or add `stock_num` (incremental, which needs an
    idempotent_id; a delta never takes stock below 0). A repeated idempotent_id is refused and changes nothing."""
    if incremental and not idempotent_id:
        raise Refused("增量更新库存必须传 idempotent_id", code=40004, sub_code="isv.parameter-invalid:idempotent_id")
    if not incremental and stock_num < 0:
        raise Refused("stock_num 不能为负数", code=40004, sub_code="isv.parameter-invalid:stock_num")
    with transaction.atomic():
        sku = sku_find(shop, sku_id=sku_id, code=code)
        if idempotent_id:
            try:
                with transaction.atomic():
                    DouyinIdempotentId.objects.create(shop=shop, idempotent_id=idempotent_id, sku_id=sku.sku_id,
                                                      stock_num=stock_num, incremental=incremental, at=now)
            except IntegrityError:
                raise Refused(f"idempotent_id {idempotent_id} 已使用，重复请求",
                              sub_code="isv.business-failed:idempotent-repeated") from None
        sku = DouyinSku.objects.select_for_update().get(pk=sku.pk)
        sku.stock_num = max(0, sku.stock_num + stock_num) if incremental else stock_num
        sku.save(update_fields=["stock_num", "modified"])
    return sku


def product_online_set(shop: DouyinShop, product_id: int, online: bool) -> DouyinProduct:
    product = DouyinProduct.objects.filter(shop=shop, product_id=product_id).first()
    if product is None:
        raise Refused(f"商品 {product_id} 不存在", sub_code="isv.business-failed:product-not-exist")
    product.online = online
    product.save(update_fields=["online", "modified"])
    return product


# Orders

def order_create(shop: DouyinShop, *, lines: Iterable[tuple[str, int]], status: int = OrderStatus.AWAITING_SHIPMENT,
                 created: datetime | None = None, buyer_words: str = "", post_amount: int = 0,
                 rng: random.Random | None = None) -> DouyinOrder:
    """A new order with one SKU order per `(code, item_num)`, priced from the shop's SKUs (a code the shop
    has no SKU for still makes a SKU order, sku_id 0, so clients meet unmapped lines)."""
    lines = [(str(code), int(num)) for code, num in lines]
    if not lines:
        raise ValueError("an order needs at least one SKU order")
    created = second(created)
    skus = {sku.code: sku for sku in DouyinSku.objects.filter(product__shop=shop, code__in=[c for c, _ in lines])
            .select_related("product")}
    with transaction.atomic():
        order, sku_orders = _order_build(shop, [(skus.get(code), code, num) for code, num in lines],
                                         first_id=_reserve_ids("order", 1 + len(lines)), status=status,
                                         created=created, times=_times_at(status, created), buyer_words=buyer_words,
                                         post_amount=post_amount, rng=rng or _rng)
        order.save()
        for sku_order in sku_orders:
            sku_order.order = order
        DouyinSkuOrder.objects.bulk_create(sku_orders)
        _publish(shop, _creation_messages(order, sku_orders))
    return order


def orders_generate(shop: DouyinShop, count: int, *, start: datetime, end: datetime, seed: int = 0) -> int:
    """Bulk-create `count` orders of 1-3 SKU orders from the shop's SKUs, created uniformly over [start, end],
    in a realistic mix of statuses (no push messages: they happened before anyone listened)."""
    rng = random.Random(seed)
    skus = list(DouyinSku.objects.filter(product__shop=shop).select_related("product"))
    if not skus:
        raise ValueError(f"shop {shop.shop_name} has no SKUs to sell; add products first")
    start, end = second(start), second(end)
    span = max(0, int((end - start).total_seconds()))
    made = 0
    while made < count:
        size = min(CHUNK, count - made)
        plans = [rng.sample(skus, k=min(len(skus), rng.randint(1, 3))) for _ in range(size)]
        statuses = rng.choices(list(GENERATED_STATUS_WEIGHTS), list(GENERATED_STATUS_WEIGHTS.values()), k=size)
        with transaction.atomic():
            next_id = _reserve_ids("order", size + sum(len(plan) for plan in plans))
            orders, lines = [], []
            for plan, status in zip(plans, statuses):
                created = start + timedelta(seconds=rng.randint(0, span))
                words = rng.choice(BUYER_WORDS) if rng.random() < 0.1 else ""
                order, sku_orders = _order_build(
                    shop, [(sku, sku.code, rng.randint(1, 3)) for sku in plan], first_id=next_id, status=status,
                    created=created, times=_times_generated(status, created, max(end, created), rng),
                    buyer_words=words, post_amount=rng.choice([0, 800]), rng=rng)
                next_id += 1 + len(plan)
                orders.append(order)
                lines.append(sku_orders)
            DouyinOrder.objects.bulk_create(orders, batch_size=CHUNK)
            for order, sku_orders in zip(orders, lines):
                for sku_order in sku_orders:
                    sku_order.order = order
            DouyinSkuOrder.objects.bulk_create([s for group in lines for s in group], batch_size=CHUNK)
        made += size
    return made


def order_pay(order: DouyinOrder, *, at: datetime | None = None) -> DouyinOrder:
    """The buyer paid: 1 -> 2 (备货中), tag 101."""
    at = second(at)
    with transaction.atomic():
        order = _lock(order)
        if order.status != OrderStatus.UNPAID:
            return order
        order.status, order.pay_time = OrderStatus.AWAITING_SHIPMENT, at
        _order_save(order, at, TAG_PAID)
    return order


def order_cancel(order: DouyinOrder, *, at: datetime | None = None, reason: str = "买家取消订单") -> DouyinOrder:
    """The buyer cancelled (or the unpaid order timed out): -> 4, tag 106."""
    at = second(at)
    with transaction.atomic():
        order = _lock(order)
        if order.status not in (OrderStatus.UNPAID, OrderStatus.PAID, OrderStatus.AWAITING_SHIPMENT):
            return order
        order.status, order.finish_time = OrderStatus.CANCELLED, at
        _order_save(order, at, TAG_CANCELLED, cancel_reason=reason, cancel_time=_epoch(at))
    return order


def order_ship(shop: DouyinShop, shop_order_id: str, *, company_code: str, logistics_code: str,
               at: datetime | None = None) -> DouyinOrder:
    """/order/logisticsAdd: the whole order shipped (2 -> 3, tag 102). Raises Refused for an unknown order or
    one that cannot ship (unpaid, shipped, cancelled, finished)."""
    at = second(at)
    with transaction.atomic():
        order = DouyinOrder.objects.select_for_update().filter(shop=shop, shop_order_id=str(shop_order_id)).first()
        if order is None:
            raise Refused(f"订单 {shop_order_id} 不存在", sub_code="isv.business-failed:order-not-exist")
        if order.status not in (OrderStatus.PAID, OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED):
            raise Refused(f"订单 {shop_order_id} 状态为 {order.get_status_display()}，不能发货",
                          sub_code="isv.business-failed:order-status-invalid")
        order.status, order.ship_time = OrderStatus.SHIPPED, at
        order.company_code, order.logistics_code = company_code, logistics_code
        _order_save(order, at, TAG_SHIPPED, logistics_msg={"express_company_id": company_code,
                                                           "logistics_code": logistics_code})
    return order


def order_finish(order: DouyinOrder, *, at: datetime | None = None) -> DouyinOrder:
    """The buyer confirmed receipt: 3 -> 5, tag 103."""
    at = second(at)
    with transaction.atomic():
        order = _lock(order)
        if order.status != OrderStatus.SHIPPED:
            return order
        order.status, order.finish_time = OrderStatus.FINISHED, at
        _order_save(order, at, TAG_FINISHED)
    return order


def order_touch(order: DouyinOrder, *, at: datetime | None = None) -> DouyinOrder:
    """The buyer changed something that leaves the status alone (words for the seller): update_time moves."""
    at = second(at)
    with transaction.atomic():
        order = _lock(order)
        order.buyer_words = _rng.choice(BUYER_WORDS)
        order.update_time = at
        order.save(update_fields=["buyer_words", "update_time"])
    return order


def _order_save(order: DouyinOrder, at: datetime, tag: str, **extra) -> None:
    order.update_time = at
    order.save()
    _publish(order.shop, [_order_message(order, tag, at, **extra)])


# After-sales

def after_sale_create(order: DouyinOrder, *, sku_order: DouyinSkuOrder | None = None, at: datetime | None = None,
                      amount: int | None = None) -> DouyinAfterSale:
    """The buyer asks for a refund of one SKU order (default: the first without an open after-sale): tag 200.
    Unshipped orders get 未发货仅退款, shipped ones 退货退款."""
    at = second(at)
    with transaction.atomic():
        order = _lock(order)
        lines = list(order.sku_orders.select_for_update().order_by("sku_order_id"))
        if sku_order is None:
            sku_order = next((s for s in lines if s.after_sale_status in (AfterSaleStatus.NONE, AfterSaleStatus.CLOSED)),
                             lines[0])
        else:
            sku_order = next(s for s in lines if s.pk == sku_order.pk)
        kind = AfterSaleType.RETURN_AND_REFUND if order.ship_time else AfterSaleType.UNSHIPPED_REFUND_ONLY
        after_sale = DouyinAfterSale.objects.create(
            shop_id=order.shop_id, order=order, sku_order=sku_order, aftersale_id=str(_reserve_ids("aftersale", 1)),
            aftersale_type=kind, aftersale_status=AfterSaleStatus.WAIT_SELLER_AGREE,
            refund_status=RefundStatus.WAITING, refund_amount=sku_order.pay_amount if amount is None else amount,
            reason=_rng.choice(REASONS), apply_time=at, update_time=at)
        _after_sale_apply(order, sku_order, after_sale, TAG_AS_CREATED, at)
    return after_sale


def after_sale_settle(after_sale: DouyinAfterSale, *, success: bool, at: datetime | None = None) -> DouyinAfterSale:
    """The refund succeeded (12, refund 3: tag 206) or the after-sale closed (28: tag 207; the SKU order keeps
    refund_status 1 as Douyin shows for a buyer-cancelled after-sale). A full refund of an unshipped order
    cancels it (tag 106)."""
    at = second(at)
    with transaction.atomic():
        order = _lock(after_sale.order)
        after_sale = DouyinAfterSale.objects.select_for_update().get(pk=after_sale.pk)
        if after_sale.aftersale_status in FINAL_AFTER_SALE_STATUSES:
            return after_sale
        sku_order = DouyinSkuOrder.objects.select_for_update().get(pk=after_sale.sku_order_id)
        if success:
            after_sale.aftersale_status, after_sale.refund_status = AfterSaleStatus.SUCCESS, RefundStatus.SUCCESS
        else:
            after_sale.aftersale_status = AfterSaleStatus.CLOSED
        after_sale.update_time = at
        after_sale.save()
        _after_sale_apply(order, sku_order, after_sale, TAG_AS_REFUND_SUCCESS if success else TAG_AS_CLOSED, at)
    return after_sale


def _after_sale_apply(order: DouyinOrder, sku_order: DouyinSkuOrder, after_sale: DouyinAfterSale, tag: str,
                      at: datetime) -> None:
    sku_order.after_sale_status, sku_order.after_sale_type = after_sale.aftersale_status, after_sale.aftersale_type
    sku_order.refund_status = after_sale.refund_status
    sku_order.save(update_fields=["after_sale_status", "after_sale_type", "refund_status"])
    messages = [_after_sale_message(order, after_sale, tag, at)]
    all_refunded = not order.sku_orders.exclude(refund_status=RefundStatus.SUCCESS).exists()
    if all_refunded and order.status in (OrderStatus.PAID, OrderStatus.AWAITING_SHIPMENT):
        order.status, order.finish_time = OrderStatus.CANCELLED, at
        messages.append(_order_message(order, TAG_CANCELLED, at, cancel_reason="全额退款", cancel_time=_epoch(at)))
    order.update_time = at
    order.save()
    _publish(order.shop, messages)


# Push messages

def _publish(shop: DouyinShop, messages: list[DouyinPushMessage]) -> None:
    # Read from the database: an admin may have switched push on in another process.
    if messages and DouyinShop.objects.filter(pk=shop.pk, push_enabled=True).exists():
        first = _reserve_ids("msg", len(messages))
        for n, message in enumerate(messages):
            message.msg_id = str(first + n)
        DouyinPushMessage.objects.bulk_create(messages)


def _order_message(order: DouyinOrder, tag: str, at: datetime, **extra) -> DouyinPushMessage:
    """Order tags carry p_id, s_ids, shop_id, order_status, order_type, biz and the tag's time (the Go SDK's
    TradeCreate / TradePaid / TradeSellerShip / TradeCanceled)."""
    data = {"p_id": int(order.shop_order_id), "s_ids": [int(s) for s in _sku_order_ids(order)],
            "shop_id": order.shop.shop_id, "order_status": order.status, "order_type": 0, "biz": 2,
            "update_time": _epoch(at)}
    if tag == TAG_CREATED:
        data["create_time"] = _epoch(order.create_time)
    if tag == TAG_PAID:
        data.update(pay_time=_epoch(order.pay_time or at), pay_amount=order.pay_amount, pay_type=1)
    data.update(extra)
    return _message(order.shop, tag, data, at)


def _after_sale_message(order: DouyinOrder, after_sale: DouyinAfterSale, tag: str, at: datetime) -> DouyinPushMessage:
    """After-sale tags (the Go SDK's RefundCreated: aftersale_id, aftersale_status, aftersale_type, apply_time,
    p_id, s_id, shop_id, refund_amount, refund_post_amount, update_time)."""
    data = {"aftersale_id": int(after_sale.aftersale_id), "aftersale_status": after_sale.aftersale_status,
            "aftersale_type": after_sale.aftersale_type, "apply_time": _epoch(after_sale.apply_time),
            "p_id": int(order.shop_order_id), "s_id": int(after_sale.sku_order.sku_order_id),
            "shop_id": order.shop.shop_id, "refund_amount": after_sale.refund_amount, "refund_post_amount": 0,
            "reason_code": 1, "update_time": _epoch(at)}
    return _message(order.shop, tag, data, at)


def _message(shop: DouyinShop, tag: str, data: dict, at: datetime) -> DouyinPushMessage:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return DouyinPushMessage(shop=shop, tag=tag, data=text, created_at=at, next_at=at)


def _creation_messages(order: DouyinOrder, sku_orders: list[DouyinSkuOrder]) -> list[DouyinPushMessage]:
    order._sku_order_ids = [s.sku_order_id for s in sku_orders]
    messages = [_order_message(order, TAG_CREATED, order.create_time)]
    if order.status != OrderStatus.UNPAID:
        messages.append(_order_message(order, TAG_PAID, order.pay_time or order.create_time))
    return messages


def _sku_order_ids(order: DouyinOrder) -> list[str]:
    cached = getattr(order, "_sku_order_ids", None)
    if cached is not None:
        return cached
    return list(DouyinSkuOrder.objects.filter(order=order).order_by("sku_order_id")
                .values_list("sku_order_id", flat=True))


# Demo activity

def activity_tick(shop: DouyinShop, *, now: datetime | None = None, rng: random.Random | None = None) -> dict:
    """What buyers and the seller did since the last tick: 0-2 new orders, payments, cancellations of unpaid
    orders, shipping, receipts, now and then an after-sale opened or settled. Returns the counts by kind."""
    rng = rng or random.Random()
    now = second(now)
    counts = {"created": 0, "paid": 0, "cancelled": 0, "shipped": 0, "finished": 0, "after_sales_opened": 0,
              "after_sales_settled": 0}
    codes = list(DouyinSku.objects.filter(product__shop=shop).values_list("code", flat=True)[:500])
    for _ in range(rng.randint(0, 2) if codes else 0):
        picked = rng.sample(codes, k=min(len(codes), rng.randint(1, 3)))
        words = rng.choice(BUYER_WORDS) if rng.random() < 0.1 else ""
        order_create(shop, lines=[(code, rng.randint(1, 3)) for code in picked], created=now, buyer_words=words,
                     status=rng.choice([OrderStatus.UNPAID, OrderStatus.AWAITING_SHIPMENT]), rng=rng)
        counts["created"] += 1
    orders = DouyinOrder.objects.filter(shop=shop).order_by("-update_time")
    for order in _some(orders.filter(status=OrderStatus.UNPAID), rng, 2):
        if rng.random() < 0.15:
            order_cancel(order, at=now)
            counts["cancelled"] += 1
        else:
            order_pay(order, at=now)
            counts["paid"] += 1
    # Orders awaiting shipment are the merchant's to ship (logisticsAdd); the demo seller ships a few itself.
    for order in _some(orders.filter(status=OrderStatus.AWAITING_SHIPMENT), rng, 1 if rng.random() < 0.3 else 0):
        order_ship(shop, order.shop_order_id, company_code="zhongtong",
                   logistics_code=f"ZT{rng.randrange(10**12):012d}", at=now)
        counts["shipped"] += 1
    # A parcel takes a while to arrive (demo minutes) before its buyer can confirm receipt.
    arrived = orders.filter(status=OrderStatus.SHIPPED, ship_time__lte=now - PARCEL_TRANSIT)
    for order in _some(arrived, rng, 1 if rng.random() < 0.3 else 0):
        order_finish(order, at=now)
        counts["finished"] += 1
    if rng.random() < 0.05:
        paid = orders.filter(status__in=[OrderStatus.AWAITING_SHIPMENT, OrderStatus.SHIPPED],
                             after_sales__isnull=True).first()
        if paid is not None:
            after_sale_create(paid, at=now)
            counts["after_sales_opened"] += 1
    if rng.random() < 0.05:
        open_one = (DouyinAfterSale.objects.filter(shop=shop).exclude(aftersale_status__in=FINAL_AFTER_SALE_STATUSES)
                    .select_related("order").order_by("update_time").first())
        if open_one is not None:
            after_sale_settle(open_one, success=rng.random() < 0.8, at=now)
            counts["after_sales_settled"] += 1
    return counts


def _some(orders, rng: random.Random, k: int) -> list[DouyinOrder]:
    pks = list(orders.values_list("pk", flat=True)[:200])
    return [DouyinOrder.objects.select_related("shop").get(pk=pk) for pk in rng.sample(pks, k=min(len(pks), k))]


# Building orders

def _order_build(shop: DouyinShop, lines: list[tuple[DouyinSku | None, str, int]], *, first_id: int, status: int,
                 created: datetime, times: dict, buyer_words: str, post_amount: int,
                 rng: random.Random) -> tuple[DouyinOrder, list[DouyinSkuOrder]]:
    """An unsaved order (id `first_id`) and its SKU orders (ids following it); money in fen."""
    sku_orders, total = [], 0
    for offset, (sku, code, num) in enumerate(lines, start=1):
        price = sku.price if sku else UNLISTED_PRICE
        total += price * num
        sku_orders.append(DouyinSkuOrder(
            sku_order_id=str(first_id + offset), code=code, sku_id=sku.sku_id if sku else 0,
            product_id=sku.product.product_id if sku else 0,
            product_name=sku.product.name if sku else f"未上架商品 {code}",
            spec_name=sku.spec_name if sku else "", item_num=num, goods_price=price, origin_amount=price * num,
            pay_amount=price * num))
    province, city, town, street = rng.choice(RECEIVERS)
    receiver = {"name": rng.choice(NAMES), "tel": f"13{rng.randrange(10**9):09d}", "province": province,
                "city": city, "town": town, "street": street,
                "detail": f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"}
    order = DouyinOrder(shop=shop, shop_order_id=str(first_id), status=status, create_time=created,
                        order_amount=total + post_amount, pay_amount=total + post_amount, post_amount=post_amount,
                        buyer_words=buyer_words, receiver=receiver, **times)
    return order, sku_orders


def _times_at(status: int, moment: datetime) -> dict:
    paid = status not in (OrderStatus.UNPAID, OrderStatus.CANCELLED)
    return {"update_time": moment, "pay_time": moment if paid else None,
            "ship_time": moment if status in (OrderStatus.SHIPPED, OrderStatus.FINISHED) else None,
            "finish_time": moment if status in (OrderStatus.CANCELLED, OrderStatus.FINISHED) else None}


def _times_generated(status: int, created: datetime, bound: datetime, rng: random.Random) -> dict:
    def later(moment: datetime, low: int, high: int) -> datetime:
        return min(moment + timedelta(seconds=rng.randint(low, high)), bound)

    times = {"pay_time": None, "ship_time": None, "finish_time": None}
    last = created
    if status not in (OrderStatus.UNPAID, OrderStatus.CANCELLED):
        last = times["pay_time"] = later(last, 30, 1800)
    if status in (OrderStatus.SHIPPED, OrderStatus.FINISHED):
        last = times["ship_time"] = later(last, 600, 12 * 3600)
    if status in (OrderStatus.CANCELLED, OrderStatus.FINISHED):
        last = times["finish_time"] = later(last, 600, 48 * 3600)
    return {**times, "update_time": last}


# Plumbing

def second(moment: datetime | None = None) -> datetime:
    """`moment` (default now) without its sub-second part: Douyin times are whole epoch seconds."""
    return (moment or timezone.now()).replace(microsecond=0)


def _epoch(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


def _lock(order: DouyinOrder) -> DouyinOrder:
    return DouyinOrder.objects.select_for_update().select_related("shop").get(pk=order.pk)


def _reserve_ids(kind: str, count: int) -> int:
    """The first of `count` consecutive ids of `kind` that no process has had before."""
    with transaction.atomic():
        if not DouyinSequence.objects.filter(name=kind).exists():
            try:
                with transaction.atomic():
                    DouyinSequence.objects.create(name=kind, value=ID_BASES[kind])
            except IntegrityError:
                pass  # another process created it a moment ago
        DouyinSequence.objects.filter(name=kind).update(value=F("value") + count)
        value = DouyinSequence.objects.get(name=kind).value
    return value - count + 1
