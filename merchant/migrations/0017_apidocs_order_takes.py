"""Takes of the ERP's order query: the page a marking GET /api/v1/orders returned, fetched again by its id."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("merchant", "0016_name_pinyin"),
    ]

    operations = [
        migrations.CreateModel(
            name="OrderTake",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("public_id", models.CharField(max_length=40, unique=True)),
                ("order_ids", models.JSONField(default=list)),
                ("next_cursor", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(db_index=True)),
                ("credential", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                 to="merchant.apicredential")),
                ("merchant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                               to="merchant.merchant")),
            ],
        ),
    ]
