"""State changes of the sandbox marketplace: shops, items, trades, refunds, and the TMC messages they publish.

A change a buyer or seller action would make sets the trade's `modified` and publishes the message Taobao
would (only while the shop has TMC on), in the same transaction. Times are truncated to whole seconds.
"""
import hashlib
import json
import random
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from sync.marketplaces.top.times import to_top

from .models import (
    FINAL_REFUND_STATUSES, FINAL_TRADE_STATUSES, ApproveStatus, RefundStatus, SandboxItem, SandboxMessage,
    SandboxRefund, SandboxSequence, SandboxShop, SandboxSku, SandboxTrade, StepStatus, TradeStatus, TradeType,
)

CHUNK = 2000
CENT = Decimal("0.01")
UNLISTED_PRICE = Decimal("10.00")
DEPOSIT_SHARE = Decimal("0.2")
# How long a presale buyer has to pay the balance after the deposit, unless the test says otherwise.
BALANCE_WINDOW = timedelta(days=3)
# TMC messages from the platform itself carry Taobao's app key as pub_app_key.
PUBLISHER_APP_KEY = "12497914"
ID_BASES = {
    "tid": 3_000_000_000_000_000,
    "refund": 2_100_000_000_000_000,
    "item": 600_000_000_000,
    "sku": 5_000_000_000_000,
}

S = TradeStatus
PAID = frozenset({
    S.WAIT_SELLER_SEND_GOODS, S.SELLER_CONSIGNED_PART, S.WAIT_BUYER_CONFIRM_GOODS, S.TRADE_BUYER_SIGNED,
    S.TRADE_FINISHED, S.PAID_FORBID_CONSIGN,
})
SHIPPED = frozenset({S.SELLER_CONSIGNED_PART, S.WAIT_BUYER_CONFIRM_GOODS, S.TRADE_BUYER_SIGNED, S.TRADE_FINISHED})
NEXT_STATUS = {
    S.TRADE_NO_CREATE_PAY: S.WAIT_BUYER_PAY,
    S.WAIT_BUYER_PAY: S.WAIT_SELLER_SEND_GOODS,
    S.PAY_PENDING: S.WAIT_SELLER_SEND_GOODS,
    S.WAIT_SELLER_SEND_GOODS: S.WAIT_BUYER_CONFIRM_GOODS,
    S.SELLER_CONSIGNED_PART: S.WAIT_BUYER_CONFIRM_GOODS,
    S.WAIT_BUYER_CONFIRM_GOODS: S.TRADE_FINISHED,
    S.TRADE_BUYER_SIGNED: S.TRADE_FINISHED,
}
TRADE_CREATE = "taobao_trade_TradeCreate"
TRADE_CHANGED = "taobao_trade_TradeChanged"
TRADE_MEMO_MODIFIED = "taobao_trade_TradeMemoModified"
# A presale's deposit paid (its balance then comes as TradeBuyerPay, the trade going to WAIT_SELLER_SEND_GOODS).
TRADE_BUYER_STEP_PAY = "taobao_trade_TradeBuyerStepPay"
STATUS_TOPICS = {
    S.WAIT_SELLER_SEND_GOODS: "taobao_trade_TradeBuyerPay",
    S.SELLER_CONSIGNED_PART: "taobao_trade_TradePartlySellerShip",
    S.WAIT_BUYER_CONFIRM_GOODS: "taobao_trade_TradeSellerShip",
    S.TRADE_FINISHED: "taobao_trade_TradeSuccess",
    S.TRADE_CLOSED: "taobao_trade_TradeClose",
    S.TRADE_CLOSED_BY_TAOBAO: "taobao_trade_TradeClose",
}
R = RefundStatus
REFUND_TOPICS = {
    R.WAIT_SELLER_AGREE: "taobao_refund_RefundCreated",
    R.WAIT_BUYER_RETURN_GOODS: "taobao_refund_RefundSellerAgreeAgreement",
    R.WAIT_SELLER_CONFIRM_GOODS: "taobao_refund_RefundBuyerReturnGoods",
    R.SELLER_REFUSE_BUYER: "taobao_refund_RefundSellerRefuseAgreement",
    R.CLOSED: "taobao_refund_RefundClosed",
    R.SUCCESS: "taobao_refund_RefundSuccess",
}
GENERATED_STATUS_WEIGHTS = {
    S.WAIT_BUYER_PAY: 10, S.WAIT_SELLER_SEND_GOODS: 35, S.WAIT_BUYER_CONFIRM_GOODS: 20, S.TRADE_FINISHED: 30,
    S.TRADE_CLOSED: 5,
}
RECEIVERS = [
    ("浙江省", "杭州市", "西湖区", "310000"), ("广东省", "深圳市", "南山区", "518000"),
    ("上海", "上海市", "浦东新区", "200120"), ("北京", "北京市", "朝阳区", "100020"),
    ("江苏省", "南京市", "鼓楼区", "210000"), ("四川省", "成都市", "武侯区", "610000"),
    ("湖北省", "武汉市", "洪山区", "430070"), ("山东省", "济南市", "历下区", "250000"),
]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强", "周婷", "吴杰"]
STREETS = ["文一西路", "科技园南路", "世纪大道", "建国路", "中山北路", "人民南路", "珞喻路", "泉城路"]
BUYER_MESSAGES = ["请尽快发货", "发顺丰，谢谢", "需要开发票", "工作日送货", "请仔细包装，易碎"]
REFUND_REASONS = ["不想要了", "拍错了/多拍了", "商品破损", "未按约定时间发货", "效果不好"]

