"""Bulk shipping from one spreadsheet (SPEC M14; bars: 5,000 orders checked into a change set in <= 10 s and
applied in <= 20 s on PostgreSQL on a 2-core machine).

The script makes merchant `bench_ship` fresh (everything hanging off it deleted, children first, from the FK
catalogue) with --orders orders awaiting shipment, two lines each over 500 products, a third of them
marketplace orders of a TOP connection that is enabled but stopped (so every shipped one writes its logistics
outbox row, as in production, and no push job is queued). It writes a logistics workbook with the project's
streamed xlsx writer, header in Chinese (订单号 物流公司 运单号 行号 数量 批号), order numbers as 19-digit text:
one row per order shipping everything, except every fifth order, shipped in two parcels (line 1 with a quantity
and a batch, then the rest without a line). Then, as `import_file ... --apply` does: an ImportJob from the file,
pipeline.validate(job) (the preview), import_apply_claimed(job) (the apply, one transaction through the shipping
service). Printed: both times against the bars, the database queries of each step, the counts (every row
changed, none invalid), the orders shipped, shipments and items written, the logistics outbox rows, the audit
entries, and the box's busy and stolen CPU share. --profile adds a cProfile'd apply of a fresh run.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ship .venv/bin/python bench/ship_import.py \
        [--orders 5000] [--profile] [--keep-file] [--allow-sqlite]
"""
import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import busy_and_steal, cpu_times, delete_tree, django_setup, yes  # noqa: E402

django_setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from merchant.models import (  # noqa: E402
    AuditEntry, Carrier, ImportJob, ImportStatus, Merchant, Order, OrderItem, OrderSource, OrderStatus, Product,
    Shipment, ShipmentItem,
)

PREVIEW_BAR_S = 10.0
APPLY_BAR_S = 20.0
CODE = "bench_ship"
PRODUCTS = 500
HEADER = ["订单号", "物流公司", "运单号", "行号", "数量", "批号"]
CARRIERS = [("SF", "顺丰速运"), ("YTO", "圆通速递"), ("ZTO", "中通快递")]


def order_no(i: int) -> str:
    return f"20260301{i:011d}"  # 19 digits: text, never a number


def split(i: int) -> bool:
    """Every fifth order ships in two parcels."""
    return i % 5 == 0


def reset_merchant() -> Merchant:
    from django.core.files.storage import default_storage

    merchant = Merchant.objects.filter(code=CODE).first()
    if merchant is not None:
        for name in ImportJob.objects.filter(merchant=merchant).values_list("file", flat=True):
            if name:
                default_storage.delete(name)
        if connection.vendor == "postgresql":
            with transaction.atomic(), connection.cursor() as cur:
                delete_tree(cur, "merchant_merchant", "id = %s", [merchant.pk])
            with connection.cursor() as cur:  # autocommit: a clean table for the run, as on the first
                for table in ("merchant_order", "merchant_orderitem", "merchant_shipment", "merchant_shipmentitem",
                              "merchant_importrow", "merchant_auditentry", "sync_outbox"):
                    cur.execute(f"VACUUM (ANALYZE) {table}")
        else:
            merchant.delete()
    return Merchant.objects.create(code=CODE, name="Bench bulk shipping")


def seed(merchant: Merchant, orders: int):
    """The merchant's products, a stopped TOP connection, and `orders` orders awaiting shipment (2 lines each)."""
    from sync.models import Connection, ConnectionKind

    for code, name in CARRIERS:
        Carrier.objects.get_or_create(code=code, defaults={"name": name})
    shop = Connection.objects.create(merchant=merchant, kind=ConnectionKind.TOP, name="bench shop",
                                     gateway_url="http://127.0.0.1:9/router/rest", app_key="bench",
                                     stopped_reason="bench: no pushes")
    products = Product.objects.bulk_create([
        Product(merchant=merchant, erp_product_id=f"SHIP-{n:04d}", name=f"商品{n}", default_price=Decimal("9.90"),
                stock=1000) for n in range(PRODUCTS)])
    now = timezone.now()
    made = Order.objects.bulk_create([
        Order(merchant=merchant, order_no=order_no(i), status=OrderStatus.AWAITING_SHIPMENT,
              source=OrderSource.MARKETPLACE if i % 3 == 0 else OrderSource.STOREFRONT,
              connection=shop if i % 3 == 0 else None, created_at=now, modified_at=now, paid_at=now,
              goods_amount=Decimal("49.50"), total_amount=Decimal("49.50"), paid_amount=Decimal("49.50"))
        for i in range(orders)], batch_size=2000)
    OrderItem.objects.bulk_create([
        OrderItem(order=order, line_no=line, product=products[(i * 2 + line) % PRODUCTS],
                  erp_product_id=products[(i * 2 + line) % PRODUCTS].erp_product_id, item_name=f"商品{line}",
                  quantity=3 if line == 1 else 2, unit_price=Decimal("9.90"),
                  amount=Decimal("9.90") * (3 if line == 1 else 2))
        for i, order in enumerate(made) for line in (1, 2)], batch_size=2000)
    return sum(1 for i in range(orders) if i % 3 == 0)


