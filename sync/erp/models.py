"""What the ERP connector must remember between runs: how far each change feed has been applied, and the
orders the bridge refused (so they are not offered again every minute)."""
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErpKind(models.TextChoices):
    """The bridge's change feeds, in the order a pull applies them: a product must exist before its
    prices, batches and stock can apply."""

    PRODUCTS = "products", _("Products")
    PRICES = "prices", _("Prices")
    BATCHES = "batches", _("Batches")
    STOCK = "stock", _("Stock")
    CUSTOMERS = "customers", _("Customers")


class ErpCursor(models.Model):
    """The bridge's cursor after the last page applied, per (connection, feed). Saved in the transaction
    that applies the page, so a crash re-reads that page rather than skipping it."""

    connection = models.ForeignKey("sync.Connection", on_delete=models.CASCADE, related_name="erp_cursors")
    kind = models.CharField(_("kind"), max_length=10, choices=ErpKind.choices)
    # Opaque to us: whatever the bridge's next_cursor said (docs/erp-bridge.md allows up to 1000 characters).
    cursor = models.TextField(_("cursor"), blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("ERP cursor")
        verbose_name_plural = _("ERP cursors")
        ordering = ["connection", "kind"]
        constraints = [models.UniqueConstraint(fields=["connection", "kind"], name="uniq_erp_cursor")]

    def __str__(self):
        return f"{self.connection_id}/{self.kind} @ {self.cursor[:40]}"


class ErpOrderRefusal(models.Model):
    """An order the bridge answered "rejected": offered again only after REFUSED_RETRY (the merchant or the
    ERP side may fix the cause meanwhile); removed once the bridge takes it."""

    connection = models.ForeignKey("sync.Connection", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey("merchant.Order", on_delete=models.CASCADE, related_name="+")
    message = models.CharField(_("message"), max_length=300, blank=True)
    refused_at = models.DateTimeField(_("refused at"))
    attempts = models.PositiveIntegerField(_("attempts"), default=1)

    class Meta:
        verbose_name = _("order refused by the ERP")
        verbose_name_plural = _("orders refused by the ERP")
        constraints = [models.UniqueConstraint(fields=["connection", "order"], name="uniq_erp_order_refusal")]
        indexes = [models.Index(fields=["connection", "refused_at"], name="erp_refusal_recent_idx")]

    def __str__(self):
        return f"{self.order_id}: {self.message}"
