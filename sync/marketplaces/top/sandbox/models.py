"""The sandbox marketplace's own state: shops, their items, trades, refunds, TMC messages and served calls.

Times are aware UTC with whole seconds (TOP speaks seconds, so a window bound must match what a client saw);
`SandboxTrade.data` holds the rest of a trade in TOP's shape, money as 2-decimal strings.
"""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}
RATE = [MinValueValidator(0.0), MaxValueValidator(1.0)]
SPEC_PROPERTY_ID = 1627207


class TradeStatus(models.TextChoices):
    TRADE_NO_CREATE_PAY = "TRADE_NO_CREATE_PAY"
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    SELLER_CONSIGNED_PART = "SELLER_CONSIGNED_PART"
    WAIT_SELLER_SEND_GOODS = "WAIT_SELLER_SEND_GOODS"
    WAIT_BUYER_CONFIRM_GOODS = "WAIT_BUYER_CONFIRM_GOODS"
    TRADE_BUYER_SIGNED = "TRADE_BUYER_SIGNED"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"
    TRADE_CLOSED_BY_TAOBAO = "TRADE_CLOSED_BY_TAOBAO"
    PAY_PENDING = "PAY_PENDING"
    WAIT_PRE_AUTH_CONFIRM = "WAIT_PRE_AUTH_CONFIRM"
    PAID_FORBID_CONSIGN = "PAID_FORBID_CONSIGN"


FINAL_TRADE_STATUSES = frozenset(
    {TradeStatus.TRADE_FINISHED, TradeStatus.TRADE_CLOSED, TradeStatus.TRADE_CLOSED_BY_TAOBAO}
)


class TradeType(models.TextChoices):
    FIXED = "fixed", _("Fixed price")
    STEP = "step", _("Presale (deposit and balance)")


class StepStatus(models.TextChoices):
    NONE = "", _("Not a presale")
    FRONT_NOPAID_FINAL_NOPAID = "FRONT_NOPAID_FINAL_NOPAID"
    FRONT_PAID_FINAL_NOPAID = "FRONT_PAID_FINAL_NOPAID"
    FRONT_PAID_FINAL_PAID = "FRONT_PAID_FINAL_PAID"


class RefundStatus(models.TextChoices):
    WAIT_SELLER_AGREE = "WAIT_SELLER_AGREE"
    WAIT_BUYER_RETURN_GOODS = "WAIT_BUYER_RETURN_GOODS"
    WAIT_SELLER_CONFIRM_GOODS = "WAIT_SELLER_CONFIRM_GOODS"
    SELLER_REFUSE_BUYER = "SELLER_REFUSE_BUYER"
    CLOSED = "CLOSED"
    SUCCESS = "SUCCESS"


FINAL_REFUND_STATUSES = frozenset({RefundStatus.CLOSED, RefundStatus.SUCCESS})


class ApproveStatus(models.TextChoices):
    ONSALE = "onsale", _("On sale")
    INSTOCK = "instock", _("In stock (delisted)")


class CallOutcome(models.TextChoices):
    OK = "ok", _("Answered")
    ERROR = "error", _("Error answer (request or business)")
    BANNED = "banned", _("Banned (code 7)")
    ISP_ERROR = "isp_error", _("Platform failure (isp)")
    DROPPED = "dropped", _("Connection dropped")
    MALFORMED = "malformed", _("Malformed body")


