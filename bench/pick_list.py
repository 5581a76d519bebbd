"""Printing a selection of orders (issue 12 item 5: the pick list of 500 selected orders renders in <= 2 s).

Makes merchant `bench_print` afresh (its rows deleted with everything attached, then generated from a fixed
seed): ~200 products, each with 1-4 batches (about one in eight expired, a few empty, a tenth with no batch
records at all), and --orders orders awaiting shipment with 2-4 lines each; one in ten is partially shipped
(shipment rows with batch numbers) and one line in twenty names an ERP product id the merchant does not have.
Then, in this process, Django's test client logged in as the merchant's viewer requests the real views with the
--orders ids: the pick list by GET and by POST (the list page posts large selections), and the delivery notes.
Each is rendered --runs times (after one warm-up request); printed: median, min and max seconds, the queries
one request makes, the response size, the pick list's lines, and the box's busy and stolen CPU share; then the
reads and FEFO allocation alone (the selector, without a request or a template), so the rest is rendering.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_print .venv/bin/python bench/pick_list.py \
        [--orders 500] [--products 200] [--runs 5] [--allow-sqlite]
"""
import argparse
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import busy_and_steal, cpu_times, delete_tree, django_setup, yes  # noqa: E402

django_setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from merchant.models import (  # noqa: E402
    Batch, Carrier, Membership, Merchant, Order, OrderItem, OrderStatus, Product, Role, Shipment, ShipmentItem,
)
from merchant.selectors_print import print_selection  # noqa: E402
from vocabulary import DRUGS, FORMS  # noqa: E402

CODE = "bench_print"
VIEWER = "bench_print_viewer"
BAR_S = 2.0


def reset() -> None:
    """Delete the bench merchant with everything attached (and nobody else's rows)."""
    if connection.vendor != "postgresql":  # the smoke run: the ORM's cascade is fine for a few rows
        Merchant.objects.filter(code=CODE).delete()
        return
    with transaction.atomic(), connection.cursor() as cur:
        for pk in Merchant.objects.filter(code=CODE).values_list("pk", flat=True):
            delete_tree(cur, Merchant._meta.db_table, "id = %s", [pk])


def seed(n_orders: int, n_products: int) -> tuple[list[int], int, int, int]:
    """The bench merchant, its catalog and n_orders orders; returns the order ids (newest first) and the
    numbers of products, batches and order lines."""
    rng = random.Random(12)
    today = timezone.localdate()
    now = timezone.now()
    merchant = Merchant.objects.create(code=CODE, name="Bench print pharmacy")
    user, _created = get_user_model().objects.get_or_create(username=VIEWER)
    Membership.objects.create(user=user, merchant=merchant, role=Role.VIEWER)
    carrier, _created = Carrier.objects.get_or_create(code="SF", defaults={"name": "SF Express"})
    products = Product.objects.bulk_create(
        Product(merchant=merchant, erp_product_id=f"PR{i:05d}", name=f"{rng.choice(DRUGS)}{rng.choice(FORMS)}",
                spec=f"{rng.choice([5, 10, 20, 50])}mg*{rng.choice([12, 24, 36])}", unit=rng.choice(["盒", "瓶", "支"]),
                default_price=Decimal("12.50"), stock=rng.randint(0, 200), batch_managed=i % 10 != 0)
        for i in range(n_products))
    batches = []
    for product in products:
        if not product.batch_managed:
            continue
        for b in range(rng.randint(1, 4)):
            expiry = today + timedelta(days=rng.choice([-30, 20, 60, 120, 200, 400, 700]))
            batches.append(Batch(product=product, batch_no=f"{product.erp_product_id}-{b}",
                                 production_date=expiry - timedelta(days=730), expiry_date=expiry,
                                 quantity=rng.choice([0, 5, 20, 50, 100, 300])))
    Batch.objects.bulk_create(batches)
    orders = Order.objects.bulk_create(
        Order(merchant=merchant, order_no=f"BP{i:08d}", buyer_nick=f"buyer{i}", created_at=now - timedelta(minutes=i),
              modified_at=now, paid_at=now - timedelta(minutes=i - 1),
              status=OrderStatus.PARTIALLY_SHIPPED if i % 10 == 0 else OrderStatus.AWAITING_SHIPMENT,
              receiver_name="王五", receiver_phone="13800000000", receiver_province="广东", receiver_city="广州",
              receiver_district="天河区", receiver_address=f"体育西路{i}号", goods_amount=Decimal("100.00"),
              total_amount=Decimal("100.00"), paid_amount=Decimal("100.00"), invoice_title="某某大药房有限公司",
              invoice_tax_no="91440101MA5XXXXX1X")
        for i in range(n_orders))
    items = []
    for order in orders:
        for line_no, product in enumerate(rng.sample(products, rng.randint(2, 4)), start=1):
            unknown = rng.random() < 0.05
            quantity = rng.randint(1, 12)
            items.append(OrderItem(
                order=order, line_no=line_no, product=None if unknown else product,
                erp_product_id="GONE-" + product.erp_product_id if unknown else product.erp_product_id,
                item_name=product.name, spec=product.spec, quantity=quantity, unit_price=Decimal("12.50"),
                amount=Decimal("12.50") * quantity))
    OrderItem.objects.bulk_create(items)
    partial = [o for o in orders if o.status == OrderStatus.PARTIALLY_SHIPPED]
    shipments = Shipment.objects.bulk_create(
        Shipment(order=o, carrier=carrier, tracking_no=f"SF{o.pk}", shipped_at=now) for o in partial)
    by_order = {}
    for item in items:
        by_order.setdefault(item.order_id, []).append(item)
    ShipmentItem.objects.bulk_create(
        ShipmentItem(shipment=s, order_item=by_order[s.order_id][0], quantity=1, batch_no="SHIPPED-1",
                     expiry_date=today + timedelta(days=300)) for s in shipments)
    return [o.pk for o in orders], len(products), len(batches), len(items)


