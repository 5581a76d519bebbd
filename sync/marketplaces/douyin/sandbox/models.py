"""The sandbox Douyin shop's own state: shops, products and SKUs, orders with their SKU orders, after-sales,
push messages waiting for delivery, applied idempotent ids and served calls.

Times are aware UTC with whole seconds (Douyin speaks epoch seconds); money is fen (int), as on the wire;
ids the platform sends as strings are stored as strings (19 digits: never floats).
"""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

RATE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class OrderStatus(models.IntegerChoices):
    """order_status of /order/searchList (douyin-protocol.md)."""

    UNPAID = 1, "待确认/待支付"
    PAID = 105, "已支付"
    AWAITING_SHIPMENT = 2, "备货中"
    PARTLY_SHIPPED = 101, "部分发货"
    SHIPPED = 3, "已发货"
    CANCELLED = 4, "已取消"
    FINISHED = 5, "已完成"


FINAL_ORDER_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.FINISHED})


class AfterSaleStatus(models.IntegerChoices):
    """aftersale_status (the Go SDK's afterSale_List response)."""

    NONE = 0, "无售后"
    WAIT_SELLER_AGREE = 6, "待商家同意"
    WAIT_BUYER_RETURN = 7, "待买家退货"
    WAIT_SELLER_SECOND_AGREE = 11, "待商家二次同意"
    SUCCESS = 12, "售后成功"
    REFUSED = 27, "商家一次拒绝"
    CLOSED = 28, "售后失败"


FINAL_AFTER_SALE_STATUSES = frozenset({AfterSaleStatus.SUCCESS, AfterSaleStatus.CLOSED})


class AfterSaleType(models.IntegerChoices):
    RETURN_AND_REFUND = 0, "退货退款"
    SHIPPED_REFUND_ONLY = 1, "已发货仅退款"
    UNSHIPPED_REFUND_ONLY = 2, "未发货仅退款"


class RefundStatus(models.IntegerChoices):
    NONE = 0, "无退款"
    WAITING = 1, "待退款"
    REFUNDING = 2, "退款中"
    SUCCESS = 3, "退款成功"
    FAILED = 4, "退款失败"


class CallOutcome(models.TextChoices):
    OK = "ok", _("Answered")
    ERROR = "error", _("Error answer (request or business)")
    BANNED = "banned", _("Banned (traffic limited)")
    ISP_ERROR = "isp_error", _("Platform failure")
    EXPIRED = "expired", _("Access token expired")
    DROPPED = "dropped", _("Connection dropped")
    MALFORMED = "malformed", _("Malformed body")


class DouyinShop(models.Model):
    app_key = models.CharField(_("app key"), max_length=64, unique=True)
    app_secret = models.CharField(_("app secret"), max_length=128)
    shop_id = models.BigIntegerField(_("shop id"))
    shop_name = models.CharField(_("shop name"), max_length=100, default="抖店沙箱店铺")
    access_token = models.CharField(_("access token"), max_length=64, blank=True)
    access_expires_at = models.DateTimeField(_("access token expires at"), null=True, blank=True)
    refresh_token = models.CharField(_("refresh token"), max_length=64, blank=True)
    refresh_expires_at = models.DateTimeField(_("refresh token expires at"), null=True, blank=True)
    # A refresh within the access token's last hour hands out a new pair; the old access token keeps working
    # for one more hour (douyin-protocol.md, Tokens).
    previous_access_token = models.CharField(_("previous access token"), max_length=64, blank=True)
    previous_valid_until = models.DateTimeField(_("previous access token valid until"), null=True, blank=True)
    callback_url = models.URLField(_("callback URL"), max_length=500, blank=True,
                                   help_text=_("Where push messages are POSTed (the app's /hooks/douyin/)."))
    push_enabled = models.BooleanField(_("push messages"), default=False)
    demo_activity = models.BooleanField(
        _("demo activity"), default=False, help_text=_("The periodic job creates and advances orders."))
    error_rate = models.FloatField(_("error rate"), default=0.0, validators=RATE)
    drop_rate = models.FloatField(_("drop rate"), default=0.0, validators=RATE)
    slow_rate = models.FloatField(_("slow rate"), default=0.0, validators=RATE)
    slow_seconds = models.FloatField(_("slow seconds"), default=5.0, validators=[MinValueValidator(0.0)])
    malformed_rate = models.FloatField(_("malformed rate"), default=0.0, validators=RATE)
    ban_calls_per_minute = models.PositiveIntegerField(
        _("ban above calls per minute"), default=0, help_text=_("0 turns the limit off."))
    ban_seconds = models.PositiveIntegerField(_("ban seconds"), default=10)
    banned_until = models.DateTimeField(_("banned until"), null=True, blank=True)
    move_on_page_rate = models.FloatField(
        _("move on page rate"), default=0.0, validators=RATE,
        help_text=_("Chance that orders in the requested window change while a client pages (page 1 on)."))
    move_count = models.PositiveIntegerField(_("orders moved each time"), default=3)
    index_lag_seconds = models.PositiveIntegerField(
        _("search index lag (seconds)"), default=0,
        help_text=_("An order shows in order search only this long after its last update."))
    expire_token_next = models.BooleanField(
        _("expire the access token on the next call"), default=False,
        help_text=_("One-shot: the next call expires the access token and answers that it expired."))
    fail_next = models.PositiveIntegerField(
        _("fail next calls"), default=0, help_text=_("The next N calls answer a platform error."))
    push_drop_rate = models.FloatField(
        _("push drop rate"), default=0.0, validators=RATE,
        help_text=_("Share of push messages never delivered (polling must find those orders)."))

    class Meta:
        verbose_name = _("sandbox Douyin shop")
        verbose_name_plural = _("sandbox Douyin shops")
        ordering = ["shop_name"]

    def __str__(self):
        return f"{self.shop_name} ({self.app_key})"


