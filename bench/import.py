"""Product import (issue 14: a 100,000-row product workbook parsed, validated and applied in <= 10 s on
PostgreSQL on a 2-core machine, 1,000,000 rows in <= 120 s, peak memory <= 400 MB, and at least 30x faster than
django-import-export's default ModelResource import of the same 20,000-row file, measured in the same run).

The script makes an N-row product workbook (header = the canonical column keys) with the project's streamed
xlsx writer: unique ERP ids, Chinese names, EAN-13 barcodes, approval numbers, specs, manufacturers, units,
2-decimal prices (a fifth of the rows without a suggested retail price), stock (a tenth at 0). 30% of the
rows match a base product by barcode + approval number + spec + manufacturer; those base products are
created first (the values are a function of the row number, so they are reused from run to run).

Each measurement runs in a fresh Python process (its memory figures are its own: VmHWM from
/proc/self/status, reset between validate and apply through /proc/self/clear_refs where the kernel allows):
  1. our pipeline on a fresh merchant (bench_import: its products, imports and audit entries deleted first):
     ImportJob from the file, pipeline.validate(job), pipeline.apply(job) -- as the import_file command does;
  2. the same file again on the same merchant (every row unchanged);
  3. the comparison, on a --peer-rows file (20,000 rows: the first rows of the main file): ours on a fresh
     merchant (bench_import_cmp), then django-import-export's default path on another fresh merchant
     (bench_import_peer): tablib Dataset().load(..., format="xlsx") and
     ModelResource.import_data(dry_run=False, use_transactions=True).
     The resource's customisation is the least that imports the same file onto a merchant: the merchant
     set on each row in before_import_row, the file's base_product_id column bound to the base_product
     field, and get_queryset limited to the merchant (import_id_fields = erp_product_id is only unique per
     merchant: without it the lookup would find other merchants' products, and it could not use the
     (merchant, erp_product_id) index, a sequential scan per row). --skip-peer skips the comparison. The plan
     of its per-row lookup at the start is printed: on a fresh merchant
     PostgreSQL's statistics see none of its products and it picks the merchant_id index with a filter on the
     ERP id, so each lookup reads every product imported so far (quadratic); its time includes that.
--profile adds one more fresh import of ours under cProfile and prints the top functions (not used for the
verdicts: profiling slows it down).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/import.py \
        [--rows 100000 | --rows 1000000] [--peer-rows 20000] [--skip-peer] [--profile] [--keep-file] [--allow-sqlite]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import REPO, busy_and_steal, cpu_times, django_setup  # noqa: E402
from vocabulary import DRUGS, FORMS  # noqa: E402

django_setup()

from django.db import connection, transaction  # noqa: E402

from merchant.models import BaseProduct, Merchant, Product  # noqa: E402

# Bars by file size (issue 14): 100,000 rows end to end in 10 s, 1,000,000 in 120 s; other sizes have none.
TOTAL_BARS_S = {100_000: 10.0, 1_000_000: 120.0}
MEMORY_BAR_MB = 400.0
RATIO_BAR = 30.0
PEER_ROWS = 20_000  # the comparison file: django-import-export needs minutes for it, hours for 1,000,000 rows
OURS_CODE = "bench_import"
CMP_CODE = "bench_import_cmp"  # ours on the comparison file, on its own fresh merchant
PEER_CODE = "bench_import_peer"
HEADER = ["erp_product_id", "name", "barcode", "approval_number", "spec", "manufacturer", "unit",
          "base_product_id", "default_price", "suggested_retail_price", "stock"]

# --- the workbook's values: a function of the row number (base products are reused between runs) ---------
SPECS = ["0.25g*24粒", "0.5g*12片", "10g*10袋", "100ml", "20片*2板", "5mg*28片", "10ml*6支", "15g", "0.1g*100片",
         "50粒", "2g*9袋", "30mg*7片", "10ml:0.5g", "250ml/瓶"]
MAKERS = ["华北制药股份有限公司", "哈药集团制药总厂", "石药集团欧意药业有限公司", "扬子江药业集团有限公司",
          "广州白云山医药集团股份有限公司", "北京同仁堂股份有限公司", "修正药业集团股份有限公司", "齐鲁制药有限公司",
          "江苏恒瑞医药股份有限公司", "云南白药集团股份有限公司", "太极集团重庆涪陵制药厂有限公司", "仁和药业有限公司",
          "江西江中制药(集团)有限责任公司", "华润三九医药股份有限公司", "石家庄以岭药业股份有限公司"]
UNITS = ["盒", "瓶", "袋", "支", "板", "盒", "盒", "瓶"]
CATEGORIES = "HZSJ"  # 国药准字 H (chemical), Z (traditional), S (biological), J (imported)
MATCHED_PREFIX, UNMATCHED_PREFIX = "6988", "6977"  # barcodes: rows that match a base product / the others


def ean13(first12: str) -> str:
    odd = sum(int(d) for d in first12[0::2])
    even = sum(int(d) for d in first12[1::2])
    return first12 + str((10 - (odd + 3 * even) % 10) % 10)


def matched(i: int) -> bool:
    """30% of the rows match a base product."""
    return i % 10 in (0, 3, 6)


def product_values(i: int) -> dict:
    """Row i of the workbook (0-based), as typed values."""
    h = (i * 2654435761 + 97) & 0xFFFFFFFF
    cents = 150 + h % 29850  # 1.50 .. 299.99
    return {
        "erp_product_id": f"BI{i + 1:07d}",
        "name": f"{DRUGS[h % len(DRUGS)]}{FORMS[(h >> 7) % len(FORMS)]}",
        "barcode": ean13(f"{MATCHED_PREFIX if matched(i) else UNMATCHED_PREFIX}{i:08d}"),
        "approval_number": f"国药准字{CATEGORIES[(h >> 3) % 4]}{20000000 + i:08d}",
        "spec": SPECS[(h >> 11) % len(SPECS)],
        "manufacturer": MAKERS[(h >> 15) % len(MAKERS)],
        "unit": UNITS[(h >> 19) % len(UNITS)],
        "base_product_id": None,
        "default_price": Decimal(cents).scaleb(-2),
        "suggested_retail_price": None if (h >> 22) % 5 == 0 else Decimal(cents * 13 // 10).scaleb(-2),
        "stock": 0 if (h >> 25) % 10 == 0 else 1 + (h >> 9) % 5000,
    }


def ensure_base_products(rows: int) -> tuple[int, int, float]:
    """The base products the matched rows link to (created once, reused). Returns (needed, created, seconds)."""
    t0 = time.perf_counter()
    wanted = {}
    for i in range(rows):
        if matched(i):
            v = product_values(i)
            wanted[(v["barcode"], v["approval_number"], v["spec"], v["manufacturer"])] = v["name"]
    have = set(BaseProduct.objects.filter(barcode__startswith=MATCHED_PREFIX)
               .values_list("barcode", "approval_number", "spec", "manufacturer"))
    missing = [key for key in wanted if key not in have]
    with transaction.atomic():
        BaseProduct.objects.bulk_create(
            (BaseProduct(name=wanted[key], barcode=key[0], approval_number=key[1], spec=key[2], manufacturer=key[3])
             for key in missing), batch_size=5000)
    return len(wanted), len(missing), time.perf_counter() - t0


def write_workbook(path: str, rows: int) -> tuple[int, float]:
    from merchant.spreadsheets.xlsx_stream import stream_xlsx

    t0 = time.perf_counter()
    size = 0
    with open(path, "wb") as out:
        for chunk in stream_xlsx(HEADER, ([v[k] for k in HEADER] for v in map(product_values, range(rows))),
                                 sheet_name="商品导入"):
            out.write(chunk)
            size += len(chunk)
    return size, time.perf_counter() - t0


# --- fresh merchants ------------------------------------------------------------------------------------
def reset_merchant(code: str) -> Merchant:
    """The merchant with nothing attached: its products, imports (and their files), audit entries, ... deleted
    (children first, found from the FK catalogue on PostgreSQL; the ORM cascade elsewhere)."""
    from django.core.files.storage import default_storage

    from merchant.models import ImportJob

    merchant = Merchant.objects.filter(code=code).first()
    if merchant is not None:
        for name in ImportJob.objects.filter(merchant=merchant).values_list("file", flat=True):
            if name:
                default_storage.delete(name)
        if connection.vendor == "postgresql":
            with transaction.atomic(), connection.cursor() as cur:
                for child, column in _referencing(cur, "merchant_merchant"):
                    if child != "merchant_merchant":
                        _delete_tree(cur, child, f"{column} = %s", [merchant.pk])
                cur.execute("DELETE FROM merchant_merchant WHERE id = %s", [merchant.pk])
            with connection.cursor() as cur:  # autocommit: a clean table for the next run, as on the first
                for table in ("merchant_product", "merchant_importrow", "merchant_auditentry"):
                    cur.execute(f"VACUUM (ANALYZE) {table}")
        else:
            merchant.delete()
    return Merchant.objects.create(code=code, name=f"Bench import ({code})")


def _referencing(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        """SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c
           JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
           WHERE c.contype = 'f' AND c.confrelid = %s::regclass""", [table])
    return cur.fetchall()


def _delete_tree(cur, table: str, where: str, params: list) -> None:
    for child, column in _referencing(cur, table):
        if child != table:
            _delete_tree(cur, child, f"{column} IN (SELECT id FROM {table} WHERE {where})", params)
    cur.execute(f"DELETE FROM {table} WHERE {where}", params)


# --- child processes ------------------------------------------------------------------------------------
def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child_ours(path: str, code: str, profile: str | None) -> dict:
    from django.core.files import File

    from merchant.models import AuditSource, ImportJob, ImportStatus
    from merchant.permissions import Actor
    from merchant.spreadsheets.imports import pipeline

    from merchant.spreadsheets.imports.reader import open_source

    merchant = Merchant.objects.get(code=code)
    # Opening the workbook alone (openpyxl load_workbook, read-only), timed apart: validate() does the same first.
    t0 = time.perf_counter()
    open_source(path, "xlsx").close()
    open_s = time.perf_counter() - t0
    rss_start = _status_mb("VmRSS")
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    peaks_reset = _reset_peak()
    t0 = time.perf_counter()
    with open(path, "rb") as handle:  # the upload: the file is stored with the job, as the page does
        job = ImportJob(merchant=merchant, kind="products", file_name=os.path.basename(path), file_format="xlsx",
                        file_size=os.path.getsize(path))
        job.file.save(job.file_name, File(handle), save=False)
        job.save()
    store_s = time.perf_counter() - t0
    if profiler:
        profiler.enable()
    t0 = time.perf_counter()
    validation = pipeline.validate(job)
    validate_s = time.perf_counter() - t0
    if profiler:
        profiler.disable()
    peak_validate = _status_mb("VmHWM")
    if job.status != ImportStatus.PREVIEW:
        raise SystemExit(f"validation ended in {job.status}: {job.error}")
    result = {"applied": 0, "skipped": 0}
    _reset_peak()
    apply_s = 0.0
    if job.invalid_count == 0:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLYING)
        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        result = pipeline.apply(job, actor=Actor.system(source=AuditSource.IMPORT))
        apply_s = time.perf_counter() - t0
        if profiler:
            profiler.disable()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.APPLIED, applied_count=result["applied"],
                                                   skipped_count=result["skipped"])
    peak_apply = _status_mb("VmHWM")
    if profiler:
        profiler.dump_stats(profile)
    products = Product.objects.filter(merchant=merchant)
    return {
        "open_s": open_s, "store_s": store_s,
        "parse_s": validation.timings["parse"], "plan_s": validation.timings["validate"],
        "validate_s": validate_s, "apply_s": apply_s, "total_s": validate_s + apply_s,
        "rows": job.rows_total, "new": job.new_count, "changed": job.changed_count,
        "unchanged": job.unchanged_count, "invalid": job.invalid_count, "applied": result["applied"],
        "products": products.count(), "linked": products.filter(base_product__isnull=False).count(),
        "listed": products.filter(listing_state="listed").count(),
        "rss_start": rss_start, "peak_validate": peak_validate, "peak_apply": peak_apply,
        "peak": max(peak_validate, peak_apply), "peaks_reset": peaks_reset,
    }


def child_peer(path: str, code: str) -> dict:
    import tablib
    from import_export import fields, resources, widgets

    merchant = Merchant.objects.get(code=code)

    class ProductResource(resources.ModelResource):
        # the file's column for the base product is base_product_id (the canonical key)
        base_product = fields.Field(attribute="base_product", column_name="base_product_id",
                                    widget=widgets.ForeignKeyWidget(BaseProduct))

        class Meta:
            model = Product
            import_id_fields = ("erp_product_id",)
            fields = ("merchant", *(k if k != "base_product_id" else "base_product" for k in HEADER))

        def get_queryset(self):
            return Product.objects.filter(merchant=merchant)

        def before_import_row(self, row, **kwargs):
            row["merchant"] = merchant.pk

    rss_start = _status_mb("VmRSS")
    t0 = time.perf_counter()
    with open(path, "rb") as fh:
        dataset = tablib.Dataset().load(fh.read(), format="xlsx")
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = ProductResource().import_data(dataset, dry_run=False, use_transactions=True)
    import_s = time.perf_counter() - t0
    totals = dict(result.totals)
    errors = [str(e.error)[:300] for e in result.base_errors[:3]]
    errors += [f"row {n}: {str(e[0].error)[:300]}" for n, e in result.row_errors()[:3]]
    errors += [f"row {r.number}: {r.error}"[:300] for r in result.invalid_rows[:3]]
    products = Product.objects.filter(merchant=merchant)
    return {
        "load_s": load_s, "import_s": import_s, "total_s": load_s + import_s, "rows": len(dataset),
        "new": totals.get("new", 0), "update": totals.get("update", 0), "skip": totals.get("skip", 0),
        "error": totals.get("error", 0), "invalid": totals.get("invalid", 0), "errors": errors,
        "products": products.count(), "rss_start": rss_start, "peak": _status_mb("VmHWM"),
    }


def server_floor(code: str) -> list[tuple[str, int, float, float]]:
    """PostgreSQL's own time to write what the fresh import wrote, without Python or the network: the merchant's
    products, audit entries and change-set rows copied by INSERT ... SELECT into empty copies of their tables, with
    all their indexes and constraints, then with none. Each copy is rolled back. Returns (table, rows, seconds with
    indexes, seconds without)."""
    from merchant.models import AuditEntry, ImportRow

    merchant = Merchant.objects.get(code=code)
    sources = [
        (Product._meta.db_table, "merchant_id = %s", [merchant.pk]),
        (AuditEntry._meta.db_table, "merchant_id = %s", [merchant.pk]),
        (ImportRow._meta.db_table,
         "job_id IN (SELECT id FROM merchant_importjob WHERE merchant_id = %s)", [merchant.pk]),
    ]
    figures = []
    with connection.cursor() as cur:
        for table, where, params in sources:
            cur.execute(f"CREATE TEMP TABLE floor_src AS SELECT * FROM {table} WHERE {where}", params)
            rows = cur.rowcount
            timed = []
            for including in ("ALL", "DEFAULTS"):
                with transaction.atomic():
                    cur.execute(f"CREATE TABLE floor_copy (LIKE {table} INCLUDING {including})")
                    tick = time.perf_counter()
                    cur.execute("INSERT INTO floor_copy SELECT * FROM floor_src")
                    timed.append(time.perf_counter() - tick)
                    transaction.set_rollback(True)
            cur.execute("DROP TABLE floor_src")
            figures.append((table, rows, *timed))
    return figures


def run_child(args: list[str], label: str) -> dict:
    box0 = cpu_times()
    out = subprocess.run([sys.executable, __file__, *args], cwd=REPO, capture_output=True, text=True,
                         env=os.environ)
    busy, steal = busy_and_steal(box0, cpu_times())
    if out.returncode:
        sys.exit(f"{label} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["busy"], res["steal"] = busy, steal
    return res


def print_profile(path: str, top: int) -> None:
    import io
    import pstats

    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        stats = pstats.Stats(path, stream=buf)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        text = buf.getvalue()
        start = text.find("   ncalls")
        print(f"\n--- profile of our fresh import (validate + apply), top {top} by {order} ---")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


def main():
    parser = argparse.ArgumentParser(description="product import: time, memory, django-import-export comparison")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-peer", action="store_true",
                        help="skip the django-import-export comparison (ours and theirs on a --peer-rows file)")
    parser.add_argument("--peer-rows", type=int, default=PEER_ROWS,
                        help="rows of the comparison file both imports run on (the first rows of the main file)")
    parser.add_argument("--profile", action="store_true",
                        help="one more fresh import of ours under cProfile, top functions printed")
    parser.add_argument("--profile-top", type=int, default=25)
    parser.add_argument("--keep-file", action="store_true", help="keep the generated workbook")
    parser.add_argument("--allow-sqlite", action="store_true",
                        help="run on a non-PostgreSQL database anyway (a smoke test: the figures say nothing "
                             "about the bar)")
    parser.add_argument("--child", choices=["ours", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--merchant", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "ours":
        print(json.dumps(child_ours(args.path, args.merchant, args.profile_out)))
        return
    if args.child == "peer":
        print(json.dumps(child_peer(args.path, args.merchant)))
        return

    vendor = connection.vendor
    if vendor != "postgresql" and not args.allow_sqlite:
        sys.exit(f"The import bar is measured on PostgreSQL; this database is {vendor}. Set "
                 "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench (or pass --allow-sqlite for a smoke run "
                 "whose figures say nothing about the bar).")
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("SHOW server_version" if vendor == "postgresql" else "SELECT sqlite_version()")
        server = cur.fetchone()[0].split()[0]
    print(f"database: {vendor} {server} ({connection.settings_dict['NAME']}), migrated in "
          f"{time.perf_counter() - t0:.1f} s")

    n = args.rows
    needed, created, secs = ensure_base_products(n)
    print(f"base products for the matched rows: {needed:,} ({created:,} created, the rest reused) in {secs:.1f} s")
    tmp = tempfile.mkdtemp(prefix="bench-import-")
    path = os.path.join(tmp, f"products-{n}.xlsx")
    size, secs = write_workbook(path, n)
    print(f"workbook: {n:,} rows, {size / 1e6:.1f} MB, generated in {secs:.1f} s ({path})")

    runs = []
    print(f"running our import of {n:,} rows on a fresh merchant ({OURS_CODE}) ...", flush=True)
    reset_merchant(OURS_CODE)
    ours = run_child(["--child", "ours", "--path", path, "--merchant", OURS_CODE], "our import")
    runs.append(("ours, fresh merchant", ours))
    print("running our import of the same file again (every row unchanged) ...", flush=True)
    again = run_child(["--child", "ours", "--path", path, "--merchant", OURS_CODE], "our re-import")
    runs.append(("ours, re-import", again))
    peer = cmp = None
    if not args.skip_peer:
        m = args.peer_rows
        peer_path = os.path.join(tmp, f"products-{m}.xlsx")
        write_workbook(peer_path, m)
        print(f"running our import of the {m:,}-row comparison file on a fresh merchant ({CMP_CODE}) ...", flush=True)
        reset_merchant(CMP_CODE)
        cmp = run_child(["--child", "ours", "--path", peer_path, "--merchant", CMP_CODE], "our comparison import")
        runs.append((f"ours, {m // 1000}k compared", cmp))
        print(f"running django-import-export's default ModelResource import of the same file on a fresh merchant "
              f"({PEER_CODE}); a few minutes ...", flush=True)
        peer_merchant = reset_merchant(PEER_CODE)
        # The plan of its per-row lookup (get_instance) as the planner sees it when the run starts.
        peer_plan = Product.objects.filter(merchant=peer_merchant, erp_product_id=product_values(0)["erp_product_id"]) \
            .explain() if vendor == "postgresql" else ""
        peer = run_child(["--child", "peer", "--path", peer_path, "--merchant", PEER_CODE], "django-import-export")

    print()
    print(f"{'run':<22}{'rows':>9}{'parse s':>9}{'valid s':>9}{'apply s':>9}{'total s':>9}{'rows/s':>8}"
          f"{'new':>11}{'changed':>9}{'unchgd':>11}{'invalid':>8}{'RSS0':>7}{'peak':>7}{'busy':>6}{'steal':>6}")
    for label, r in runs:
        print(f"{label:<22}{r['rows']:>9,}{r['parse_s']:>9.2f}{r['plan_s']:>9.2f}{r['apply_s']:>9.2f}"
              f"{r['total_s']:>9.2f}{r['rows'] / r['total_s']:>8,.0f}{r['new']:>11,}{r['changed']:>9,}"
              f"{r['unchanged']:>11,}{r['invalid']:>8,}{r['rss_start']:>7.0f}{r['peak']:>7.0f}{r['busy']:>6.0%}"
              f"{r['steal']:>6.0%}")
    if peer:
        print(f"{'django-import-export':<22}{peer['rows']:>9,}{peer['load_s']:>9.2f}{'-':>9}{peer['import_s']:>9.2f}"
              f"{peer['total_s']:>9.2f}{peer['rows'] / peer['total_s']:>8,.0f}{peer['new']:>11,}{peer['update']:>9,}"
              f"{peer['skip']:>11,}{peer['invalid'] + peer['error']:>8,}{peer['rss_start']:>7.0f}{peer['peak']:>7.0f}"
              f"{peer['busy']:>6.0%}{peer['steal']:>6.0%}")
    print("  (ours: parse = reading the cells, valid = planning against the database and storing the change set,"
          " total = validate() + apply() wall time;")
    print(f"   storing the uploaded file with the job took {ours['store_s']:.2f} s, not counted; validate() wall"
          f" {ours['validate_s']:.2f} s = parse + valid {ours['parse_s'] + ours['plan_s']:.2f} s + opening the"
          f" workbook and the job's bookkeeping; opening it alone, timed apart: {ours['open_s']:.2f} s)")
    if peer:
        print("  (django-import-export: parse = tablib Dataset().load, apply = import_data; changed = updated,"
              " unchgd = skipped, invalid = invalid + error rows)")
    print("  (RSS0 = RSS after start-up, peak = VmHWM of the run's process, MB; busy / steal = share of the box's"
          " CPU busy / taken by the hypervisor during the run)")
    if ours.get("peaks_reset"):
        print(f"  (our fresh run's peak by step: validate {ours['peak_validate']:.0f} MB, apply "
              f"{ours['peak_apply']:.0f} MB)")

    counts_ok = (ours["new"], ours["changed"], ours["invalid"]) == (n, 0, 0) and ours["products"] == n
    again_ok = (again["unchanged"], again["new"], again["changed"], again["invalid"]) == (n, 0, 0, 0)
    expected_linked = sum(1 for i in range(n) if matched(i))
    print()
    print(f"Import bar, {n:,} rows on {vendor} {server}:")
    if vendor != "postgresql":
        print("  (not PostgreSQL, --allow-sqlite: a smoke run, the figures say nothing about the bar)")
    bar = TOTAL_BARS_S.get(n)
    if bar is None:
        print(f"  total {ours['total_s']:.2f} s ({n / ours['total_s']:,.0f} rows/s); no bar for {n:,} rows (bars: "
              + ", ".join(f"{rows:,} rows <= {secs:.0f} s" for rows, secs in TOTAL_BARS_S.items()) + ")")
    else:
        print(f"  total {ours['total_s']:.2f} s <= {bar:.0f} s: {'yes' if ours['total_s'] <= bar else 'NO'}"
              f" ({n / ours['total_s']:,.0f} rows/s)")
    print(f"  peak memory {ours['peak']:.0f} MB <= {MEMORY_BAR_MB:.0f} MB: "
          f"{'yes' if ours['peak'] <= MEMORY_BAR_MB else 'NO'}")
    if peer:
        ratio = peer["total_s"] / cmp["total_s"]
        print(f"  on the same {peer['rows']:,}-row file, django-import-export {peer['total_s']:.2f} s / ours "
              f"{cmp['total_s']:.2f} s = {ratio:.1f}x >= {RATIO_BAR:.0f}x: {'yes' if ratio >= RATIO_BAR else 'NO'}"
              f" (its peak memory {peer['peak']:.0f} MB, ours {cmp['peak']:.0f} MB)")
    else:
        print("  ratio to django-import-export: not measured (--skip-peer)")
    print(f"  counts on the fresh merchant {ours['new']:,} new / {ours['changed']:,} changed / {ours['invalid']:,}"
          f" invalid, {ours['products']:,} products in the database: {'yes' if counts_ok else 'NO'}")
    print(f"  base products linked {ours['linked']:,} (expected {expected_linked:,}): "
          f"{'yes' if ours['linked'] == expected_linked else 'NO'}; listed {ours['listed']:,}")
    print(f"  re-import: {again['unchanged']:,} unchanged / {again['new'] + again['changed'] + again['invalid']:,} "
          f"other in {again['total_s']:.2f} s: {'yes' if again_ok else 'NO'}")
    if peer:
        peer_ok = peer["products"] == args.peer_rows and peer["new"] == args.peer_rows
        print(f"  django-import-export created {peer['products']:,} products ({peer['new']:,} new rows reported): "
              f"{'yes' if peer_ok else 'NO'}")
        for error in peer["errors"]:
            print(f"    its error: {error}")
        if peer_plan:
            scan = next((line.strip() for line in peer_plan.splitlines() if "Scan" in line), peer_plan.strip())
            quadratic = "uniq_product_erp_id" not in peer_plan
            print(f"  its per-row lookup at the start: {scan}"
                  + ("; filtered on erp_product_id, so every lookup reads all the products it has imported so far"
                     " (quadratic in rows: the statistics see no products for a fresh merchant). Its time, and the"
                     " ratio, include that." if quadratic else ""))
    print(f"  CPU during our fresh run: {ours['busy']:.0%} busy, {ours['steal']:.0%} stolen by the hypervisor")
    if vendor == "postgresql":
        floor = server_floor(OURS_CODE)
        print("  PostgreSQL's own share of the fresh run (its rows copied by INSERT ... SELECT into empty copies of the"
              " tables, no Python, no network):")
        for table, rows, with_indexes, bare in floor:
            print(f"    {table:<22}{rows:>9,} rows {with_indexes:>7.2f} s with its indexes, {bare:.2f} s without")
        print(f"    together {sum(f[2] for f in floor):.2f} s with the indexes, of the run's {ours['total_s']:.2f} s")

    if args.profile:
        print("\nprofiling one more fresh import of ours (cProfile: slower than the measured run) ...", flush=True)
        reset_merchant(OURS_CODE)
        prof = os.path.join(tmp, "ours.prof")
        res = run_child(["--child", "ours", "--path", path, "--merchant", OURS_CODE, "--profile-out", prof],
                        "profiled import")
        print(f"profiled run: parse {res['parse_s']:.2f} s, plan {res['plan_s']:.2f} s, apply {res['apply_s']:.2f} s,"
              f" total {res['total_s']:.2f} s; stats in {prof}")
        print_profile(prof, args.profile_top)
    if args.keep_file or args.profile:
        print(f"files in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
