from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from merchant.pinyin import name_pinyin

MONEY = {"max_digits": 12, "decimal_places": 2}
POSITIVE_MONEY = [MinValueValidator(Decimal("0.01"))]


class ListingState(models.TextChoices):
    PENDING_REVIEW = "pending_review", _("Pending review")
    READY = "ready", _("Ready (not listed)")
    LISTED = "listed", _("Listed")
    DELISTED = "delisted", _("Delisted")


class BaseProduct(models.Model):
    """The platform's catalog entry that merchants' products link to."""

    name = models.CharField(_("name"), max_length=200)
    barcode = models.CharField(_("barcode"), max_length=64, blank=True)
    approval_number = models.CharField(_("approval number"), max_length=64, blank=True)
    spec = models.CharField(_("spec"), max_length=100, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("base product")
        verbose_name_plural = _("base products")
        indexes = [
            models.Index(fields=["barcode", "approval_number", "spec", "manufacturer"], name="baseproduct_match_idx")
        ]

    def __str__(self):
        return f"{self.name} {self.spec}".strip()


class RegionGroup(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("region group")
        verbose_name_plural = _("region groups")
        ordering = ["code"]

    def __str__(self):
        return self.name


class RegionGroupProvince(models.Model):
    region_group = models.ForeignKey(RegionGroup, on_delete=models.CASCADE, related_name="provinces")
    province = models.CharField(_("province"), max_length=30)

    class Meta:
        verbose_name = _("province")
        verbose_name_plural = _("provinces")
        # A province in two region groups would make a customer's region price ambiguous (SPEC M5).
        constraints = [models.UniqueConstraint(fields=["province"], name="uniq_province_one_region_group")]

    def __str__(self):
        return self.province


class CustomerGroup(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("customer group")
        verbose_name_plural = _("customer groups")
        ordering = ["code"]

    def __str__(self):
        return self.name


class Product(models.Model):
    merchant = models.ForeignKey("merchant.Merchant", on_delete=models.CASCADE, related_name="products")
    erp_product_id = models.CharField(_("ERP product id"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    # "<full pinyin> <initials>" of a Chinese name for the search (merchant/pinyin.py); kept in step with the
    # name by save() and the bulk writers. Searched through product_pinyin_trgm_idx (PostgreSQL, migration 0015).
    name_pinyin = models.CharField(max_length=1500, blank=True, default="", editable=False)
    barcode = models.CharField(_("barcode"), max_length=64, blank=True)
    approval_number = models.CharField(_("approval number"), max_length=64, blank=True)
    spec = models.CharField(_("spec"), max_length=100, blank=True)
    manufacturer = models.CharField(_("manufacturer"), max_length=200, blank=True)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    base_product = models.ForeignKey(
        BaseProduct, null=True, blank=True, on_delete=models.SET_NULL, related_name="products",
        verbose_name=_("base product"),
    )
    default_price = models.DecimalField(_("default price"), validators=POSITIVE_MONEY, **MONEY)
    suggested_retail_price = models.DecimalField(
        _("suggested retail price"), null=True, blank=True, validators=POSITIVE_MONEY, **MONEY
    )
    stock = models.IntegerField(_("stock"), default=0, validators=[MinValueValidator(0)])
    batch_managed = models.BooleanField(
        _("batch-managed"), default=False, help_text=_("Stock is the sum of the on-sale batches.")
    )
    listing_state = models.CharField(
        _("listing state"), max_length=20, choices=ListingState.choices, default=ListingState.PENDING_REVIEW
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["erp_product_id"]
        constraints = [
            models.UniqueConstraint(fields=["merchant", "erp_product_id"], name="uniq_product_erp_id"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_non_negative"),
            models.CheckConstraint(condition=Q(default_price__gt=0), name="product_price_positive"),
        ]
        indexes = [
            models.Index(fields=["merchant", "listing_state", "erp_product_id"], name="product_listing_idx"),
            models.Index(fields=["merchant", "stock"], name="product_stock_idx"),
            models.Index(fields=["merchant", "barcode"], name="product_barcode_idx"),
            models.Index(fields=["merchant", "base_product"], name="product_base_idx"),
            # The products list sorts by these columns (page by page, never sorting every row).
            models.Index(fields=["merchant", "name"], name="product_name_sort_idx"),
            models.Index(fields=["merchant", "default_price"], name="product_price_sort_idx"),
            models.Index(fields=["merchant", "updated_at"], name="product_updated_sort_idx"),
        ]
        # Plus PostgreSQL-only indexes the ORM cannot declare portably: product_name_trgm_idx (name contains,
        # migration 0003), product_pinyin_trgm_idx and the case-insensitive prefix indexes on the ERP product id
        # and the barcode (migration 0015).

    def __str__(self):
        return f"{self.erp_product_id} {self.name}"

    def save(self, *args, update_fields=None, **kwargs):
        if update_fields is None or "name" in update_fields:
            self.name_pinyin = name_pinyin(self.name)
            if update_fields is not None:
                update_fields = {*update_fields, "name_pinyin"}
        super().save(*args, update_fields=update_fields, **kwargs)

    def get_absolute_url(self):
        return reverse("product_detail", args=[self.pk])

    @property
    def retail_below_default(self) -> bool:
        """A suggested retail price under the default (wholesale) price: allowed, but likely a typo."""
        return self.suggested_retail_price is not None and self.suggested_retail_price < self.default_price


class GroupPrice(models.Model):
    """A product's price for one region group or one customer group (exactly one of them)."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="group_prices")
    region_group = models.ForeignKey(
        RegionGroup, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("region group")
    )
    customer_group = models.ForeignKey(
        CustomerGroup, null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("customer group")
    )
    price = models.DecimalField(_("price"), validators=POSITIVE_MONEY, **MONEY)

    class Meta:
        verbose_name = _("group price")
        verbose_name_plural = _("group prices")
        constraints = [
            models.CheckConstraint(
                condition=(Q(region_group__isnull=False) & Q(customer_group__isnull=True))
                | (Q(region_group__isnull=True) & Q(customer_group__isnull=False)),
                name="groupprice_exactly_one_group",
            ),
            models.CheckConstraint(condition=Q(price__gt=0), name="groupprice_positive"),
            models.UniqueConstraint(
                fields=["product", "region_group"], condition=Q(region_group__isnull=False), name="uniq_region_price"
            ),
            models.UniqueConstraint(
                fields=["product", "customer_group"],
                condition=Q(customer_group__isnull=False),
                name="uniq_customer_group_price",
            ),
        ]

    def __str__(self):
        return f"{self.region_group or self.customer_group}: {self.price}"


class Batch(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="batches")
    batch_no = models.CharField(_("batch number"), max_length=64)
    production_date = models.DateField(_("production date"))
    expiry_date = models.DateField(_("expiry date"))
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        ordering = ["-production_date", "batch_no"]
        constraints = [
            models.UniqueConstraint(fields=["product", "batch_no"], name="uniq_product_batch"),
            models.CheckConstraint(
                condition=Q(expiry_date__gt=models.F("production_date")), name="batch_expiry_after_production"
            ),
        ]
        indexes = [models.Index(fields=["expiry_date"], name="batch_expiry_idx")]

    def __str__(self):
        return self.batch_no

    def is_on_sale(self, today):
        """Expired or empty batches are never on sale (SPEC M6)."""
        return self.quantity > 0 and self.expiry_date > today


class PendingReviewManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(listing_state=ListingState.PENDING_REVIEW)


class PendingReviewProduct(Product):
    """The platform staff's review queue: products that matched no base product."""

    objects = PendingReviewManager()

    class Meta:
        proxy = True
        verbose_name = _("product pending review")
        verbose_name_plural = _("products pending review")