_rng = random.Random()


# Shops and items

def shop_create(*, app_key: str, app_secret: str, session: str, nick: str = "sandbox-shop",
                user_id: int | None = None) -> SandboxShop:
    """The shop with `app_key`, created or updated with these values (a new session un-expires it)."""
    shop = SandboxShop.objects.filter(app_key=app_key).first()
    if shop is None:
        return SandboxShop.objects.create(
            app_key=app_key, app_secret=app_secret, session=session, nick=nick,
            user_id=user_id or 2_000_000_000 + zlib.crc32(app_key.encode()) % 1_000_000_000,
        )
    if shop.session != session:
        shop.session_expired = False
    shop.app_secret, shop.session, shop.nick = app_secret, session, nick
    if user_id:
        shop.user_id = user_id
    shop.save()
    return shop


def items_from_products(shop: SandboxShop, products: Iterable[tuple[str, str, Decimal, int]], *,
                        skus_per_item: int = 1) -> int:
    """Upsert one SKU per `(erp_product_id, title, price, quantity)`, keyed by outer_sku_id. New SKUs go into
    new items of `skus_per_item` SKUs each (the item takes its first product's code and title), as a seller
    lists pack sizes of one product under one item. Returns how many products were written.
    """
    by_code = {str(code): (title, Decimal(price), int(quantity)) for code, title, price, quantity in products}
    existing = {
        sku.outer_sku_id: sku
        for sku in SandboxSku.objects.filter(item__shop=shop, outer_sku_id__in=list(by_code)).select_related("item")
    }
    with transaction.atomic():
        changed = [sku for code, sku in existing.items() if _sku_refresh(sku, *by_code[code])]
        SandboxSku.objects.bulk_update(changed, ["price", "quantity"], batch_size=CHUNK)
        SandboxItem.objects.bulk_update([sku.item for sku in changed], ["title"], batch_size=CHUNK)
        new = [code for code in by_code if code not in existing]
        size = max(1, int(skus_per_item))
        groups = [new[i:i + size] for i in range(0, len(new), size)]
        first_item, first_sku = _reserve_ids("item", len(groups)), _reserve_ids("sku", len(new))
        items = SandboxItem.objects.bulk_create([
            SandboxItem(shop=shop, num_iid=first_item + i, outer_id=group[0], title=by_code[group[0]][0],
                        price=by_code[group[0]][1])
            for i, group in enumerate(groups)
        ], batch_size=CHUNK)
        skus, next_sku = [], first_sku
        for item, group in zip(items, groups):
            for n, code in enumerate(group, start=1):
                name = "规格:标准装" if len(group) == 1 else f"规格:{by_code[code][0]}"[:200]
                skus.append(SandboxSku(item=item, sku_id=next_sku, outer_sku_id=code, properties_name=name,
                                       price=by_code[code][1], quantity=by_code[code][2]))
                next_sku += 1
        SandboxSku.objects.bulk_create(skus, batch_size=CHUNK)
        _items_resum({sku.item_id for sku in changed} | {item.pk for item in items})
    return len(by_code)


def _sku_refresh(sku: SandboxSku, title: str, price: Decimal, quantity: int) -> bool:
    own = sku.item.outer_id == sku.outer_sku_id
    if (sku.price, sku.quantity) == (price, quantity) and (not own or sku.item.title == title):
        return False
    sku.price, sku.quantity = price, quantity
    if own:
        sku.item.title = title
    return True


def _items_resum(item_ids: Iterable[int]) -> None:
    """An item's quantity is the sum of its SKUs', its price the lowest SKU price (what the shop page shows)."""
    ids = list(item_ids)
    now = timezone.now()
    for start in range(0, len(ids), CHUNK):
        items = list(SandboxItem.objects.filter(pk__in=ids[start:start + CHUNK]).prefetch_related("skus"))
        for item in items:
            skus = list(item.skus.all())
            item.quantity = sum(sku.quantity for sku in skus)
            item.price = min((sku.price for sku in skus), default=item.price)
            item.modified = now
        SandboxItem.objects.bulk_update(items, ["quantity", "price", "modified"], batch_size=CHUNK)


# What a seller's program changes (the outbound calls)

class Refused(Exception):
    """The marketplace refuses a seller's change (a business error, TOP code 15 with an isv. sub code)."""

    def __init__(self, sub_code: str, message: str):
        super().__init__(message)
        self.sub_code = sub_code


SHIPPABLE = frozenset({S.WAIT_SELLER_SEND_GOODS, S.SELLER_CONSIGNED_PART})


def _item(shop: SandboxShop, num_iid: int) -> SandboxItem:
    item = SandboxItem.objects.select_for_update().filter(shop=shop, num_iid=num_iid).first()
    if item is None:
        raise Refused("isv.item-not-exist", f"item {num_iid} does not exist in this shop")
    return item


def skus_find(shop: SandboxShop, outer_id: str) -> list[SandboxSku]:
    """The shop's SKUs with this outer id (a code may be used on several SKUs)."""
    return list(SandboxSku.objects.filter(item__shop=shop, outer_sku_id=outer_id).select_related("item")
                .order_by("sku_id"))


