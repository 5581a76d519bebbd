from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductReplenishment(models.Model):
    """One product's purchase planning: its own lead time, review period and safety stock where they differ
    from the merchant's (null = the merchant's), and the quantity already ordered from the supplier and not yet
    received (在途), which the merchant keeps up to date by hand.

    A row of its own rather than columns on Product: the catalog's bulk writers (import by COPY, API upserts)
    write every Product column and have nothing to say about purchasing.
    """

    product = models.OneToOneField("merchant.Product", on_delete=models.CASCADE, related_name="replenishment")
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="+")
    lead_days = models.PositiveSmallIntegerField(_("purchase lead time (days)"), null=True, blank=True)
    review_days = models.PositiveSmallIntegerField(_("days between purchase orders"), null=True, blank=True)
    safety_days = models.PositiveSmallIntegerField(_("purchase safety stock (days of sales)"), null=True, blank=True)
    on_order = models.PositiveIntegerField(_("on order"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("purchase planning")
        verbose_name_plural = _("purchase planning")
        indexes = [models.Index(fields=["merchant", "product"], name="replenishment_merchant_idx")]

    def __str__(self):
        return f"{self.product_id}: on order {self.on_order}"