def sheet_rows(orders: int):
    for i in range(orders):
        carrier = CARRIERS[i % len(CARRIERS)]
        if split(i):
            yield [order_no(i), carrier[0], f"{carrier[0]}{i:012d}A", 1, 2, f"B{i % 97:04d}"]
            yield [order_no(i), carrier[1], f"{carrier[0]}{i:012d}B", None, None, None]
        else:
            yield [order_no(i), carrier[1] if i % 2 else carrier[0], f"{carrier[0]}{i:012d}", None, None, None]


def write_workbook(path: str, orders: int) -> tuple[int, int, float]:
    from merchant.spreadsheets.xlsx_stream import stream_xlsx

    t0 = time.perf_counter()
    rows = list(sheet_rows(orders))
    with open(path, "wb") as out:
        for chunk in stream_xlsx(HEADER, rows, sheet_name="发货"):
            out.write(chunk)
    return len(rows), os.path.getsize(path), time.perf_counter() - t0


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def run(merchant: Merchant, path: str, profile: str | None = None) -> dict:
    from django.core.files import File

    from merchant.models import AuditSource
    from merchant.permissions import Actor
    from merchant.services.imports import import_apply_claimed
    from merchant.spreadsheets.imports import pipeline

    with open(path, "rb") as handle:
        job = ImportJob(merchant=merchant, kind="logistics", file_name=os.path.basename(path), file_format="xlsx",
                        file_size=os.path.getsize(path))
        job.file.save(job.file_name, File(handle), save=False)
        job.save()
    box0 = cpu_times()
    queries = QueryCounter()
    with connection.execute_wrapper(queries):
        t0 = time.perf_counter()
        validation = pipeline.validate(job)
        preview_s = time.perf_counter() - t0
    preview_queries = queries.count
    if job.status != ImportStatus.PREVIEW:
        raise SystemExit(f"the check ended in {job.status}: {job.error}")
    if job.invalid_count:
        first = job.rows.filter(action="invalid").order_by("row_number").first()
        raise SystemExit(f"{job.invalid_count} invalid rows, the first: row {first.row_number} {first.errors}")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    queries.count = 0
    with connection.execute_wrapper(queries):
        t0 = time.perf_counter()
        result = import_apply_claimed(job=job, actor=Actor.system(source=AuditSource.IMPORT))
        apply_s = time.perf_counter() - t0
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    busy, steal = busy_and_steal(box0, cpu_times())
    if "error" in result:
        raise SystemExit(f"apply refused: {result['error']}")
    job.refresh_from_db()
    return {"job": job, "preview_s": preview_s, "apply_s": apply_s, "parse_s": validation.timings["parse"],
            "plan_s": validation.timings["validate"], "preview_queries": preview_queries,
            "apply_queries": queries.count, "applied": result["applied"], "busy": busy, "steal": steal}


def print_profile(path: str, top: int = 30) -> None:
    import io
    import pstats

    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(path, stream=buf).strip_dirs().sort_stats(order).print_stats(top)
        text = buf.getvalue()
        start = text.find("   ncalls")
        print(f"\n--- profile of the apply, top {top} by {order} ---")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