def sku_quantities_set(shop: SandboxShop, num_iid: int, quantities: list[tuple[str, int]], *, by: str = "sku_id",
                       delta: bool = False) -> SandboxItem:
    """Set (or with `delta` change) the quantity of the item's SKUs named by sku id or outer id; all or none.
    A delta never takes a SKU below 0. Raises Refused for an unknown item or SKU, or a negative full value."""
    with transaction.atomic():
        item = _item(shop, num_iid)
        skus = list(item.skus.select_for_update())
        for key, quantity in quantities:
            matched = [sku for sku in skus if (str(sku.sku_id) if by == "sku_id" else sku.outer_sku_id) == key]
            if not matched:
                raise Refused("isv.item-sku-not-exist", f"item {num_iid} has no SKU {key}")
            if not delta and quantity < 0:
                raise Refused("isv.invalid-quantity", f"quantity of SKU {key} cannot be negative")
            for sku in matched:
                sku.quantity = max(0, sku.quantity + quantity) if delta else quantity
                sku.modified = timezone.now()
        SandboxSku.objects.bulk_update(skus, ["quantity", "modified"])
        _items_resum([item.pk])
        item.refresh_from_db()
    return item


def sku_price_set(shop: SandboxShop, num_iid: int, properties: str, price: Decimal) -> SandboxSku:
    """Set the price of the item's SKU with this property string. Raises Refused."""
    with transaction.atomic():
        item = _item(shop, num_iid)
        sku = next((sku for sku in item.skus.select_for_update() if sku.properties == properties), None)
        if sku is None:
            raise Refused("isv.item-sku-not-exist", f"item {num_iid} has no SKU with properties {properties}")
        sku.price = price
        sku.save(update_fields=["price", "modified"])
        _items_resum([item.pk])
    return sku


def item_listing_set(shop: SandboxShop, num_iid: int, onsale: bool) -> SandboxItem:
    """Put the item on sale or take it off (idempotent). Raises Refused for an unknown item."""
    with transaction.atomic():
        item = _item(shop, num_iid)
        item.approve_status = ApproveStatus.ONSALE if onsale else ApproveStatus.INSTOCK
        item.save(update_fields=["approve_status", "modified"])
    return item


def trade_ship_offline(shop: SandboxShop, tid: int, *, out_sid: str, company: dict,
                       at: datetime | None = None) -> SandboxTrade:
    """The seller shipped the trade with a carrier of their own (logistics.offline.send): its lines carry the
    carrier and tracking number, and it waits for the buyer to confirm. Raises Refused when the trade is
    unknown or cannot be shipped (not paid, already shipped, closed)."""
    trade = SandboxTrade.objects.filter(shop=shop, tid=tid).first()
    if trade is None:
        raise Refused("isv.trade-not-exist", f"trade {tid} does not exist")
    at = _second(at)

    def ship(t: SandboxTrade) -> str:
        if t.status not in SHIPPABLE:
            raise Refused("isv.logistics-offline-service-error:B04",
                          f"trade {tid} is {t.status}: it cannot be shipped")
        for line in t.lines:
            line["logistics_company"], line["invoice_no"] = company["name"], out_sid
        return _status_apply(t, S.WAIT_BUYER_CONFIRM_GOODS, at)

    return _trade_change(trade, at, ship)


# Trades

def trade_create(shop: SandboxShop, *, lines: Iterable[tuple[str, int]], type: str = TradeType.FIXED,
                 status: str | None = None, created: datetime | None = None, buyer_nick: str | None = None,
                 buyer_message: str = "", step_trade_status: str | None = None,
                 step_paid_fee: Decimal | None = None, post_fee: Decimal = Decimal("0.00"),
                 balance_due: datetime | None = None) -> SandboxTrade:
    """A new trade with one line per `(outer_sku_id, num)`, priced from the shop's SKUs.

    An outer_sku_id the shop has no SKU for still makes a line (num_iid 0), so clients meet unmapped lines.
    `status` defaults to WAIT_SELLER_SEND_GOODS, or WAIT_BUYER_PAY for a presale whose balance is unpaid;
    a presale's `step_trade_status` defaults to FRONT_PAID_FINAL_NOPAID and `step_paid_fee` to a 20% deposit;
    with the deposit paid, the balance falls due at `balance_due` (default: BALANCE_WINDOW after creation),
    sent as trade.fullinfo.get's timeout_action_time.
    """
    lines = [(str(code), int(num)) for code, num in lines]
    if not lines:
        raise ValueError("a trade needs at least one line")
    created = _second(created)
    skus = _skus_by_code(shop, {code for code, _ in lines})
    if type == TradeType.STEP:
        step_trade_status = step_trade_status or StepStatus.FRONT_PAID_FINAL_NOPAID
        natural = S.WAIT_SELLER_SEND_GOODS if step_trade_status == StepStatus.FRONT_PAID_FINAL_PAID else S.WAIT_BUYER_PAY
    else:
        step_trade_status, natural = StepStatus.NONE, S.WAIT_SELLER_SEND_GOODS
    status = status or natural
    with transaction.atomic():
        trade = _trade_build(
            shop, [(skus.get(code), code, num) for code, num in lines],
            first_id=_reserve_ids("tid", 1 + len(lines)), status=status, type=type, created=created,
            times=_times_at(status, created), buyer_nick=buyer_nick, buyer_message=buyer_message,
            post_fee=post_fee, rng=_rng,
        )
        trade.step_trade_status = step_trade_status
        if type == TradeType.STEP:
            paid = Decimal(trade.data["payment"])
            if step_trade_status == StepStatus.FRONT_NOPAID_FINAL_NOPAID:
                deposit = Decimal("0.00")
            elif step_trade_status == StepStatus.FRONT_PAID_FINAL_PAID:
                deposit = paid
            else:
                deposit = step_paid_fee if step_paid_fee is not None else (paid * DEPOSIT_SHARE).quantize(CENT)
            trade.data["step_paid_fee"] = money(deposit)
            if step_trade_status == StepStatus.FRONT_PAID_FINAL_NOPAID and status == S.WAIT_BUYER_PAY:
                trade.data["timeout_action_time"] = to_top(_second(balance_due or created + BALANCE_WINDOW))
        trade.save()
        _publish(shop.pk, _creation_messages(trade))
    return trade


