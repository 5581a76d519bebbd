from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Module(models.TextChoices):
    PRODUCTS = "products", _("Products")
    PRICES = "prices", _("Prices")
    BATCHES = "batches", _("Batches")
    STOCK = "stock", _("Stock")
    LISTING = "listing", _("Listing")
    CUSTOMERS = "customers", _("Customers")
    ORDERS = "orders", _("Orders")
    FULFILMENT = "fulfilment", _("Fulfilment")


class SwitchKind(models.TextChoices):
    STOCK = "stock", _("Auto stock sync")
    PRICE = "price", _("Auto price sync")


class SwitchState(models.Model):
    """Common part of a switch: auto-sync off, optionally only until a time, and who turned it off."""

    enabled = models.BooleanField(_("auto sync on"), default=True)
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def is_on(self, now=None):
        """A pause whose until-time has passed counts as on, even before the expiry job resumes it."""
        if self.enabled:
            return True
        return self.paused_until is not None and self.paused_until <= (now or timezone.now())


class ModuleSwitch(SwitchState):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="module_switches")
    module = models.CharField(_("module"), max_length=12, choices=Module.choices)

    class Meta:
        verbose_name = _("module switch")
        verbose_name_plural = _("module switches")
        constraints = [models.UniqueConstraint(fields=["merchant", "module"], name="uniq_module_switch")]

    def __str__(self):
        return f"{self.merchant_id}:{self.module}"


class SkuSwitch(SwitchState):
    product = models.ForeignKey("merchant.Product", on_delete=models.CASCADE, related_name="switches")
    kind = models.CharField(_("switch"), max_length=8, choices=SwitchKind.choices)

    class Meta:
        verbose_name = _("SKU switch")
        verbose_name_plural = _("SKU switches")
        constraints = [models.UniqueConstraint(fields=["product", "kind"], name="uniq_sku_switch")]
        indexes = [models.Index(fields=["kind", "enabled"], name="skuswitch_state_idx")]

    def __str__(self):
        return f"{self.product_id}:{self.kind}"


class HeldValue(models.Model):
    """The latest value an automatic channel sent while auto-sync was off: held, not lost (SPEC M11)."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="held_values")
    product = models.ForeignKey("merchant.Product", on_delete=models.CASCADE, related_name="held_values")
    field = models.CharField(_("field"), max_length=100)  # price[customer_group:CODE] for held group prices
    source = models.CharField(_("source"), max_length=12)
    value = models.JSONField(_("value"))
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("held value")
        verbose_name_plural = _("held values")
        constraints = [
            models.UniqueConstraint(fields=["product", "field", "source"], name="uniq_held_value"),
        ]
        indexes = [models.Index(fields=["merchant", "field"], name="heldvalue_merchant_idx")]

    def __str__(self):
        return f"{self.product_id}.{self.field}={self.value} ({self.source})"

    @property
    def source_label(self) -> str:
        from .audit import AuditSource

        return AuditSource(self.source).label if self.source in AuditSource.values else self.source


class HeldItem(models.Model):
    """A whole record an automatic channel sent while its module's auto-sync was off (SPEC M11): the latest
    one per record is kept and applied when the module is turned back on. Stock and price values of SKUs
    whose own switches are off are HeldValues instead, shown beside the value in force."""

    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="held_items")
    kind = models.CharField(_("kind"), max_length=20)  # a bulk kind: products, prices, batches, ...
    key = models.CharField(_("record"), max_length=200)
    source = models.CharField(_("source"), max_length=12)
    # The item as received (JSON-safe); for batches, every batch of the product (a full replace).
    values = models.JSONField(_("values"))
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("held record")
        verbose_name_plural = _("held records")
        constraints = [models.UniqueConstraint(fields=["merchant", "kind", "key"], name="uniq_held_item")]

    def __str__(self):
        return f"{self.kind}:{self.key} ({self.source})"

    @property
    def source_label(self) -> str:
        from .audit import AuditSource

        return AuditSource(self.source).label if self.source in AuditSource.values else self.source
