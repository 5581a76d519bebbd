"""The sandbox ERP bridge's own state: the bridge and its fault switches, its change log (whose ids are the
cursors it hands out), the orders it received and the calls it answered."""
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

RATE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class ChangeKind(models.TextChoices):
    PRODUCTS = "products", _("Products")
    PRICES = "prices", _("Prices")
    BATCHES = "batches", _("Batches")
    STOCK = "stock", _("Stock")
    CUSTOMERS = "customers", _("Customers")


class SandboxErp(models.Model):
    name = models.CharField(_("name"), max_length=64, default="sandbox-erp")
    app_key = models.CharField(_("key"), max_length=64, unique=True)
    app_secret = models.CharField(_("secret"), max_length=128)
    demo_activity = models.BooleanField(
        _("demo activity"), default=False, help_text=_("The periodic job changes stock and prices now and then.")
    )
    unsupported_kinds = models.CharField(
        _("kinds not served"), max_length=100, blank=True,
        help_text=_("Comma-separated change feeds answered with 404 unsupported_kind, e.g. batches."),
    )
    refuse_products = models.CharField(
        _("refuse orders naming"), max_length=500, blank=True,
        help_text=_("Comma-separated ERP product ids: an order with one of them is rejected."),
    )
    # Cursors below this were purged from the log: a client still holding one gets 410 cursor_expired.
    oldest_cursor = models.BigIntegerField(_("oldest cursor kept"), default=0)
    # Faults
    unauthorized = models.BooleanField(_("refuse every call (401)"), default=False)
    error_rate = models.FloatField(_("error rate (5xx)"), default=0.0, validators=RATE)
    slow_rate = models.FloatField(_("slow rate"), default=0.0, validators=RATE)
    slow_seconds = models.FloatField(_("slow seconds"), default=5.0, validators=[MinValueValidator(0.0)])
    malformed_rate = models.FloatField(_("malformed rate"), default=0.0, validators=RATE)
    fail_next = models.PositiveIntegerField(_("fail next calls"), default=0,
                                            help_text=_("The next N calls answer 503."))
    slow_next = models.PositiveIntegerField(_("slow next calls"), default=0,
                                            help_text=_("The next N calls wait slow seconds before answering."))
    malformed_next = models.PositiveIntegerField(_("malformed next calls"), default=0,
                                                 help_text=_("The next N calls answer half a JSON body."))
    rate_limit_next_seconds = models.PositiveIntegerField(
        _("rate limit next call (seconds)"), default=0,
        help_text=_("The next call answers 429 with this Retry-After, and so do calls until it has passed."),
    )
    rate_limited_until = models.DateTimeField(_("rate limited until"), null=True, blank=True)

    class Meta:
        verbose_name = _("sandbox ERP")
        verbose_name_plural = _("sandbox ERPs")
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.app_key})"

    def kinds_refused(self) -> set[str]:
        return {kind.strip() for kind in self.unsupported_kinds.split(",") if kind.strip()}

    def products_refused(self) -> set[str]:
        return {key.strip() for key in self.refuse_products.split(",") if key.strip()}


class SandboxErpChange(models.Model):
    """One entry of the change log. Its id is the cursor: the bridge hands out `id` of the last item served
    and serves `id > cursor` next, so ids must be committed in order (writers lock the bridge's row)."""

    id = models.BigAutoField(primary_key=True)
    erp = models.ForeignKey(SandboxErp, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(_("kind"), max_length=10, choices=ChangeKind.choices)
    # Batches of one product written together share a group, and a page never splits a group (the hub
    # replaces a product's batches with the ones a page names).
    group = models.BigIntegerField(_("group"), default=0)
    item = models.JSONField(_("item"))
    at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("sandbox ERP change")
        verbose_name_plural = _("sandbox ERP changes")
        ordering = ["id"]
        indexes = [models.Index(fields=["erp", "kind", "id"], name="sandbox_erp_change_feed_idx")]

    def __str__(self):
        return f"{self.id} {self.kind}"


class SandboxErpOrder(models.Model):
    """An order the hub handed over (the bridge's POST /orders); the order number makes a repeat a duplicate."""

    erp = models.ForeignKey(SandboxErp, on_delete=models.CASCADE, related_name="orders")
    order_no = models.CharField(_("order number"), max_length=64)
    data = models.JSONField(_("order"))
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("sandbox ERP order")
        verbose_name_plural = _("sandbox ERP orders")
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["erp", "order_no"], name="uniq_sandbox_erp_order")]

    def __str__(self):
        return self.order_no


class CallOutcome(models.TextChoices):
    OK = "ok", _("Answered")
    ERROR = "error", _("Error answer")
    RATE_LIMITED = "rate_limited", _("Rate limited (429)")
    SERVER_ERROR = "server_error", _("Server error (5xx)")
    MALFORMED = "malformed", _("Malformed body")


class SandboxErpCall(models.Model):
    """One answered call: tests and benchmarks count these."""

    erp = models.ForeignKey(SandboxErp, on_delete=models.CASCADE, related_name="calls")
    method = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=12, choices=CallOutcome.choices)
    at = models.DateTimeField()

    class Meta:
        verbose_name = _("sandbox ERP call")
        verbose_name_plural = _("sandbox ERP calls")
        indexes = [models.Index(fields=["erp", "at"], name="sandbox_erp_call_at_idx")]

    def __str__(self):
        return f"{self.method} {self.status}"