def measure(client: Client, method: str, name: str, ids: list[int], runs: int) -> dict:
    url = reverse(name)
    call = (lambda: client.get(url, {"id": ids})) if method == "GET" else (lambda: client.post(url, {"id": ids}))
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # Counted by a wrapper: CaptureQueriesContext reads the debug log, which each request resets.
    with connection.execute_wrapper(count):
        response = call()  # warm-up: the templates compile, the connection opens
    assert response.status_code == 200, response.status_code
    seconds = []
    box0 = cpu_times()
    for _ in range(runs):
        t0 = time.perf_counter()
        response = call()
        seconds.append(time.perf_counter() - t0)
        assert response.status_code == 200
    busy, steal = busy_and_steal(box0, cpu_times())
    return {"label": f"{name} ({method})", "median": statistics.median(seconds), "min": min(seconds),
            "max": max(seconds), "queries": len(queries), "kb": len(response.content) / 1024,
            "busy": busy, "steal": steal}


def main():
    parser = argparse.ArgumentParser(description="print pages of a large selection: render seconds")
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--allow-sqlite", action="store_true", help="a smoke run on SQLite (figures mean little)")
    args = parser.parse_args()
    if connection.vendor != "postgresql" and not args.allow_sqlite:
        sys.exit("Run it on PostgreSQL (DATABASE_URL=postgres://...), or pass --allow-sqlite for a smoke run.")
    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    t0 = time.perf_counter()
    reset()
    ids, n_products, n_batches, n_items = seed(args.orders, args.products)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
    print(f"seeded {len(ids):,} orders, {n_items:,} lines, {n_products} products, {n_batches} batches "
          f"in {time.perf_counter() - t0:.1f} s ({connection.vendor})", flush=True)

    client = Client()
    client.force_login(get_user_model().objects.get(username=VIEWER))
    results = [measure(client, "GET", "order_print_pick_list", ids, args.runs),
               measure(client, "POST", "order_print_pick_list", ids, args.runs),
               measure(client, "GET", "order_print_delivery_notes", ids, args.runs)]

    merchant = Merchant.objects.get(code=CODE)
    reads = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        selection = print_selection(merchant, Order.objects.filter(pk__in=ids), today=timezone.localdate(),
                                    position=ids)
        pick = selection.pick_list
        reads.append(time.perf_counter() - t0)
    print(f"pick list: {len(pick.lines)} lines ({sum(ln.shortage for ln in pick.lines)} shortages), "
          f"{pick.pick_quantity:,} units to pick, {pick.shortage_quantity:,} short, {len(pick.unknown)} unknown "
          f"products ({pick.unknown_quantity:,} units), {pick.order_count} orders")
    print()
    print(f"{'page':<40}{'median s':>9}{'min s':>8}{'max s':>8}{'queries':>8}{'KB':>8}{'busy':>6}{'steal':>6}"
          f"{'<= 2 s':>8}")
    for r in results:
        print(f"{r['label']:<40}{r['median']:>9.3f}{r['min']:>8.3f}{r['max']:>8.3f}{r['queries']:>8}{r['kb']:>8.0f}"
              f"{r['busy']:>6.0%}{r['steal']:>6.0%}{yes(r['median'] <= BAR_S):>8}")
    print(f"of which the reads and the FEFO allocation (merchant.selectors_print.print_selection and its pick list): "
          f"median {statistics.median(reads):.3f} s; the rest is template rendering")
    print(f"\n{args.runs} runs each after one warm-up; the bar (median <= {BAR_S:.0f} s) is for the pick list, the "
          "delivery notes are measured against it for information.")


if __name__ == "__main__":
    main()