def trade_set_status(trade: SandboxTrade, status: str, *, at: datetime | None = None) -> SandboxTrade:
    """Move the trade to `status` (stamping pay, consign and end times as they fall due); returns it."""
    at = _second(at)
    return _trade_change(trade, at, lambda t: _status_apply(t, status, at))


def trade_advance(trade: SandboxTrade, *, at: datetime | None = None) -> SandboxTrade:
    """One step along WAIT_BUYER_PAY -> WAIT_SELLER_SEND_GOODS -> WAIT_BUYER_CONFIRM_GOODS -> TRADE_FINISHED.

    An unpaid presale deposit is paid first; a trade in a final status is left alone. Returns the trade.
    """
    at = _second(at)

    def advance(t: SandboxTrade) -> str | None:
        if t.type == TradeType.STEP and t.step_trade_status == StepStatus.FRONT_NOPAID_FINAL_NOPAID:
            t.step_trade_status = StepStatus.FRONT_PAID_FINAL_NOPAID
            t.data["step_paid_fee"] = money(Decimal(t.data["payment"]) * DEPOSIT_SHARE)
            t.data["timeout_action_time"] = to_top(at + BALANCE_WINDOW)
            return TRADE_BUYER_STEP_PAY
        following = NEXT_STATUS.get(t.status)
        return _status_apply(t, following, at) if following else None

    return _trade_change(trade, at, advance)


def trade_balance_lapse(trade: SandboxTrade, *, at: datetime | None = None) -> SandboxTrade:
    """The balance deadline of a deposit-paid presale passed unpaid: the marketplace closes the trade
    (TRADE_CLOSED_BY_TAOBAO, the deposit kept). Raises ValueError for a trade not waiting for its balance."""
    if trade.type != TradeType.STEP or trade.step_trade_status != StepStatus.FRONT_PAID_FINAL_NOPAID:
        raise ValueError(f"trade {trade.tid} is not a presale waiting for its balance")
    at = _second(at)
    return _trade_change(trade, at, lambda t: _status_apply(t, S.TRADE_CLOSED_BY_TAOBAO, at))


def trade_set_memo(trade: SandboxTrade, memo: str, *, at: datetime | None = None) -> SandboxTrade:
    """The seller's memo changed (a modification that leaves the status alone); returns the trade."""
    def set_memo(t: SandboxTrade) -> str:
        t.data["seller_memo"] = memo
        return TRADE_MEMO_MODIFIED

    return _trade_change(trade, _second(at), set_memo)


def _trade_change(trade: SandboxTrade, at: datetime, change: Callable[[SandboxTrade], str | None]) -> SandboxTrade:
    """Lock and reload the trade, apply `change` (which names the topic, or None for no change), save, publish."""
    with transaction.atomic():
        _lock(trade)
        topic = change(trade)
        if topic:
            trade.modified = at
            trade.save()
            _publish(trade.shop_id, [_trade_message(trade, topic, at)])
    return trade


def _status_apply(trade: SandboxTrade, status: str, at: datetime) -> str:
    trade.status = status
    if status in PAID and trade.pay_time is None:
        trade.pay_time = at
    if status in SHIPPED and trade.consign_time is None:
        trade.consign_time = at
    if status in FINAL_TRADE_STATUSES and trade.end_time is None:
        trade.end_time = at
    if trade.type == TradeType.STEP and status in PAID:
        trade.step_trade_status = StepStatus.FRONT_PAID_FINAL_PAID
        trade.data["step_paid_fee"] = trade.data["payment"]
        trade.data.pop("timeout_action_time", None)
    for line in trade.lines:
        line["status"] = S.TRADE_CLOSED if line.get("refund_status") == R.SUCCESS else status
    return STATUS_TOPICS.get(status, TRADE_CHANGED)


def trades_generate(shop: SandboxShop, count: int, *, start: datetime, end: datetime, seed: int = 0,
                    statuses: Iterable[str] | None = None) -> int:
    """Bulk-create `count` trades of 1-3 lines from the shop's SKUs, created uniformly over [start, end].

    Statuses are drawn from `statuses` (default: a realistic mix); paid trades were modified a little after
    creation, never after `end`. Returns how many trades were created; raises ValueError without SKUs.
    """
    rng = random.Random(seed)
    skus = list(SandboxSku.objects.filter(item__shop=shop).select_related("item"))
    if not skus:
        raise ValueError(f"shop {shop.nick} has no SKUs to sell; add items first")
    if statuses:
        population, weights = list(statuses), None
    else:
        population, weights = list(GENERATED_STATUS_WEIGHTS), list(GENERATED_STATUS_WEIGHTS.values())
    start, end = _second(start), _second(end)
    span = max(0, int((end - start).total_seconds()))
    tmc = _tmc_on(shop.pk)
    made = 0
    while made < count:
        size = min(CHUNK, count - made)
        plans = [rng.sample(skus, k=min(len(skus), rng.randint(1, 3))) for _ in range(size)]
        with transaction.atomic():
            next_id = _reserve_ids("tid", size + sum(len(plan) for plan in plans))
            trades, messages = [], []
            for plan, status in zip(plans, rng.choices(population, weights, k=size)):
                created = start + timedelta(seconds=rng.randint(0, span))
                message = rng.choice(BUYER_MESSAGES) if rng.random() < shop.buyer_message_rate else ""
                trade = _trade_build(
                    shop, [(sku, sku.outer_sku_id, rng.randint(1, 3)) for sku in plan], first_id=next_id,
                    status=status, type=TradeType.FIXED, created=created,
                    times=_times_generated(status, created, max(end, created), rng), buyer_nick=None,
                    buyer_message=message, post_fee=rng.choice([Decimal("0.00"), Decimal("8.00")]), rng=rng,
                )
                next_id += 1 + len(plan)
                trades.append(trade)
                if tmc:
                    messages.extend(_creation_messages(trade))
            SandboxTrade.objects.bulk_create(trades, batch_size=CHUNK)
            SandboxMessage.objects.bulk_create(messages, batch_size=CHUNK)
        made += size
    return made