class DouyinSequence(models.Model):
    """The last id handed out per kind (order, sku, product, aftersale, msg): unique across processes."""

    name = models.CharField(max_length=20, primary_key=True)
    value = models.BigIntegerField()

    class Meta:
        verbose_name = _("sandbox Douyin id sequence")
        verbose_name_plural = _("sandbox Douyin id sequences")

    def __str__(self):
        return f"{self.name}={self.value}"


class DouyinProduct(models.Model):
    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="products")
    product_id = models.BigIntegerField(unique=True)
    name = models.CharField(max_length=200)
    online = models.BooleanField(default=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox Douyin product")
        verbose_name_plural = _("sandbox Douyin products")
        ordering = ["product_id"]

    def __str__(self):
        return self.name


class DouyinSku(models.Model):
    product = models.ForeignKey(DouyinProduct, on_delete=models.CASCADE, related_name="skus")
    sku_id = models.BigIntegerField(unique=True)
    code = models.CharField(max_length=64, help_text=_("The merchant's SKU code."))
    spec_name = models.CharField(max_length=100, default="标准装")
    price = models.PositiveIntegerField(help_text=_("Fen."))
    stock_num = models.IntegerField(default=0)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox Douyin SKU")
        verbose_name_plural = _("sandbox Douyin SKUs")
        ordering = ["sku_id"]
        indexes = [models.Index(fields=["code"], name="sandbox_dy_sku_code_idx")]

    def __str__(self):
        return f"{self.code} ({self.sku_id})"


class DouyinOrder(models.Model):
    """A shop order (店铺单, the parent order); `receiver` holds the plain receiver, which the gateway only ever
    sends encrypted and masked."""

    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="orders")
    shop_order_id = models.CharField(max_length=24, unique=True)
    status = models.IntegerField(choices=OrderStatus.choices)
    create_time = models.DateTimeField()
    update_time = models.DateTimeField()
    pay_time = models.DateTimeField(null=True, blank=True)
    ship_time = models.DateTimeField(null=True, blank=True)
    finish_time = models.DateTimeField(null=True, blank=True)
    order_amount = models.PositiveIntegerField(default=0)
    pay_amount = models.PositiveIntegerField(default=0)
    post_amount = models.PositiveIntegerField(default=0)
    promotion_amount = models.PositiveIntegerField(default=0)
    buyer_words = models.CharField(max_length=200, blank=True)
    seller_words = models.CharField(max_length=200, blank=True)
    receiver = models.JSONField(default=dict)
    company_code = models.CharField(max_length=32, blank=True)
    logistics_code = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("sandbox Douyin order")
        verbose_name_plural = _("sandbox Douyin orders")
        ordering = ["-create_time", "-shop_order_id"]
        indexes = [
            models.Index(fields=["shop", "create_time"], name="sandbox_dy_order_created_idx"),
            models.Index(fields=["shop", "update_time"], name="sandbox_dy_order_updated_idx"),
        ]

    def __str__(self):
        return f"{self.shop_order_id} {self.status}"


