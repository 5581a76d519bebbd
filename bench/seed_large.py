"""Fill the configured PostgreSQL database with a large merchant for the page and export benchmarks.

Creates merchant `bench` (owner `bench_owner` / `bench12345`), ~100 customers, N products (default
100,000) and N orders (default 1,000,000, ~3 items each) spread over the last 365 days, across every
order status, source, ERP status and taken flag. Rows go in with COPY (psycopg 3 `cursor.copy`).

Everything is written in one transaction. Inside it, when the bench rows will be the bulk of the table,
the orders' and items' secondary indexes are dropped before the COPY and rebuilt after it (much faster
than maintaining 13 indexes row by row); the FK triggers are skipped for this session only
(session_replication_role = replica; the generated rows are consistent by construction). A crash rolls
everything back, indexes included: nothing is disabled permanently. At the end: VACUUM ANALYZE.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/seed_large.py \
        [--orders N] [--products N] [--customers N] [--reset] [--keep-indexes] [--seed N]
"""
import argparse
import random
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import MERCHANT_CODE, OWNER_PASSWORD, OWNER_USERNAME, django_setup  # noqa: E402
from vocabulary import DRUGS, FORMS  # noqa: E402

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models.fields import NOT_PROVIDED  # noqa: E402

from merchant.models import (  # noqa: E402
    BaseProduct, Carrier, Customer, ErpCustomerCode, Membership, Merchant, Order, OrderItem, Product, Role, SkuSwitch,
)
from merchant.validators import uscc_check_char  # noqa: E402

# --- vocabulary (drug names and forms: vocabulary.py) ----------------------------------------------------
SPECS = ["0.25g*24粒", "0.5g*12片", "10g*10袋", "100ml", "20片*2板", "5mg*28片", "10ml*6支", "15g", "1盒", "50粒"]
MAKERS = ["华北制药", "哈药集团", "石药集团", "扬子江药业", "白云山", "同仁堂", "修正药业", "齐鲁制药", "恒瑞医药",
          "云南白药集团", "太极集团", "仁和药业", "江中药业", "三九医药", "以岭药业"]
UNITS = ["盒", "瓶", "袋", "支", "板", "个"]
PROVINCES = [("广东省", "广州市", "天河区"), ("浙江省", "杭州市", "西湖区"), ("江苏省", "南京市", "鼓楼区"),
             ("北京市", "北京市", "朝阳区"), ("上海市", "上海市", "浦东新区"), ("四川省", "成都市", "武侯区"),
             ("湖北省", "武汉市", "洪山区"), ("山东省", "济南市", "历下区"), ("河南省", "郑州市", "金水区"),
             ("福建省", "厦门市", "思明区")]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英"]
PAYMENTS = ["alipay", "wechat", "bank_transfer", "credit"]
CARRIERS = [("SF", "顺丰速运"), ("ZTO", "中通快递"), ("YTO", "圆通速递"), ("YUNDA", "韵达快递"), ("JD", "京东物流"),
            ("EMS", "中国邮政EMS")]

# status -> (weight, erp statuses it can have, marketplace status)
STATUSES = {
    "pending_payment": (10, [""], "WAIT_BUYER_PAY"),
    "awaiting_shipment": (14, ["", "submitted", "picking"], "WAIT_SELLER_SEND_GOODS"),
    "partially_shipped": (4, ["picking", "out_of_warehouse"], "SELLER_CONSIGNED_PART"),
    "shipped": (14, ["out_of_warehouse", "delivering", "signed"], "WAIT_BUYER_CONFIRM_GOODS"),
    "completed": (45, ["signed", "delivering"], "TRADE_FINISHED"),
    "cancelled": (13, ["", "submitted"], "TRADE_CLOSED"),
}
ITEM_COUNTS, ITEM_WEIGHTS = [1, 2, 3, 4, 5], [15, 20, 30, 20, 15]  # mean 3

USCC_PREFIX = "91330100BNCH"  # 12 chars; + 5 digits + check char = 18 (bench customers are recognisable)