def main():
    parser = argparse.ArgumentParser(description="bulk shipping from one sheet: preview and apply times")
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--profile", action="store_true", help="then a cProfile'd apply of a fresh run")
    parser.add_argument("--keep-file", action="store_true", help="keep the generated workbook")
    parser.add_argument("--allow-sqlite", action="store_true",
                        help="run on a non-PostgreSQL database anyway (a smoke run: the figures say nothing about "
                             "the bars)")
    args = parser.parse_args()

    vendor = connection.vendor
    if vendor != "postgresql" and not args.allow_sqlite:
        sys.exit(f"The bars are measured on PostgreSQL; this database is {vendor}. Set "
                 "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_ship (or pass --allow-sqlite).")
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version" if vendor == "postgresql" else "SELECT sqlite_version()")
        server = cur.fetchone()[0].split()[0]
    print(f"database: {vendor} {server} ({connection.settings_dict['NAME']}), migrated in "
          f"{time.perf_counter() - t0:.1f} s")

    n = args.orders
    tmp = tempfile.mkdtemp(prefix="bench-ship-")
    path = os.path.join(tmp, f"logistics-{n}.xlsx")
    rows, size, secs = write_workbook(path, n)
    print(f"workbook: {rows:,} rows for {n:,} orders ({sum(1 for i in range(n) if split(i)):,} in two parcels), "
          f"{size / 1e6:.1f} MB, written in {secs:.1f} s ({path})")

    t0 = time.perf_counter()
    merchant = reset_merchant()
    marketplace = seed(merchant, n)
    print(f"merchant {CODE}: {n:,} orders awaiting shipment ({marketplace:,} marketplace), {2 * n:,} lines, "
          f"made in {time.perf_counter() - t0:.1f} s")

    print("checking and applying ...", flush=True)
    r = run(merchant, path)
    job = r["job"]
    orders = Order.objects.filter(merchant=merchant)
    shipped = orders.filter(status=OrderStatus.SHIPPED).count()
    shipments = Shipment.objects.filter(order__merchant=merchant).count()
    items = ShipmentItem.objects.filter(shipment__order__merchant=merchant).count()
    from sync.models import Outbox, OutboxKind

    logistics = Outbox.objects.filter(kind=OutboxKind.LOGISTICS, order__merchant=merchant).count()
    stock_rows = Outbox.objects.filter(kind=OutboxKind.STOCK, product__merchant=merchant).count()
    audit = AuditEntry.objects.filter(merchant=merchant, entity="order").count()
    split_orders = sum(1 for i in range(n) if split(i))
    expected_shipments = n + split_orders

    print()
    print(f"preview (validate): {r['preview_s']:.2f} s (parse {r['parse_s']:.2f} s, plan and store "
          f"{r['plan_s']:.2f} s), {r['preview_queries']:,} queries")
    print(f"apply (one transaction): {r['apply_s']:.2f} s, {r['apply_queries']:,} queries")
    print(f"rows {job.rows_total:,}: {job.changed_count:,} changed, {job.unchanged_count:,} unchanged, "
          f"{job.invalid_count:,} invalid; applied {r['applied']:,}")
    print(f"orders shipped {shipped:,} / {n:,}; shipments {shipments:,} (expected {expected_shipments:,}), "
          f"shipment items {items:,}; logistics outbox rows {logistics:,} (marketplace orders {marketplace:,}), "
          f"stock outbox rows {stock_rows:,}; order audit entries {audit:,}")
    print(f"CPU during the run: {r['busy']:.0%} busy, {r['steal']:.0%} stolen by the hypervisor")
    print()
    print(f"Bulk shipping bars, {n:,} orders on {vendor} {server}:")
    if vendor != "postgresql":
        print("  (not PostgreSQL, --allow-sqlite: a smoke run, the figures say nothing about the bars)")
    print(f"  preview {r['preview_s']:.2f} s <= {PREVIEW_BAR_S:.0f} s: {yes(r['preview_s'] <= PREVIEW_BAR_S)}")
    print(f"  apply {r['apply_s']:.2f} s <= {APPLY_BAR_S:.0f} s: {yes(r['apply_s'] <= APPLY_BAR_S)}")
    counts_ok = (job.changed_count, job.invalid_count, shipped, shipments, logistics) == (
        rows, 0, n, expected_shipments, marketplace)
    print(f"  counts (every row changed and applied, every order shipped, one logistics row per marketplace "
          f"order): {yes(counts_ok)}")

    if args.profile:
        prof = os.path.join(tmp, "apply.prof")
        print("\nprofiling the apply of a fresh run (cProfile: slower than the measured run) ...", flush=True)
        merchant = reset_merchant()
        seed(merchant, n)
        res = run(merchant, path, profile=prof)
        print(f"profiled run: preview {res['preview_s']:.2f} s, apply {res['apply_s']:.2f} s; stats in {prof}")
        print_profile(prof)
    if args.keep_file or args.profile:
        print(f"files in {tmp}")
    else:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