class DouyinSkuOrder(models.Model):
    order = models.ForeignKey(DouyinOrder, on_delete=models.CASCADE, related_name="sku_orders")
    sku_order_id = models.CharField(max_length=24, unique=True)
    code = models.CharField(max_length=64)
    sku_id = models.BigIntegerField(default=0)
    product_id = models.BigIntegerField(default=0)
    product_name = models.CharField(max_length=200)
    spec_name = models.CharField(max_length=100, blank=True)
    item_num = models.PositiveIntegerField()
    goods_price = models.PositiveIntegerField()
    origin_amount = models.PositiveIntegerField()
    pay_amount = models.PositiveIntegerField()
    after_sale_status = models.IntegerField(choices=AfterSaleStatus.choices, default=AfterSaleStatus.NONE)
    after_sale_type = models.IntegerField(null=True, blank=True)
    refund_status = models.IntegerField(choices=RefundStatus.choices, default=RefundStatus.NONE)

    class Meta:
        verbose_name = _("sandbox Douyin SKU order")
        verbose_name_plural = _("sandbox Douyin SKU orders")
        ordering = ["sku_order_id"]

    def __str__(self):
        return f"{self.sku_order_id} {self.code} x{self.item_num}"


class DouyinAfterSale(models.Model):
    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="after_sales")
    order = models.ForeignKey(DouyinOrder, on_delete=models.CASCADE, related_name="after_sales")
    sku_order = models.ForeignKey(DouyinSkuOrder, on_delete=models.CASCADE, related_name="after_sales")
    aftersale_id = models.CharField(max_length=24, unique=True)
    aftersale_type = models.IntegerField(choices=AfterSaleType.choices)
    aftersale_status = models.IntegerField(choices=AfterSaleStatus.choices)
    refund_status = models.IntegerField(choices=RefundStatus.choices, default=RefundStatus.WAITING)
    refund_amount = models.PositiveIntegerField()
    reason = models.CharField(max_length=100, blank=True)
    apply_time = models.DateTimeField()
    update_time = models.DateTimeField()

    class Meta:
        verbose_name = _("sandbox Douyin after-sale")
        verbose_name_plural = _("sandbox Douyin after-sales")
        ordering = ["-update_time", "-aftersale_id"]
        indexes = [models.Index(fields=["shop", "update_time"], name="sandbox_dy_as_updated_idx")]

    def __str__(self):
        return f"{self.aftersale_id} {self.aftersale_status}"


class DouyinIdempotentId(models.Model):
    """An idempotent_id a stock write used: the same id again is refused and changes nothing."""

    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="idempotent_ids")
    idempotent_id = models.CharField(max_length=128)
    sku_id = models.BigIntegerField()
    stock_num = models.IntegerField()
    incremental = models.BooleanField()
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("sandbox Douyin applied stock write")
        verbose_name_plural = _("sandbox Douyin applied stock writes")
        constraints = [models.UniqueConstraint(fields=["shop", "idempotent_id"], name="sandbox_dy_idempotent_uniq")]

    def __str__(self):
        return self.idempotent_id


class DouyinCall(models.Model):
    """One answered gateway call: the ban window counts these; tests read them (and `moved`, the orders a page
    shift changed during this call)."""

    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=64)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=CallOutcome.choices)
    code = models.IntegerField(null=True, blank=True)
    moved = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("sandbox Douyin call")
        verbose_name_plural = _("sandbox Douyin calls")
        indexes = [models.Index(fields=["shop", "at"], name="sandbox_dy_call_shop_at_idx")]

    def __str__(self):
        return f"{self.method} {self.outcome}"


class DouyinPushMessage(models.Model):
    """A push message for the shop's callback URL: due at next_at until an answer {"code": 0} delivers it;
    a dropped one is never sent (polling is the safety net)."""

    shop = models.ForeignKey(DouyinShop, on_delete=models.CASCADE, related_name="push_messages")
    tag = models.CharField(max_length=8)
    msg_id = models.CharField(max_length=24, unique=True)
    data = models.TextField(help_text=_("A JSON string, as Douyin sends it."))
    created_at = models.DateTimeField()
    next_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dropped = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("sandbox Douyin push message")
        verbose_name_plural = _("sandbox Douyin push messages")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["shop", "next_at"], condition=Q(delivered_at__isnull=True, dropped=False),
                         name="sandbox_dy_push_due_idx"),
        ]

    def __str__(self):
        return f"{self.tag} {self.msg_id}"