class SandboxShop(models.Model):
    nick = models.CharField(_("nick"), max_length=64, default="sandbox-shop")
    user_id = models.BigIntegerField(_("user id"))
    app_key = models.CharField(_("app key"), max_length=64, unique=True)
    app_secret = models.CharField(_("app secret"), max_length=128)
    session = models.CharField(_("session"), max_length=128)
    session_expired = models.BooleanField(_("session expired"), default=False)
    tmc_enabled = models.BooleanField(_("TMC enabled"), default=False)
    demo_activity = models.BooleanField(
        _("demo activity"), default=False, help_text=_("The periodic job creates and advances trades.")
    )
    buyer_message_rate = models.FloatField(_("buyer message rate"), default=0.0, validators=RATE)
    redeliver_after_seconds = models.PositiveIntegerField(
        _("redeliver after (seconds)"), default=30,
        help_text=_("A delivered but unconfirmed TMC message is delivered again after this."),
    )
    error_rate = models.FloatField(_("error rate"), default=0.0, validators=RATE)
    drop_rate = models.FloatField(_("drop rate"), default=0.0, validators=RATE)
    slow_rate = models.FloatField(_("slow rate"), default=0.0, validators=RATE)
    slow_seconds = models.FloatField(_("slow seconds"), default=5.0, validators=[MinValueValidator(0.0)])
    malformed_rate = models.FloatField(_("malformed rate"), default=0.0, validators=RATE)
    write_drop_rate = models.FloatField(
        _("quantity writes silently dropped"), default=0.0, validators=RATE,
        help_text=_("Share of SKU quantity writes answered as done but not kept (a write that did not stick)."))
    ban_calls_per_minute = models.PositiveIntegerField(
        _("ban above calls per minute"), default=0, help_text=_("0 turns the limit off.")
    )
    ban_seconds = models.PositiveIntegerField(_("ban seconds"), default=10)
    banned_until = models.DateTimeField(_("banned until"), null=True, blank=True)
    move_on_page_rate = models.FloatField(
        _("move on page rate"), default=0.0, validators=RATE,
        help_text=_("Chance that trades in the requested window change while a client pages (page 2 on)."),
    )
    move_count = models.PositiveIntegerField(_("trades moved each time"), default=3)
    fail_next = models.PositiveIntegerField(
        _("fail next calls"), default=0, help_text=_("The next N calls answer a platform error.")
    )
    ban_next_seconds = models.PositiveIntegerField(
        _("ban next call (seconds)"), default=0, help_text=_("The next call starts a ban of this many seconds.")
    )

    class Meta:
        verbose_name = _("sandbox shop")
        verbose_name_plural = _("sandbox shops")
        ordering = ["nick"]

    def __str__(self):
        return f"{self.nick} ({self.app_key})"


class SandboxCall(models.Model):
    """One answered gateway call: the ban window counts these, and tests and benchmarks read them."""

    shop = models.ForeignKey(SandboxShop, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=64)
    at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=CallOutcome.choices)
    code = models.IntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox call")
        verbose_name_plural = _("sandbox calls")
        indexes = [
            models.Index(fields=["shop", "at"], name="sandbox_call_shop_at_idx"),
            models.Index(fields=["shop", "method"], name="sandbox_call_shop_method_idx"),
        ]

    def __str__(self):
        return f"{self.method} {self.outcome}"


class SandboxSequence(models.Model):
    """The last id handed out per kind (tid, refund_id, ...): unique across processes, reserved in blocks."""

    name = models.CharField(max_length=20, primary_key=True)
    value = models.BigIntegerField()

    class Meta:
        verbose_name = _("sandbox id sequence")
        verbose_name_plural = _("sandbox id sequences")

    def __str__(self):
        return f"{self.name}={self.value}"


class SandboxItem(models.Model):
    shop = models.ForeignKey(SandboxShop, on_delete=models.CASCADE, related_name="items")
    num_iid = models.BigIntegerField(unique=True)
    outer_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=200)
    price = models.DecimalField(**MONEY)
    quantity = models.IntegerField(default=0)
    approve_status = models.CharField(max_length=10, choices=ApproveStatus.choices, default=ApproveStatus.ONSALE)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox item")
        verbose_name_plural = _("sandbox items")
        ordering = ["num_iid"]

    def __str__(self):
        return self.title


