"""Purchase suggestions: the merchant's lead time, review period and safety days, and per product the overrides
and the quantity on order."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("merchant", "0019_followups"),
    ]

    operations = [
        migrations.AddField(
            model_name="merchant", name="replenish_lead_days",
            field=models.PositiveSmallIntegerField(default=7, verbose_name="purchase lead time (days)"),
        ),
        migrations.AddField(
            model_name="merchant", name="replenish_review_days",
            field=models.PositiveSmallIntegerField(default=7, verbose_name="days between purchase orders"),
        ),
        migrations.AddField(
            model_name="merchant", name="replenish_safety_days",
            field=models.PositiveSmallIntegerField(default=3, verbose_name="purchase safety stock (days of sales)"),
        ),
        migrations.CreateModel(
            name="ProductReplenishment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("lead_days", models.PositiveSmallIntegerField(blank=True, null=True,
                                                               verbose_name="purchase lead time (days)")),
                ("review_days", models.PositiveSmallIntegerField(blank=True, null=True,
                                                                 verbose_name="days between purchase orders")),
                ("safety_days", models.PositiveSmallIntegerField(
                    blank=True, null=True, verbose_name="purchase safety stock (days of sales)")),
                ("on_order", models.PositiveIntegerField(default=0, verbose_name="on order")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("merchant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                               to="merchant.merchant")),
                ("product", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                 related_name="replenishment", to="merchant.product")),
            ],
            options={"verbose_name": "purchase planning", "verbose_name_plural": "purchase planning"},
        ),
        migrations.AddIndex(
            model_name="productreplenishment",
            index=models.Index(fields=["merchant", "product"], name="replenishment_merchant_idx"),
        ),
    ]