def ts_text(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def extra_columns(model, provided: list[str]) -> tuple[list[str], str]:
    """Columns the generator does not know (added to the model later): filled with the field's default."""
    import json

    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.column in provided or field.primary_key:
            continue
        if getattr(field, "db_default", NOT_PROVIDED) is not NOT_PROVIDED and not field.has_default():
            continue  # the database fills it
        default = field.get_default()
        prepared = field.get_db_prep_save(default, connection)
        if hasattr(prepared, "adapted"):  # psycopg Jsonb wrapper
            prepared = json.dumps(prepared.obj)
        names.append(field.column)
        values.append(copy_value(prepared))
    return names, "".join("\t" + v for v in values)


def reserve_ids(cur, table: str, n: int) -> int:
    """Move the table's id sequence past n fresh ids and return the first of them."""
    cur.execute(f"SELECT pg_get_serial_sequence('{table}', 'id')")
    seq = cur.fetchone()[0]
    cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
    top = cur.fetchone()[0]
    cur.execute(f"SELECT last_value, is_called FROM {seq}")
    last, called = cur.fetchone()
    start = max(top, last if called else last - 1) + 1
    cur.execute("SELECT setval(%s, %s, true)", [seq, start + n - 1])
    return start


def copy_lines(cur, table: str, columns: list[str], lines) -> int:
    """COPY text lines (already tab-separated, newline-terminated) into table; return the row count."""
    from psycopg.copy import QueuedLibpqWriter

    n = 0
    buf = []
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN", writer=QueuedLibpqWriter(cur)) as cp:
        for line in lines:
            buf.append(line)
            if len(buf) >= 5000:
                cp.write("".join(buf))
                n += len(buf)
                buf.clear()
        if buf:
            cp.write("".join(buf))
            n += len(buf)
    return n


def referencing(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = %s::regclass""",
        [table],
    )
    return cur.fetchall()


def delete_tree(cur, table: str, where: str, params: list, skip: set[str], depth=0) -> int:
    """Delete the rows of table matching where, children first (every FK that points at the table)."""
    total = 0
    for child, column in referencing(cur, table):
        if child in skip or child == table:
            continue
        total += delete_tree(cur, child, f"{column} IN (SELECT id FROM {table} WHERE {where})", params, skip,
                             depth + 1)
    cur.execute(f"DELETE FROM {table} WHERE {where}", params)
    if cur.rowcount:
        print(f"  {'  ' * depth}deleted {cur.rowcount:,} from {table}", flush=True)
    return total + cur.rowcount


def secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that back no constraint."""
    cur.execute(
        """SELECT i.indexname, i.indexdef FROM pg_indexes i
           WHERE i.schemaname = current_schema() AND i.tablename = %s
             AND i.indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
           ORDER BY i.indexname""",
        [table, table],
    )
    return cur.fetchall()


def estimated_rows(cur, table: str) -> int:
    cur.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [table])
    return cur.fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--reset", action="store_true", help="delete the bench merchant's data first")
    parser.add_argument("--keep-indexes", action="store_true", help="never drop and rebuild indexes")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit(f"seed_large needs PostgreSQL (DATABASE_URL); this is {connection.vendor}.")
    rnd = random.Random(args.seed)
    started = time.monotonic()

    def step(label):
        print(f"[{time.monotonic() - started:7.1f}s] {label}", flush=True)

    # --- merchant, owner, reference rows (small: ORM) ---------------------------------------------------
    merchant, _ = Merchant.objects.get_or_create(code=MERCHANT_CODE, defaults={"name": "Bench Pharmacy"})
    User = get_user_model()
    user = User.objects.filter(username=OWNER_USERNAME).first()
    if user is None:
        user = User.objects.create_user(OWNER_USERNAME, password=OWNER_PASSWORD)
    elif not user.check_password(OWNER_PASSWORD):
        user.set_password(OWNER_PASSWORD)
        user.save(update_fields=["password"])
    Membership.objects.update_or_create(user=user, defaults={"merchant": merchant, "role": Role.OWNER})

    has_data = Order.objects.filter(merchant=merchant).exists() or Product.objects.filter(merchant=merchant).exists()
    if has_data and not args.reset:
        sys.exit("The bench merchant already has orders or products; run with --reset to replace them.")
    if has_data:
        step("--reset: deleting the bench merchant's data")
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")  # children are deleted explicitly
            for child, column in referencing(cur, "merchant_merchant"):
                if child in ("merchant_membership", "merchant_merchant"):
                    continue
                delete_tree(cur, child, f"{column} = %s", [merchant.pk], skip={"merchant_merchant"})
        step("reset done")

    carriers = []
    for code, name in CARRIERS:
        carriers.append(Carrier.objects.get_or_create(code=code, defaults={"name": name})[0].pk)
    customers = []
    for i in range(args.customers):
        first17 = f"{USCC_PREFIX}{i:05d}"
        uscc = first17 + uscc_check_char(first17)
        prov = PROVINCES[i % len(PROVINCES)]
        c, _ = Customer.objects.get_or_create(uscc=uscc, defaults={
            "name": f"{prov[1]}{rnd.choice(['康泰', '仁心', '百姓', '益丰', '老百姓', '一心', '大参林'])}大药房{i:03d}号店",
            "contact": rnd.choice(SURNAMES) + rnd.choice(GIVEN), "phone": f"138{i:08d}", "province": prov[0],
        })
        customers.append(c.pk)
        if i % 5:  # 80% have this merchant's ERP code
            ErpCustomerCode.objects.get_or_create(merchant=merchant, customer=c, defaults={"code": f"KH{i:05d}"})
    base_ids = list(BaseProduct.objects.filter(barcode__startswith="6999").values_list("pk", flat=True)[:1000])
    if len(base_ids) < 1000:
        BaseProduct.objects.bulk_create([
            BaseProduct(name=f"{DRUGS[i % len(DRUGS)]}{FORMS[i % len(FORMS)]}", barcode=f"6999{i:09d}",
                        approval_number=f"国药准字H{20000000 + i}", spec=SPECS[i % len(SPECS)],
                        manufacturer=MAKERS[i % len(MAKERS)])
            for i in range(len(base_ids), 1000)
        ], batch_size=1000)
        base_ids = list(BaseProduct.objects.filter(barcode__startswith="6999").values_list("pk", flat=True)[:1000])
    step(f"reference rows ready: merchant id {merchant.pk}, {len(customers)} customers, {len(carriers)} carriers")

    now = time.time()
    span = args.days * 86400
    counts = {}
    with transaction.atomic():
        connection.ensure_connection()
        pg = connection.connection
        with pg.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            try:
                cur.execute("SAVEPOINT repl")
                cur.execute("SET LOCAL session_replication_role = replica")
                cur.execute("RELEASE SAVEPOINT repl")
            except Exception as exc:  # not a superuser: FK triggers stay on (slower, still correct)
                cur.execute("ROLLBACK TO SAVEPOINT repl")
                print(f"  (FK triggers stay on: {exc})")

            # --- products ------------------------------------------------------------------------------
            np_ = args.products
            first_product = reserve_ids(cur, "merchant_product", np_)
            p_cols = ["id", "merchant_id", "erp_product_id", "name", "barcode", "approval_number", "spec",
                      "manufacturer", "unit", "base_product_id", "default_price", "suggested_retail_price", "stock",
                      "batch_managed", "listing_state", "created_at", "updated_at"]
            p_extra, p_suffix = extra_columns(Product, p_cols)
            price_cents = array("l")
            names, specs = [], []
            states = rnd.choices(["listed", "ready", "delisted", "pending_review"], [60, 15, 10, 15], k=np_)

            def product_lines():
                for i in range(np_):
                    drug = DRUGS[rnd.randrange(len(DRUGS))]
                    name = f"{drug}{FORMS[rnd.randrange(len(FORMS))]}"
                    spec = SPECS[rnd.randrange(len(SPECS))]
                    cents = rnd.randrange(150, 30000)
                    price_cents.append(cents)
                    names.append(name)
                    specs.append(spec)
                    stock = 0 if rnd.random() < 0.1 else rnd.randrange(1, 5000)
                    state = states[i]
                    base = r"\N" if state == "pending_review" else str(base_ids[i % len(base_ids)])
                    created = ts_text(now - span - rnd.randrange(86400 * 30))
                    yield (f"{first_product + i}\t{merchant.pk}\tP{i:07d}\t{name}\t69{i:011d}\t国药准字H{30000000 + i}"
                           f"\t{spec}\t{MAKERS[i % len(MAKERS)]}\t{UNITS[i % len(UNITS)]}\t{base}\t{money(cents)}"
                           f"\t{money(cents * 13 // 10)}\t{stock}\t{'t' if i % 7 == 0 else 'f'}\t{state}"
                           f"\t{created}\t{created}{p_suffix}\n")

            counts["products"] = copy_lines(cur, "merchant_product", p_cols + p_extra, product_lines())
            step(f"products: {counts['products']:,}")

            s_cols = ["product_id", "kind", "enabled", "paused_until", "changed_by_id", "changed_at", "reason"]
            s_extra, s_suffix = extra_columns(SkuSwitch, s_cols)

            def switch_lines():
                for i in range(0, np_, 50):  # 2% stock paused, 1% price paused
                    at = ts_text(now - rnd.randrange(86400 * 10))
                    yield f"{first_product + i}\tstock\tf\t\\N\t{user.pk}\t{at}\tbench{s_suffix}\n"
                    if i % 100 == 0:
                        until = ts_text(now + 86400)
                        yield f"{first_product + i}\tprice\tf\t{until}\t{user.pk}\t{at}\tbench{s_suffix}\n"

            counts["sku switches"] = copy_lines(cur, "merchant_skuswitch", s_cols + s_extra, switch_lines())

            # --- orders --------------------------------------------------------------------------------
            no = args.orders
            drop = not args.keep_indexes and estimated_rows(cur, "merchant_order") < no
            dropped = []
            if drop:
                for table in ("merchant_order", "merchant_orderitem"):
                    for name, ddl in secondary_indexes(cur, table):
                        cur.execute(f'DROP INDEX "{name}"')
                        dropped.append((name, ddl))
                step(f"dropped {len(dropped)} secondary indexes (rebuilt below, same transaction)")

            first_order = reserve_ids(cur, "merchant_order", no)
            o_cols = ["id", "merchant_id", "source", "order_no", "customer_id", "buyer_nick", "status",
                      "platform_status", "is_presale", "erp_status", "taken_by_erp", "taken_at", "created_at",
                      "modified_at", "paid_at", "payment", "buyer_message", "goods_amount", "shipping_fee",
                      "discount_amount", "total_amount", "paid_amount", "receiver_name", "receiver_phone",
                      "receiver_province", "receiver_city", "receiver_district", "receiver_address", "carrier_id",
                      "tracking_no", "shipped_at", "completed_at", "invoice_type", "invoice_title", "invoice_tax_no",
                      "invoice_email"]
            o_extra, o_suffix = extra_columns(Order, o_cols)
            status_names = list(STATUSES)
            status_seq = rnd.choices(status_names, [STATUSES[s][0] for s in status_names], k=no)
            item_n = array("b", rnd.choices(ITEM_COUNTS, ITEM_WEIGHTS, k=no))
            item_product = array("l")
            item_qty = array("b")
            order_shipped = array("b")
            # created times ascending with the id, like real arrivals
            created = sorted(now - rnd.random() * span for _ in range(no))

            def order_lines():
                for i in range(no):
                    status = status_seq[i]
                    _w, erps, top_status = STATUSES[status]
                    market = rnd.random() < 0.5
                    c_at = created[i]
                    recent = now - c_at < 3 * 86400
                    if recent and status in ("completed", "shipped"):  # fresh orders are rarely done
                        status, erps, top_status = "awaiting_shipment", STATUSES["awaiting_shipment"][1], \
                            STATUSES["awaiting_shipment"][2]
                    erp = erps[rnd.randrange(len(erps))]
                    taken = erp != "" or rnd.random() < 0.3
                    goods = 0
                    for _k in range(item_n[i]):
                        p = rnd.randrange(np_)
                        q = rnd.randrange(1, 11)
                        item_product.append(p)
                        item_qty.append(q)
                        goods += price_cents[p] * q
                    fee = 0 if goods > 9900 else 1000
                    discount = goods // 20 if rnd.random() < 0.2 else 0
                    total = goods + fee - discount
                    paid = status not in ("pending_payment",) and not (status == "cancelled" and rnd.random() < 0.6)
                    paid_at = c_at + rnd.randrange(10, 900) if paid else None
                    shipped = status in ("partially_shipped", "shipped", "completed")
                    order_shipped.append(1 if shipped else 0)
                    shipped_at = min(paid_at + rnd.randrange(3600, 86400 * 2), now) if shipped else None
                    completed_at = (min(shipped_at + rnd.randrange(86400, 86400 * 7), now)
                                    if status == "completed" else None)
                    taken_at = min((paid_at or c_at) + rnd.randrange(30, 600), now) if taken else None
                    if paid_at:
                        paid_at = min(paid_at, now)
                    modified = max(t for t in (c_at, paid_at, shipped_at, completed_at, taken_at) if t is not None)
                    prov, city, district = PROVINCES[rnd.randrange(len(PROVINCES))]
                    receiver = SURNAMES[rnd.randrange(len(SURNAMES))] + GIVEN[rnd.randrange(len(GIVEN))]
                    customer = customers[rnd.randrange(len(customers))] if customers else None
                    carrier = carriers[rnd.randrange(len(carriers))] if shipped else None
                    invoice = rnd.random() < 0.15
                    yield "\t".join((
                        str(first_order + i), str(merchant.pk), "marketplace" if market else "storefront",
                        f"{3500000000000000000 + i}" if market else f"SO{i:010d}",
                        str(customer) if customer else r"\N", f"tb_{receiver}{i % 997}" if market else "",
                        status, top_status if market else "", "t" if rnd.random() < 0.02 else "f", erp,
                        "t" if taken else "f", ts_text(taken_at) if taken_at else r"\N", ts_text(c_at),
                        ts_text(modified), ts_text(paid_at) if paid_at else r"\N",
                        PAYMENTS[rnd.randrange(len(PAYMENTS))] if paid else "",
                        "请尽快发货" if rnd.random() < 0.05 else "", money(goods), money(fee), money(discount),
                        money(total), money(total) if paid else "0.00", receiver, f"139{rnd.randrange(10**8):08d}",
                        prov, city, district, f"{district}科技路{rnd.randrange(1, 999)}号",
                        str(carrier) if carrier else r"\N",
                        f"SF{1000000000 + i}" if shipped else "", ts_text(shipped_at) if shipped_at else r"\N",
                        ts_text(completed_at) if completed_at else r"\N",
                        "增值税普通发票" if invoice else "", "公司抬头" if invoice else "",
                        f"{USCC_PREFIX}00000X" if invoice else "", "invoice@example.com" if invoice else "",
                    )) + o_suffix + "\n"

            counts["orders"] = copy_lines(cur, "merchant_order", o_cols + o_extra, order_lines())
            del created, status_seq
            step(f"orders: {counts['orders']:,}")

            i_cols = ["order_id", "line_no", "product_id", "erp_product_id", "item_name", "spec", "quantity",
                      "unit_price", "amount", "refund_status", "batch_no"]
            i_extra, i_suffix = extra_columns(OrderItem, i_cols)

            def item_lines():
                k = 0
                for i in range(no):
                    order_id = first_order + i
                    shipped = order_shipped[i]
                    for line in range(1, item_n[i] + 1):
                        p = item_product[k]
                        q = item_qty[k]
                        k += 1
                        cents = price_cents[p]
                        r = rnd.random()
                        refund = ("" if r > 0.03 else "requested" if r < 0.01 else "refunded" if r < 0.02
                                  else "rejected")
                        batch = f"B{2024000 + p % 500}" if shipped else ""
                        yield (f"{order_id}\t{line}\t{first_product + p}\tP{p:07d}\t{names[p]}\t{specs[p]}\t{q}"
                               f"\t{money(cents)}\t{money(cents * q)}\t{refund}\t{batch}{i_suffix}\n")

            counts["order items"] = copy_lines(cur, "merchant_orderitem", i_cols + i_extra, item_lines())
            step(f"order items: {counts['order items']:,}")

            if dropped:
                cur.execute("SET LOCAL max_parallel_maintenance_workers = 2")
                for name, ddl in dropped:
                    cur.execute(ddl)
                step(f"rebuilt {len(dropped)} indexes")
        step("committing")
    step("committed")

    connection.ensure_connection()
    with connection.connection.cursor() as cur:  # autocommit: VACUUM cannot run in a transaction
        for table in ("merchant_product", "merchant_skuswitch", "merchant_order", "merchant_orderitem",
                      "merchant_customer", "merchant_erpcustomercode"):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    step("VACUUM ANALYZE done")

    elapsed = time.monotonic() - started
    print()
    print(f"merchant {MERCHANT_CODE} (id {merchant.pk}), owner {OWNER_USERNAME} / {OWNER_PASSWORD}")
    for label, model, flt in (
        ("products", Product, {"merchant": merchant}), ("sku switches", SkuSwitch, {"product__merchant": merchant}),
        ("customers", Customer, {"uscc__startswith": USCC_PREFIX}),
        ("erp customer codes", ErpCustomerCode, {"merchant": merchant}),
        ("orders", Order, {"merchant": merchant}), ("order items", OrderItem, {"order__merchant": merchant}),
    ):
        print(f"  {label:<20} {model.objects.filter(**flt).count():>12,}")
    print(f"elapsed: {elapsed:.1f} s")


if __name__ == "__main__":
    main()
