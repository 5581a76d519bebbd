"""The products list search and sort: pinyin of product names (filled here for existing rows), indexes for the
sortable columns, and PostgreSQL-only indexes the ORM cannot declare portably:

- product_pinyin_trgm_idx: trigram index for `name_pinyin LIKE '%gml%'` (pg_trgm, created in 0003);
- product_erp_prefix_idx / product_barcode_prefix_idx: case-insensitive prefix search. Django's istartswith
  is `UPPER(col::text) LIKE UPPER('p100%')`; text_pattern_ops lets a btree answer LIKE with a fixed prefix
  whatever the database collation.
"""
from django.db import migrations, models

from merchant.pinyin import name_pinyin

POSTGRES_INDEXES = {
    "product_pinyin_trgm_idx": "ON merchant_product USING gin (name_pinyin gin_trgm_ops)",
    "product_erp_prefix_idx": "ON merchant_product (merchant_id, UPPER(erp_product_id::text) text_pattern_ops)",
    "product_barcode_prefix_idx": "ON merchant_product (merchant_id, UPPER(barcode::text) text_pattern_ops)",
}
FILL_BATCH = 2000


def fill_pinyin(apps, schema_editor):
    Product = apps.get_model("merchant", "Product")
    last = 0
    while True:
        chunk = list(Product.objects.filter(pk__gt=last).order_by("pk").only("pk", "name")[:FILL_BATCH])
        if not chunk:
            return
        for product in chunk:
            product.name_pinyin = name_pinyin(product.name)
        Product.objects.bulk_update([p for p in chunk if p.name_pinyin], ["name_pinyin"], batch_size=500)
        last = chunk[-1].pk


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in POSTGRES_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in POSTGRES_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('merchant', '0015_import_revert_and_batches'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='name_pinyin',
            field=models.CharField(blank=True, default='', editable=False, max_length=1500),
        ),
        migrations.RunPython(fill_pinyin, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['merchant', 'name'], name='product_name_sort_idx'),
        ),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['merchant', 'default_price'], name='product_price_sort_idx'),
        ),
        migrations.AddIndex(
            model_name='product',
            index=models.Index(fields=['merchant', 'updated_at'], name='product_updated_sort_idx'),
        ),
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