def _trade_build(shop: SandboxShop, lines: list[tuple[SandboxSku | None, str, int]], *, first_id: int,
                 status: str, type: str, created: datetime, times: dict, buyer_nick: str | None,
                 buyer_message: str, post_fee: Decimal, rng: random.Random) -> SandboxTrade:
    """An unsaved trade: tid `first_id`, oids following it; money as 2-decimal strings as TOP sends it."""
    post_fee = Decimal(post_fee)
    orders, total = [], Decimal("0.00")
    for offset, (sku, code, num) in enumerate(lines, start=1):
        price = sku.price if sku else UNLISTED_PRICE
        line_total = price * num
        total += line_total
        # TOP puts the post fee into a single line's payment, but not into the lines of a multi-line trade.
        payment = line_total + (post_fee if len(lines) == 1 else 0)
        orders.append({
            "oid": first_id + offset,
            "num_iid": sku.item.num_iid if sku else 0,
            "sku_id": str(sku.sku_id) if sku else "0",
            "outer_iid": sku.item.outer_id if sku else code,
            "outer_sku_id": code,
            "num": num,
            "price": money(price),
            "total_fee": money(line_total),
            "payment": money(payment),
            "discount_fee": "0.00",
            "adjust_fee": "0.00",
            "refund_status": "NO_REFUND",
            "status": status,
            "title": sku.item.title if sku else f"未上架商品 {code}",
            "sku_properties_name": sku.properties_name if sku else "",
        })
    state, city, district, zip_code = rng.choice(RECEIVERS)
    buyer_nick = buyer_nick or f"tb{rng.randrange(10**9):09d}"
    data = {
        "title": shop.nick,
        "seller_nick": shop.nick,
        "buyer_nick": buyer_nick,
        "buyer_open_uid": "AAH" + hashlib.md5(buyer_nick.encode()).hexdigest()[:21],
        "payment": money(total + post_fee),
        "total_fee": money(total),
        "post_fee": money(post_fee),
        "discount_fee": "0.00",
        "adjust_fee": "0.00",
        "num": sum(num for _, _, num in lines),
        "has_buyer_message": bool(buyer_message),
        "seller_flag": 0,
        "shipping_type": "express",
        "receiver_name": rng.choice(NAMES),
        "receiver_country": "",
        "receiver_state": state,
        "receiver_city": city,
        "receiver_district": district,
        "receiver_town": "",
        "receiver_address": f"{rng.choice(STREETS)}{rng.randint(1, 999)}号",
        "receiver_zip": zip_code,
        "receiver_mobile": f"13{rng.randrange(10**9):09d}",
        "receiver_phone": "",
        "orders": {"order": orders},
    }
    if buyer_message:
        data["buyer_message"] = buyer_message
    if len(orders) == 1:
        data["num_iid"], data["price"] = orders[0]["num_iid"], orders[0]["price"]
    return SandboxTrade(shop=shop, tid=first_id, status=status, type=type, created=created, data=data, **times)


def _times_at(status: str, moment: datetime) -> dict:
    """A trade created directly in `status`: everything that status implies happened at `moment`."""
    return {
        "modified": moment,
        "pay_time": moment if status in PAID else None,
        "consign_time": moment if status in SHIPPED else None,
        "end_time": moment if status in FINAL_TRADE_STATUSES else None,
    }


def _times_generated(status: str, created: datetime, bound: datetime, rng: random.Random) -> dict:
    """Plausible pay, consign and end times for a generated trade, each a little later, none after `bound`."""
    def later(moment: datetime, low: int, high: int) -> datetime:
        return min(moment + timedelta(seconds=rng.randint(low, high)), bound)

    times = {"pay_time": None, "consign_time": None, "end_time": None}
    last = created
    if status in PAID:
        last = times["pay_time"] = later(last, 30, 1800)
    if status in SHIPPED:
        last = times["consign_time"] = later(last, 600, 12 * 3600)
    if status in FINAL_TRADE_STATUSES:
        last = times["end_time"] = later(last, 600, 48 * 3600)
    return {**times, "modified": last}


