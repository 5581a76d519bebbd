from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Right
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .catalog import MONEY


class OrderSource(models.TextChoices):
    STOREFRONT = "storefront", _("Own storefront")
    MARKETPLACE = "marketplace", _("Marketplace")


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class ErpStatus(models.TextChoices):
    NONE = "", _("Not yet")
    SUBMITTED = "submitted", _("Submitted")
    PICKING = "picking", _("Picking")
    OUT_OF_WAREHOUSE = "out_of_warehouse", _("Out of warehouse")
    DELIVERING = "delivering", _("Delivering")
    SIGNED = "signed", _("Signed")


class RefundStatus(models.TextChoices):
    NONE = "", _("None")
    REQUESTED = "requested", _("Refund requested")
    REFUNDED = "refunded", _("Refunded")
    PARTIAL = "partial", _("Partly refunded")
    REJECTED = "rejected", _("Refund rejected")


class OrderFlag(models.TextChoices):
    """The seller's flag colour on an order, as marketplaces' seller centres offer it."""

    NONE = "", _("No flag")
    RED = "red", _("Red")
    YELLOW = "yellow", _("Yellow")
    GREEN = "green", _("Green")
    BLUE = "blue", _("Blue")
    PURPLE = "purple", _("Purple")


class PresaleStage(models.TextChoices):
    """TOP's step_trade_status of a presale (type=step) trade: deposit, then balance."""

    DEPOSIT_UNPAID = "FRONT_NOPAID_FINAL_NOPAID", _("Presale: deposit not paid")
    DEPOSIT_PAID = "FRONT_PAID_FINAL_NOPAID", _("Presale: deposit paid, balance due")
    BALANCE_PAID = "FRONT_PAID_FINAL_PAID", _("Presale: balance paid")
    DEPOSIT_FORFEITED = "FRONT_PAID_FRONT_FORFEITED", _("Presale: deposit forfeited")


# The marketplace's own trade statuses (TOP trade.status and step_trade_status), in the merchant's words; the
# code itself stays available as a tooltip and in the API.
PLATFORM_STATUS_LABELS = {
    "TRADE_NO_CREATE_PAY": _("No payment created"),
    "WAIT_BUYER_PAY": _("Waiting for the buyer to pay"),
    "PAY_PENDING": _("Payment being processed"),
    "WAIT_PRE_AUTH_CONFIRM": _("Waiting for pre-authorisation"),
    "WAIT_SELLER_SEND_GOODS": _("Paid, waiting for the seller to ship"),
    "PAID_FORBID_CONSIGN": _("Paid, shipping not allowed yet"),
    "SELLER_CONSIGNED_PART": _("Partly shipped"),
    "WAIT_BUYER_CONFIRM_GOODS": _("Shipped, waiting for the buyer to confirm"),
    "TRADE_BUYER_SIGNED": _("Signed for by the buyer"),
    "TRADE_FINISHED": _("Trade finished"),
    "TRADE_CLOSED": _("Trade closed"),
    "TRADE_CLOSED_BY_TAOBAO": _("Closed by the marketplace"),
    **{stage.value: stage.label for stage in PresaleStage},
}


def platform_status_label(code: str) -> str:
    """The marketplace status in words; an unknown code is shown as received (it is the platform's own word)."""
    return str(PLATFORM_STATUS_LABELS.get(code, code)) if code else ""


