"""Order export to xlsx (SPEC N, Export: 100,000 orders / ~300,000 item rows in <= 20 s, first byte <= 2 s,
memory flat).

Each measurement runs in a fresh Python process (so its RSS figures are its own): the real streaming path,
merchant.spreadsheets.orders_export.xlsx_chunks, over the bench merchant's newest N orders (a created_at
cut-off, as the list filter would give), written to a file chunk by chunk as an HTTP response would be.
RSS is sampled from /proc/self/status every 10 ms. Runs: 20,000 orders and 100,000 orders with the
streaming writer (peak memory must not grow with rows), then the same 100,000 orders with openpyxl's
write_only mode for comparison (its first byte only exists once the whole file is saved). Optionally
(--http) the export is also fetched through the real view served by gunicorn.
The streamed files are validated by opening them with openpyxl (read_only) and counting their rows (the
other files by counting the rows of the sheet XML; --full-validate reads them with openpyxl too).

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/export.py \
        [--orders 100000] [--small 20000] [--http] [--no-openpyxl] [--no-validate] [--full-validate]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import MERCHANT_CODE, REPO, busy_and_steal, cpu_times, django_setup, rss_mb  # noqa: E402

django_setup()


from merchant.models import Merchant, Order, OrderItem  # noqa: E402

TOTAL_BAR_S = 20.0
FIRST_BYTE_BAR_S = 2.0


class RssSampler(threading.Thread):
    """Samples this process's RSS; .peak is the highest seen (MB)."""

    def __init__(self, interval=0.01, read=rss_mb):
        super().__init__(daemon=True)
        self.interval, self.read = interval, read
        self.start_mb = read()
        self.peak = self.start_mb
        self._done = threading.Event()

    def run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, self.read())
            time.sleep(self.interval)

    def stop(self):
        self._done.set()
        self.join()
        self.peak = max(self.peak, self.read())


def newest_orders(merchant, n):
    """The merchant's newest n orders as the list filter would select them: created_at >= a cut-off."""
    base = Order.objects.filter(merchant=merchant)
    cutoff = base.order_by("-created_at", "-id").values_list("created_at", flat=True)[n - 1:n].first()
    return base.filter(created_at__gte=cutoff) if cutoff else base, cutoff


def measure_one(mode: str, n: int, path: str) -> dict:
    """Run one export in this process and return its figures."""
    from merchant.spreadsheets import orders_export

    merchant = Merchant.objects.get(code=MERCHANT_CODE)
    orders, cutoff = newest_orders(merchant, n)
    n_orders = orders.count()
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    first_byte = first_rows = None
    size = chunks = 0
    if mode == "stream":
        with open(path, "wb") as out:
            for chunk in orders_export.xlsx_chunks(orders):
                if not chunk:
                    continue
                now = time.perf_counter() - t0
                if first_byte is None:
                    first_byte = now
                elif first_rows is None:
                    first_rows = now  # the first chunk holding sheet rows (after the fixed parts)
                out.write(chunk)
                size += len(chunk)
                chunks += 1
    else:  # openpyxl write_only, the usual approach: the file exists only once save() returns
        from openpyxl import Workbook

        from merchant.spreadsheets.orders_export import COLUMNS, KEYS, _LABELS, _local, item_rows
        from merchant.spreadsheets.safety import neutralise
        from django.conf import settings
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(settings.TIME_ZONE)
        index = {k: i for i, k in enumerate(KEYS)}
        time_cols = [index[k] for k in ("created_at", "modified_at", "paid_at")]
        label_cols = [(index[k], {c.value: str(c.label) for c in ch}) for k, ch in _LABELS.items()]
        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Orders")
        ws.append([str(label) for _k, label in COLUMNS])
        for raw in item_rows(orders):
            row = list(raw)
            for i in time_cols:
                row[i] = _local(row[i], tz)
            for i, names in label_cols:
                row[i] = names.get(row[i], row[i])
            ws.append([neutralise(v) for v in row])
        wb.save(path)
        first_byte = first_rows = time.perf_counter() - t0  # nothing can be sent before this
        size = os.path.getsize(path)
        chunks = 1
    total = time.perf_counter() - t0
    sampler.stop()
    return {
        "mode": mode, "orders": n_orders, "cutoff": cutoff.isoformat() if cutoff else None, "seconds": total,
        "first_byte": first_byte, "first_rows": first_rows, "bytes": size, "chunks": chunks,
        "rss_start": sampler.start_mb, "rss_peak": sampler.peak, "path": path,
    }