def _creation_messages(trade: SandboxTrade) -> list[SandboxMessage]:
    messages = [_trade_message(trade, TRADE_CREATE, trade.created)]
    if trade.type == TradeType.STEP and trade.step_trade_status != StepStatus.FRONT_NOPAID_FINAL_NOPAID:
        messages.append(_trade_message(trade, TRADE_BUYER_STEP_PAY, trade.created))
    if trade.status not in (S.WAIT_BUYER_PAY, S.TRADE_NO_CREATE_PAY):
        topic = STATUS_TOPICS.get(trade.status, TRADE_CHANGED)
        messages.append(_trade_message(trade, topic, trade.modified))
    return messages


# Refunds

def refund_create(trade: SandboxTrade, *, oid: int | None = None, at: datetime | None = None,
                  status: str = R.WAIT_SELLER_AGREE, fee: Decimal | None = None,
                  reason: str | None = None) -> SandboxRefund:
    """The buyer asks for a refund of line `oid` (default: the first line without an open refund).

    The line's refund_status and refund_id follow, the trade's modified moves; `fee` defaults to the line's
    payment. Raises ValueError for an oid the trade does not have.
    """
    at = _second(at)
    with transaction.atomic():
        _lock(trade)
        line = _refund_line(trade, oid)
        shipped = trade.consign_time is not None
        refund = SandboxRefund.objects.create(
            shop_id=trade.shop_id, trade=trade, refund_id=_reserve_ids("refund", 1), tid=trade.tid,
            oid=line["oid"], status=status, refund_fee=Decimal(line["payment"]) if fee is None else fee,
            reason=reason or _rng.choice(REFUND_REASONS), has_good_return=shipped,
            good_status="BUYER_RECEIVED" if shipped else "BUYER_NOT_RECEIVED", created=at, modified=at,
        )
        line["refund_id"] = str(refund.refund_id)
        topics = [REFUND_TOPICS[R.WAIT_SELLER_AGREE]]
        if status != R.WAIT_SELLER_AGREE:
            topics.append(REFUND_TOPICS[status])
        _refund_apply(trade, refund, line, topics, at)
    return refund


def refund_set_status(refund: SandboxRefund, status: str, *, at: datetime | None = None) -> SandboxRefund:
    """Move the refund to `status`; the trade line follows, and a SUCCESS on every line closes the trade."""
    at = _second(at)
    with transaction.atomic():
        trade = refund.trade
        _lock(trade)
        refund.refresh_from_db(from_queryset=SandboxRefund.objects.select_for_update())
        refund.status = status
        refund.modified = at
        if status == R.WAIT_SELLER_CONFIRM_GOODS:
            refund.has_good_return, refund.good_status = True, "BUYER_RETURNED_GOODS"
        refund.save()
        line = next(line for line in trade.lines if line["oid"] == refund.oid)
        _refund_apply(trade, refund, line, [REFUND_TOPICS[status]], at)
    return refund


def refund_advance(refund: SandboxRefund, *, at: datetime | None = None) -> SandboxRefund:
    """One step of the refund flow (agree, return goods, confirm, succeed); a final refund is left alone."""
    following = {
        R.WAIT_SELLER_AGREE: R.WAIT_BUYER_RETURN_GOODS if refund.has_good_return else R.SUCCESS,
        R.WAIT_BUYER_RETURN_GOODS: R.WAIT_SELLER_CONFIRM_GOODS,
        R.WAIT_SELLER_CONFIRM_GOODS: R.SUCCESS,
        R.SELLER_REFUSE_BUYER: R.CLOSED,
    }.get(refund.status)
    return refund_set_status(refund, following, at=at) if following else refund


def _refund_line(trade: SandboxTrade, oid: int | None) -> dict:
    if oid is not None:
        for line in trade.lines:
            if line["oid"] == int(oid):
                return line
        raise ValueError(f"trade {trade.tid} has no line {oid}")
    open_statuses = {"NO_REFUND", R.CLOSED, R.SELLER_REFUSE_BUYER}
    return next((line for line in trade.lines if line.get("refund_status") in open_statuses), trade.lines[0])


def _refund_apply(trade: SandboxTrade, refund: SandboxRefund, line: dict, topics: list[str], at: datetime) -> None:
    """Reflect the refund on its line (when it is the line's latest), save the trade, publish the messages."""
    messages = [_refund_message(trade, refund, topic, at) for topic in topics]
    if line.get("refund_id") == str(refund.refund_id):
        line["refund_status"] = refund.status
        if refund.status == R.SUCCESS:
            line["status"] = S.TRADE_CLOSED
            everything_refunded = all(other.get("refund_status") == R.SUCCESS for other in trade.lines)
            # An after-sale refund of a finished trade leaves it finished, as on Taobao.
            if everything_refunded and trade.status not in FINAL_TRADE_STATUSES:
                messages.append(_trade_message(trade, _status_apply(trade, S.TRADE_CLOSED, at), at))
    trade.modified = at
    trade.save()
    _publish(trade.shop_id, messages)


# TMC

def tmc_permit(shop: SandboxShop) -> None:
    """The seller's messages are published from now on."""
    SandboxShop.objects.filter(pk=shop.pk).update(tmc_enabled=True)
    shop.tmc_enabled = True


def messages_consume(shop: SandboxShop, *, quantity: int, now: datetime | None = None) -> list[SandboxMessage]:
    """Up to `quantity` messages, oldest first: never delivered, or delivered but unconfirmed for longer than
    the shop's redeliver_after_seconds. They are marked delivered now."""
    now = now or timezone.now()
    due = Q(delivered_at__isnull=True) | Q(delivered_at__lte=now - timedelta(seconds=shop.redeliver_after_seconds))
    with transaction.atomic():
        messages = list(
            SandboxMessage.objects.select_for_update(skip_locked=True)
            .filter(due, shop=shop, confirmed_at__isnull=True).order_by("pub_time", "id")[:quantity]
        )
        SandboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(delivered_at=now)
    return messages