class SandboxSku(models.Model):
    item = models.ForeignKey(SandboxItem, on_delete=models.CASCADE, related_name="skus")
    sku_id = models.BigIntegerField(unique=True)
    outer_sku_id = models.CharField(max_length=64)
    properties_name = models.CharField(max_length=200, blank=True)
    price = models.DecimalField(**MONEY)
    quantity = models.IntegerField(default=0)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("sandbox SKU")
        verbose_name_plural = _("sandbox SKUs")
        ordering = ["sku_id"]
        indexes = [models.Index(fields=["outer_sku_id"], name="sandbox_sku_outer_idx")]

    def __str__(self):
        return f"{self.outer_sku_id} ({self.sku_id})"

    @property
    def properties(self) -> str:
        """The SKU's property string (`pid:vid`), as taobao.item.sku.price.update names a SKU; one property
        (spec) whose value id is the SKU's own id, so it is unique within the item."""
        return f"{SPEC_PROPERTY_ID}:{self.sku_id}"


class SandboxTrade(models.Model):
    shop = models.ForeignKey(SandboxShop, on_delete=models.CASCADE, related_name="trades")
    tid = models.BigIntegerField(unique=True)
    status = models.CharField(max_length=30, choices=TradeStatus.choices)
    type = models.CharField(max_length=10, choices=TradeType.choices, default=TradeType.FIXED)
    step_trade_status = models.CharField(max_length=30, choices=StepStatus.choices, blank=True)
    created = models.DateTimeField()
    modified = models.DateTimeField()
    pay_time = models.DateTimeField(null=True, blank=True)
    consign_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("sandbox trade")
        verbose_name_plural = _("sandbox trades")
        ordering = ["-created", "-tid"]
        indexes = [
            models.Index(fields=["shop", "created"], name="sandbox_trade_created_idx"),
            models.Index(fields=["shop", "modified"], name="sandbox_trade_modified_idx"),
        ]

    def __str__(self):
        return f"{self.tid} {self.status}"

    @property
    def lines(self) -> list[dict]:
        """The order lines (`data["orders"]["order"]`), mutable in place."""
        return self.data.setdefault("orders", {}).setdefault("order", [])


class SandboxRefund(models.Model):
    shop = models.ForeignKey(SandboxShop, on_delete=models.CASCADE, related_name="refunds")
    trade = models.ForeignKey(SandboxTrade, on_delete=models.CASCADE, related_name="refunds")
    refund_id = models.BigIntegerField(unique=True)
    tid = models.BigIntegerField()
    oid = models.BigIntegerField()
    status = models.CharField(max_length=30, choices=RefundStatus.choices)
    refund_fee = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=200, blank=True)
    has_good_return = models.BooleanField(default=False)
    good_status = models.CharField(max_length=30, blank=True)
    created = models.DateTimeField()
    modified = models.DateTimeField()

    class Meta:
        verbose_name = _("sandbox refund")
        verbose_name_plural = _("sandbox refunds")
        ordering = ["-modified", "-refund_id"]
        indexes = [models.Index(fields=["shop", "modified"], name="sandbox_refund_modified_idx")]

    def __str__(self):
        return f"{self.refund_id} {self.status}"


class SandboxMessage(models.Model):
    """A TMC message: pending until a consume delivers it, gone for good once confirmed."""

    id = models.BigAutoField(primary_key=True)
    shop = models.ForeignKey(SandboxShop, on_delete=models.CASCADE, related_name="messages")
    topic = models.CharField(max_length=64)
    content = models.TextField(help_text=_("A JSON string, as TMC sends it."))
    pub_time = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox TMC message")
        verbose_name_plural = _("sandbox TMC messages")
        ordering = ["pub_time", "id"]
        indexes = [
            models.Index(
                fields=["shop", "pub_time", "id"], condition=Q(confirmed_at__isnull=True),
                name="sandbox_message_pending_idx",
            )
        ]

    def __str__(self):
        return f"{self.id} {self.topic}"