class Carrier(models.Model):
    """The platform's carrier code list (logistics companies)."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Order(models.Model):
    """An order in the five parts the source names: basic info, amounts, shipping, invoice, items."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="orders")
    # Basic info
    source = models.CharField(_("source"), max_length=12, choices=OrderSource.choices, default=OrderSource.STOREFRONT)
    order_no = models.CharField(_("order number"), max_length=64)
    customer = models.ForeignKey(
        "merchant.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders",
        verbose_name=_("customer"),
    )
    buyer_nick = models.CharField(_("buyer"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=OrderStatus.choices)
    platform_status = models.CharField(_("platform status"), max_length=40, blank=True)
    is_presale = models.BooleanField(_("presale"), default=False)
    # Marketplace presale stage (deposit / balance), e.g. FRONT_PAID_FINAL_NOPAID.
    presale_status = models.CharField(_("presale stage"), max_length=40, blank=True)
    # Presale freeze (SPEC S10): the deposit is paid, the balance not yet, and its deadline (TOP's
    # timeout_action_time, when the marketplace gave one) has not passed. Kept by
    # merchant.services.presale; sellable stock holds a deposit-paid presale only while it is frozen.
    presale_balance_due_at = models.DateTimeField(_("balance due by"), null=True, blank=True)
    presale_frozen = models.BooleanField(_("frozen for presale"), default=False)
    # The marketplace connection an order came in through (null for own-storefront orders).
    connection = models.ForeignKey(
        "sync.Connection", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders",
        verbose_name=_("connection"),
    )
    refund_status = models.CharField(
        _("refund status"), max_length=12, choices=RefundStatus.choices, blank=True, default=""
    )
    # Some lines name an ERP product id that matches none of the merchant's products; kept, not dropped.
    has_unmapped_lines = models.BooleanField(_("has unmapped lines"), default=False)
    erp_status = models.CharField(_("ERP status"), max_length=20, choices=ErpStatus.choices, blank=True, default="")
    taken_by_erp = models.BooleanField(_("taken by ERP"), default=False)
    taken_at = models.DateTimeField(_("taken by ERP at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))
    modified_at = models.DateTimeField(_("modified"))
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    payment = models.CharField(_("payment method"), max_length=30, blank=True)
    buyer_message = models.CharField(_("buyer message"), max_length=500, blank=True)
    # Amounts
    goods_amount = models.DecimalField(_("goods amount"), default=0, **MONEY)
    shipping_fee = models.DecimalField(_("shipping fee"), default=0, **MONEY)
    discount_amount = models.DecimalField(_("discount"), default=0, **MONEY)
    total_amount = models.DecimalField(_("total"), default=0, **MONEY)
    paid_amount = models.DecimalField(_("paid amount"), default=0, **MONEY)
    # Shipping
    receiver_name = models.CharField(_("receiver"), max_length=100, blank=True)
    receiver_phone = models.CharField(_("receiver phone"), max_length=30, blank=True)
    receiver_province = models.CharField(_("province"), max_length=30, blank=True)
    receiver_city = models.CharField(_("city"), max_length=50, blank=True)
    receiver_district = models.CharField(_("district"), max_length=50, blank=True)
    receiver_address = models.CharField(_("address"), max_length=300, blank=True)
    carrier = models.ForeignKey(Carrier, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("carrier"))
    tracking_no = models.CharField(_("tracking number"), max_length=64, blank=True)
    shipped_at = models.DateTimeField(_("shipped"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # Invoice
    invoice_type = models.CharField(_("invoice type"), max_length=30, blank=True)
    invoice_title = models.CharField(_("invoice title"), max_length=200, blank=True)
    invoice_tax_no = models.CharField(_("taxpayer id"), max_length=30, blank=True)
    invoice_email = models.CharField(_("invoice email"), max_length=200, blank=True)
    # The merchant's own notes, never sent to the buyer.
    seller_memo = models.CharField(_("seller memo"), max_length=500, blank=True)
    flag = models.CharField(_("flag"), max_length=10, choices=OrderFlag.choices, blank=True, default="")
    # Which exception rules apply (one bit each, merchant.selectors.orders.EXCEPTION_RULES), kept by
    # merchant.services.order_attention: the exceptions tab and its count read one indexed column instead of
    # evaluating seven rules over every order on each page view.
    attention = models.PositiveSmallIntegerField(_("needs attention"), default=0)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "source", "order_no"], name="uniq_order_no"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-created_at"], name="order_created_idx"),
            models.Index(fields=["merchant", "-paid_at"], name="order_paid_idx"),
            models.Index(fields=["merchant", "status", "-created_at"], name="order_status_idx"),
            models.Index(fields=["merchant", "platform_status", "-created_at"], name="order_platform_status_idx"),
            models.Index(fields=["merchant", "erp_status", "-created_at"], name="order_erp_status_idx"),
            models.Index(fields=["merchant", "taken_by_erp", "-created_at"], name="order_taken_idx"),
            models.Index(fields=["merchant", "customer", "-created_at"], name="order_customer_idx"),
            models.Index(fields=["merchant", "source", "-created_at"], name="order_source_idx"),
            models.Index(fields=["merchant", "order_no"], name="order_no_idx"),
            models.Index(fields=["merchant", "-modified_at"], name="order_modified_idx"),
            models.Index(fields=["connection", "modified_at"], name="order_conn_modified_idx"),
            models.Index(fields=["connection", "created_at"], name="order_conn_created_idx"),
            # The workbench: sort by amount, search by tracking number, phone (full or last four digits),
            # tabs for refunds and flags. Prefix searches have PostgreSQL pattern indexes (migration 0011).
            models.Index(fields=["merchant", "-total_amount"], name="order_amount_idx"),
            models.Index(fields=["merchant", "tracking_no"], name="order_tracking_idx"),
            models.Index(fields=["merchant", "receiver_phone"], name="order_phone_idx"),
            models.Index(F("merchant"), Right("receiver_phone", 4), name="order_phone_tail_idx"),
            models.Index(fields=["merchant", "refund_status"], condition=~Q(refund_status=""),
                         name="order_refund_idx"),
            models.Index(fields=["merchant", "flag"], condition=~Q(flag=""), name="order_flag_idx"),
            models.Index(fields=["merchant", "-created_at"], condition=Q(has_unmapped_lines=True),
                         name="order_unmapped_idx"),
            models.Index(fields=["merchant", "-created_at"], condition=Q(attention__gt=0), name="order_attention_idx"),
            models.Index(fields=["presale_balance_due_at"], condition=Q(presale_frozen=True),
                         name="order_presale_frozen_idx"),
        ]

    def __str__(self):
        return self.order_no

    @property
    def platform_status_label(self) -> str:
        return platform_status_label(self.platform_status)

    @property
    def presale_status_label(self) -> str:
        return platform_status_label(self.presale_status)

    def get_absolute_url(self):
        return reverse("order_detail", args=[self.pk])


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    line_no = models.PositiveIntegerField(_("line"))
    product = models.ForeignKey(
        "merchant.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="order_items"
    )
    erp_product_id = models.CharField(_("ERP product id"), max_length=64)
    # The marketplace's line id (TOP oid); refunds and re-pulls find the line by it.
    external_id = models.CharField(_("marketplace line id"), max_length=32, blank=True)
    item_name = models.CharField(_("item"), max_length=200)
    spec = models.CharField(_("spec"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    amount = models.DecimalField(_("amount"), **MONEY)
    refund_status = models.CharField(
        _("refund status"), max_length=12, choices=RefundStatus.choices, blank=True, default=""
    )
    batch_no = models.CharField(_("batch numbers"), max_length=200, blank=True, help_text=_("Shown to the buyer."))
    # When the refund state was last set from a refund record, so an older refund record never wins.
    refund_modified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("order item")
        verbose_name_plural = _("order items")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="uniq_order_line"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderitem_quantity_positive"),
        ]
        # The workbench's search by ERP product id; item names have a PostgreSQL trigram index (migration 0011).
        indexes = [models.Index(fields=["erp_product_id"], name="orderitem_erp_id_idx")]

    def __str__(self):
        return f"{self.order_id}/{self.line_no} {self.item_name}"


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.ForeignKey(Carrier, on_delete=models.PROTECT, verbose_name=_("carrier"))
    tracking_no = models.CharField(_("tracking number"), max_length=64)
    shipped_at = models.DateTimeField(_("shipped"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["shipped_at", "id"]
        indexes = [models.Index(fields=["tracking_no"], name="shipment_tracking_idx")]

    def __str__(self):
        return f"{self.carrier.code} {self.tracking_no}"


class ShipmentItem(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="items")
    order_item = models.ForeignKey(OrderItem, on_delete=models.CASCADE, related_name="shipment_items")
    quantity = models.PositiveIntegerField(_("quantity"))
    batch_no = models.CharField(_("batch number"), max_length=64, blank=True)
    production_date = models.DateField(_("production date"), null=True, blank=True)
    expiry_date = models.DateField(_("expiry date"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment item")
        verbose_name_plural = _("shipment items")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentitem_quantity_positive")]


class TrackingEntry(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tracking")
    at = models.DateTimeField(_("time"))
    erp_status = models.CharField(_("ERP status"), max_length=20, choices=ErpStatus.choices, blank=True)
    message = models.CharField(_("message"), max_length=300)

    class Meta:
        verbose_name = _("tracking entry")
        verbose_name_plural = _("tracking entries")
        ordering = ["at", "id"]

    def __str__(self):
        return self.message