def count_rows(path: str) -> tuple[int, float]:
    """Data rows (without the header) of the first sheet, read with openpyxl read_only."""
    from openpyxl import load_workbook

    t0 = time.perf_counter()
    wb = load_workbook(path, read_only=True)
    ws = wb.worksheets[0]
    n = sum(1 for _ in ws.iter_rows(values_only=True)) - 1
    wb.close()
    return n, time.perf_counter() - t0


def fast_count_rows(path: str) -> tuple[int, float]:
    """Data rows of the first sheet counted from its XML (streamed out of the zip): seconds, not minutes."""
    import zipfile

    t0 = time.perf_counter()
    n, tail = 0, b""
    with zipfile.ZipFile(path) as zf:
        name = next(i for i in zf.namelist() if i.startswith("xl/worksheets/") and i.endswith(".xml"))
        with zf.open(name) as sheet:
            while block := sheet.read(1 << 20):
                data = tail + block
                n += data.count(b"<row") - tail.count(b"<row")
                tail = data[-4:]
    return n - 1, time.perf_counter() - t0


def run_child(mode, n, path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--orders", str(n), "--path", path],
                         cwd=REPO, capture_output=True, text=True, env=os.environ)
    if out.returncode:
        sys.exit(f"{mode} export of {n} orders failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_http(n: int, path: str) -> dict:

    import pages

    merchant = Merchant.objects.get(code=MERCHANT_CODE)
    _orders, cutoff = newest_orders(merchant, n)
    port = pages.free_port()
    proc = pages.start_gunicorn(port, 2, 4)
    base = f"http://127.0.0.1:{port}"
    try:
        session = pages.login(base)
        worker_pids = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]

        def workers_rss():
            total = 0.0
            for pid in worker_pids:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total = max(total, int(line.split()[1]) / 1024)
                except OSError:
                    pass
            return total

        session.get(f"{base}/orders/", timeout=30)  # warm the workers up
        sampler = RssSampler(read=workers_rss)
        sampler.start()
        t0 = time.perf_counter()
        first = None
        size = 0
        with session.get(f"{base}/orders/export/", params={"created_from": cutoff.isoformat(), "format": "xlsx"},
                         stream=True, timeout=120) as r, open(path, "wb") as out:
            r.raise_for_status()
            for chunk in r.iter_content(chunk_size=65536):
                if first is None:
                    first = time.perf_counter() - t0
                out.write(chunk)
                size += len(chunk)
        total = time.perf_counter() - t0
        sampler.stop()
        return {"mode": "http", "seconds": total, "first_byte": first, "bytes": size,
                "rss_start": sampler.start_mb, "rss_peak": sampler.peak, "path": path}
    finally:
        pages.stop(proc)