def messages_confirm(shop: SandboxShop, ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Confirm the shop's messages with these ids; returns how many were newly confirmed."""
    return SandboxMessage.objects.filter(shop=shop, pk__in=list(ids), confirmed_at__isnull=True).update(
        confirmed_at=now or timezone.now()
    )


def _publish(shop_id: int, messages: list[SandboxMessage]) -> None:
    if messages and _tmc_on(shop_id):
        SandboxMessage.objects.bulk_create(messages, batch_size=CHUNK)


def _tmc_on(shop_id: int) -> bool:
    # Read from the database: the gateway's tmc.user.permit may have run in another process.
    return SandboxShop.objects.filter(pk=shop_id, tmc_enabled=True).exists()


def _trade_message(trade: SandboxTrade, topic: str, at: datetime) -> SandboxMessage:
    content = {
        "buyer_nick": trade.data.get("buyer_nick", ""), "payment": trade.data.get("payment", "0.00"),
        "status": trade.status, "oid": trade.tid, "tid": trade.tid, "type": trade.type,
        "seller_nick": trade.data.get("seller_nick", ""),
    }
    return _message(trade.shop_id, topic, content, at)


def _refund_message(trade: SandboxTrade, refund: SandboxRefund, topic: str, at: datetime) -> SandboxMessage:
    content = {
        "refund_id": refund.refund_id, "tid": refund.tid, "oid": refund.oid, "status": refund.status,
        "refund_fee": money(refund.refund_fee), "payment": trade.data.get("payment", "0.00"), "type": trade.type,
        "buyer_nick": trade.data.get("buyer_nick", ""), "seller_nick": trade.data.get("seller_nick", ""),
        "refund_phase": "aftersale" if trade.status == S.TRADE_FINISHED else "onsale", "modified": to_top(at),
    }
    return _message(trade.shop_id, topic, content, at)


def _message(shop_id: int, topic: str, content: dict, at: datetime) -> SandboxMessage:
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    return SandboxMessage(shop_id=shop_id, topic=topic, content=text, pub_time=at)


# Demo activity

def activity_tick(shop: SandboxShop, *, now: datetime | None = None, rng: random.Random | None = None) -> dict:
    """What buyers and sellers did since the last tick: 0-2 new trades, 0-2 trades moved on, now and then a
    refund opened or settled. Returns the counts by kind."""
    rng = rng or random.Random()
    now = _second(now)
    counts = {"trades_created": 0, "trades_advanced": 0, "refunds_opened": 0, "refunds_settled": 0}
    codes = list(SandboxSku.objects.filter(item__shop=shop).values_list("outer_sku_id", flat=True)[:500])
    for _ in range(rng.randint(0, 2) if codes else 0):
        picked = rng.sample(codes, k=min(len(codes), rng.randint(1, 3)))
        message = rng.choice(BUYER_MESSAGES) if rng.random() < shop.buyer_message_rate else ""
        trade_create(shop, lines=[(code, rng.randint(1, 3)) for code in picked], created=now,
                     status=rng.choice([S.WAIT_BUYER_PAY, S.WAIT_SELLER_SEND_GOODS]), buyer_message=message)
        counts["trades_created"] += 1
    if codes and rng.random() < 0.1:
        # A presale with its deposit paid; its buyer has minutes (demo time) to pay the balance.
        trade_create(shop, lines=[(rng.choice(codes), rng.randint(1, 3))], type=TradeType.STEP, created=now,
                     balance_due=now + timedelta(minutes=rng.randint(5, 60)))
        counts["trades_created"] += 1
    counts["trades_advanced"] += balances_lapse(shop, now=now)
    moving = list(
        SandboxTrade.objects.filter(shop=shop, status__in=list(NEXT_STATUS)).order_by("-modified")
        .values_list("pk", flat=True)[:200]
    )
    for pk in rng.sample(moving, k=min(len(moving), rng.randint(0, 2))):
        trade_advance(SandboxTrade.objects.get(pk=pk), at=now)
        counts["trades_advanced"] += 1
    if rng.random() < 0.05:
        paid = SandboxTrade.objects.filter(
            shop=shop, status__in=[S.WAIT_SELLER_SEND_GOODS, S.WAIT_BUYER_CONFIRM_GOODS], refunds__isnull=True
        ).order_by("-modified").first()
        if paid is not None:
            refund_create(paid, at=now)
            counts["refunds_opened"] += 1
    if rng.random() < 0.05:
        open_refund = (
            SandboxRefund.objects.filter(shop=shop).exclude(status__in=FINAL_REFUND_STATUSES)
            .select_related("trade").order_by("modified").first()
        )
        if open_refund is not None:
            refund_set_status(open_refund, R.SUCCESS if rng.random() < 0.8 else R.CLOSED, at=now)
            counts["refunds_settled"] += 1
    return counts


def balances_lapse(shop: SandboxShop, *, now: datetime | None = None) -> int:
    """Close the shop's presales whose balance deadline passed unpaid, as Taobao does; returns how many."""
    now = _second(now)
    waiting = SandboxTrade.objects.filter(shop=shop, type=TradeType.STEP, status=S.WAIT_BUYER_PAY,
                                          step_trade_status=StepStatus.FRONT_PAID_FINAL_NOPAID)
    # TOP times are GMT+8 "yyyy-MM-dd HH:mm:ss" strings, so they compare as text.
    lapsed = [t for t in waiting.iterator() if t.data.get("timeout_action_time", "~") <= to_top(now)]
    for trade in lapsed:
        trade_balance_lapse(trade, at=now)
    return len(lapsed)


# Plumbing

def _second(moment: datetime | None) -> datetime:
    """`moment` (default now) without its sub-second part: a client's window bound is whole seconds."""
    return (moment or timezone.now()).replace(microsecond=0)


def money(value: Decimal) -> str:
    """A 2-decimal money string, as TOP sends amounts."""
    return str(Decimal(value).quantize(CENT))


def _lock(trade: SandboxTrade) -> None:
    """Reload the trade under a row lock (a no-op lock on SQLite, which serialises writers anyway)."""
    trade.refresh_from_db(from_queryset=SandboxTrade.objects.select_for_update())


def _skus_by_code(shop: SandboxShop, codes: set[str]) -> dict[str, SandboxSku]:
    skus = SandboxSku.objects.filter(item__shop=shop, outer_sku_id__in=list(codes)).select_related("item")
    return {sku.outer_sku_id: sku for sku in skus}


def _reserve_ids(kind: str, count: int) -> int:
    """The first of `count` consecutive ids of `kind` that no process has had before."""
    with transaction.atomic():
        sequence = SandboxSequence.objects.select_for_update().filter(name=kind).first()
        if sequence is None:
            try:
                with transaction.atomic():
                    SandboxSequence.objects.create(name=kind, value=ID_BASES[kind])
            except IntegrityError:
                pass  # another process created it a moment ago
            sequence = SandboxSequence.objects.select_for_update().get(name=kind)
        first = sequence.value + 1
        sequence.value += count
        sequence.save(update_fields=["value"])
    return first


# Carrier traces (taobao.logistics.trace.search). A parcel's trace depends only on its tracking number and
# the time since it was shipped, so it is the same on every call and in every test run: its tracking number
# chooses one of the profiles below (trace_profile), whose nodes appear as their time comes.

TRACE_MOVES = "moves"      # a node every 6 hours, signed for after 67 hours
TRACE_STALLS = "stalls"    # picked up, one hop, then nothing more
TRACE_RESUMES = "resumes"  # stalls for four days after its first hop, then moves on and is signed for
_HOPS = ["【%s】快递员已揽收", "【%s转运中心】已发出", "【%s转运中心】已到达", "【%s】快件已到达派送网点",
         "【%s】快递员正在派送"]
_CITIES = ["杭州市", "上海", "南京", "苏州市", "无锡市"]
TRACE_PROFILES = {
    TRACE_MOVES: [(timedelta(hours=1 + 6 * i), "GOT" if i == 0 else ("SENT_SCAN" if i == 10 else "TRANSPORT"))
                  for i in range(11)] + [(timedelta(hours=67), "SIGNED")],
    TRACE_STALLS: [(timedelta(hours=1), "GOT"), (timedelta(hours=9), "DEPARTURE")],
    TRACE_RESUMES: [(timedelta(hours=1), "GOT"), (timedelta(hours=9), "DEPARTURE"), (timedelta(hours=105), "ARRIVAL"),
                    (timedelta(hours=111), "SENT_SCAN"), (timedelta(hours=117), "SIGNED")],
}


def trace_profile(out_sid: str) -> str:
    """Which profile the parcel follows: a third of tracking numbers stall, one in six stalls and resumes."""
    bucket = int(hashlib.sha256(out_sid.encode()).hexdigest()[:8], 16) % 6
    return TRACE_STALLS if bucket < 2 else TRACE_RESUMES if bucket == 2 else TRACE_MOVES


def trace_nodes(out_sid: str, shipped: datetime, now: datetime) -> list[dict]:
    """The trace's nodes up to `now` (TOP's transit_step_info shape, GMT+8 times), oldest first."""
    nodes = []
    for i, (offset, action) in enumerate(TRACE_PROFILES[trace_profile(out_sid)]):
        at = shipped + offset
        if at > now:
            break
        city = _CITIES[i % len(_CITIES)]
        text = "已签收，签收人：本人" if action == "SIGNED" else _HOPS[min(i, len(_HOPS) - 1)] % city
        nodes.append({"status_time": to_top(at), "status_desc": text, "action": action})
    return nodes


def trade_trace(shop: SandboxShop, tid: int, *, now: datetime | None = None) -> dict:
    """The trade's parcel and its trace so far (taobao.logistics.trace.search's answer fields). Raises Refused
    when the trade is unknown or not shipped."""
    trade = SandboxTrade.objects.filter(shop=shop, tid=tid).first()
    if trade is None:
        raise Refused("isv.trade-not-exist", f"trade {tid} does not exist")
    line = next((line for line in trade.lines if line.get("invoice_no")), None)
    if line is None or trade.consign_time is None:
        raise Refused("isv.logistics-trace-not-exist", f"trade {tid} has not been shipped")
    now = now or timezone.now()
    nodes = trace_nodes(line["invoice_no"], trade.consign_time, now)
    signed = bool(nodes) and nodes[-1]["action"] == "SIGNED"
    answer = {"tid": trade.tid, "out_sid": line["invoice_no"], "company_name": line.get("logistics_company", ""),
              "status": "对方已签收" if signed else "在途中"}
    if nodes:
        answer["trace_list"] = {"transit_step_info": nodes}
    return answer