def main():
    parser = argparse.ArgumentParser(description="xlsx order export: time, first byte, memory")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=20_000, help="the smaller run that shows memory is flat")
    parser.add_argument("--http", action="store_true", help="also fetch the export through gunicorn")
    parser.add_argument("--no-openpyxl", action="store_true", help="skip the openpyxl write_only comparison")
    parser.add_argument("--no-validate", action="store_true", help="skip re-reading the files")
    parser.add_argument("--full-validate", action="store_true",
                        help="read every file with openpyxl (slow), not only the streamed ones")
    parser.add_argument("--child", choices=["stream", "openpyxl"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure_one(args.child, args.orders, args.path)))
        return

    merchant = Merchant.objects.filter(code=MERCHANT_CODE).first()
    if merchant is None:
        sys.exit("No bench merchant: run bench/seed_large.py first.")
    tmp = tempfile.mkdtemp(prefix="bench-export-")
    plan = [("stream", args.small), ("stream", args.orders)]
    if not args.no_openpyxl:
        plan.append(("openpyxl", args.orders))
    results = []
    for mode, n in plan:
        orders, _cutoff = newest_orders(merchant, n)
        expected = OrderItem.objects.filter(order__in=orders.values("pk")).count()
        print(f"running {mode} export of {n:,} orders ({expected:,} item rows) ...", flush=True)
        box0 = cpu_times()
        res = run_child(mode, n, os.path.join(tmp, f"{mode}-{n}.xlsx"))
        res["steal"] = busy_and_steal(box0, cpu_times())[1]
        res["expected_rows"] = expected
        results.append(res)
    if args.http:
        orders, _cutoff = newest_orders(merchant, args.orders)
        expected = OrderItem.objects.filter(order__in=orders.values("pk")).count()
        print(f"running the export of {args.orders:,} orders through gunicorn ...", flush=True)
        box0 = cpu_times()
        res = run_http(args.orders, os.path.join(tmp, f"http-{args.orders}.xlsx"))
        res["steal"] = busy_and_steal(box0, cpu_times())[1]
        res["expected_rows"] = expected
        results.append(res)

    print()
    print(f"{'run':<22}{'orders':>9}{'rows':>9}{'total s':>9}{'1st byte s':>11}{'1st rows s':>11}{'MB':>8}"
          f"{'RSS start':>10}{'RSS peak':>9}{'growth':>8}{'valid':>7}{'steal':>7}")
    for res in results:
        valid = "-"
        if not args.no_validate:
            # openpyxl reads ~3,000 rows/s here: the streamed files get the full openpyxl check, the others
            # (openpyxl's own output, the HTTP copy of the streamed file) a row count from the sheet XML.
            full = res["mode"] == "stream" or args.full_validate
            rows, secs = count_rows(res["path"]) if full else fast_count_rows(res["path"])
            res["rows"], res["validate_s"], res["validated_by"] = rows, secs, "openpyxl" if full else "xml"
            valid = "yes" if rows == res["expected_rows"] else f"NO({rows})"
        label = {"stream": "stream (xlsx_chunks)", "openpyxl": "openpyxl write_only",
                 "http": "HTTP view (gunicorn)"}[res["mode"]]
        first_rows = res.get("first_rows")
        print(f"{label:<22}{res.get('orders', args.orders):>9,}{res['expected_rows']:>9,}{res['seconds']:>9.2f}"
              f"{res['first_byte']:>11.3f}{(first_rows if first_rows is not None else float('nan')):>11.3f}"
              f"{res['bytes'] / 1e6:>8.1f}{res['rss_start']:>10.1f}{res['rss_peak']:>9.1f}"
              f"{res['rss_peak'] - res['rss_start']:>8.1f}{valid:>7}{res['steal']:>7.0%}")
    if not args.no_validate:
        print("  (valid = the file's data rows equal the order items selected; counted by "
              + ", ".join(f"{r['mode']}: {r['validated_by']} {r['validate_s']:.1f} s" for r in results) + ")")
    print("  (MB = file size; RSS in MB; steal = share of the box's CPU time taken by the hypervisor meanwhile)")
    if any(r["mode"] == "http" for r in results):
        print("  (HTTP row: RSS is the largest gunicorn worker's, start = after a warm-up page)")

    small, big = results[0], results[1]
    growth_small = small["rss_peak"] - small["rss_start"]
    growth_big = big["rss_peak"] - big["rss_start"]
    flat = growth_big <= growth_small + 15  # MB: allocator noise, not per-row growth
    print()
    print(f"Export bar, {big['orders']:,} orders / {big['expected_rows']:,} rows:")
    print(f"  total {big['seconds']:.2f} s <= {TOTAL_BAR_S:.0f} s: {'yes' if big['seconds'] <= TOTAL_BAR_S else 'NO'}")
    print(f"  first byte {big['first_byte']:.3f} s <= {FIRST_BYTE_BAR_S:.0f} s: "
          f"{'yes' if big['first_byte'] <= FIRST_BYTE_BAR_S else 'NO'}"
          f" (first sheet rows at {big['first_rows']:.3f} s)")
    print(f"  memory flat: {'yes' if flat else 'NO'} (peak growth {growth_small:.1f} MB for {small['orders']:,} "
          f"orders, {growth_big:.1f} MB for {big['orders']:,})")
    ox = next((r for r in results if r["mode"] == "openpyxl"), None)
    if ox:
        print(f"openpyxl write_only, same {ox['orders']:,} orders: total {ox['seconds']:.2f} s, first byte "
              f"{ox['first_byte']:.2f} s (= the total: the file must be complete before it can be sent), "
              f"{ox['first_byte'] / big['first_rows']:.0f}x later than the streamed file's first sheet rows; "
              f"total {ox['seconds'] / big['seconds']:.2f}x the streamed one; "
              f"peak RSS growth {ox['rss_peak'] - ox['rss_start']:.1f} MB")
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
