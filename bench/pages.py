"""List-page latency under load (SPEC N, Pages: p95 <= 200 ms at 20 concurrent users).

Starts gunicorn (gthread) on a free loopback port against DATABASE_URL, logs 20 clients in as the bench
owner (see bench/seed_large.py), and has them request the product and order list pages with the usual
filters, and the orders workbench (SPEC M14): tabs with their counts, searches by a phone's last 4 digits, a
tracking number, an item name and an order number prefix, a saved view, and the live list's JSON poll. Prints p50 / p95 / max per page, per page kind and overall, then stops gunicorn.

First a single client walks every page a few times (the unloaded latency, i.e. the service time), then
one concurrent phase per --think value (default: 0 and 1 s). With 0 every client fires its next request
as soon as the previous one returns: 20 requests always in flight, the harshest reading of "20
concurrent users" (it measures saturation of the 2 cores). With 1 s each client pauses a random
(exponential, mean 1 s) time between page views, a busy operator clicking through lists.
The CPU used per request by gunicorn, PostgreSQL and the load clients themselves is printed per phase.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/pages.py \
        [--clients 20] [--requests 60] [--duration 90] [--workers 4] [--threads 4] [--think 0 1]
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (  # noqa: E402
    MERCHANT_CODE, OWNER_PASSWORD, OWNER_USERNAME, REPO, busy_and_steal, cpu_times, django_setup,
)

django_setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from django.db import connection  # noqa: E402

from merchant.models import Merchant, Order, Product, SavedOrderView  # noqa: E402
from merchant.services.order_attention import order_attention_refresh  # noqa: E402

BAR_MS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, workers: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({
        "DEBUG": "0", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"), "SECURE_COOKIES": "0",
        "ALLOWED_HOSTS": "127.0.0.1", "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOG_LEVEL": "WARNING",
    })
    cmd = [sys.executable, "-m", "gunicorn", "config.wsgi", "-k", "gthread", "-w", str(workers), "--threads",
           str(threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "120",
           "--keep-alive", "30"]  # browsers keep idle connections; gunicorn's default of 2 s resets them
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    # gunicorn runs in its own session: make sure it goes when we are told to stop
    signal.signal(signal.SIGTERM, lambda *_: (stop(proc), sys.exit(143)))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"gunicorn exited with {proc.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/login/", timeout=10).status_code == 200:
                return proc
        except requests.RequestException:
            pass  # still booting
        time.sleep(0.2)
    stop(proc)
    sys.exit("gunicorn did not answer within 60 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the master and its workers only
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def login(base: str) -> requests.Session:
    s = requests.Session()
    s.get(f"{base}/login/", timeout=10).raise_for_status()
    r = s.post(f"{base}/login/", data={
        "username": OWNER_USERNAME, "password": OWNER_PASSWORD, "csrfmiddlewaretoken": s.cookies["csrftoken"],
    }, headers={"Referer": f"{base}/login/"}, allow_redirects=False, timeout=10)
    if r.status_code != 302 or "sessionid" not in s.cookies:
        sys.exit(f"login failed: HTTP {r.status_code}")
    return s


SAVED_VIEW = "q=%E9%98%BF%E8%8E%AB%E8%A5%BF%E6%9E%97&tab=awaiting_shipment"  # q=阿莫西林, awaiting shipment


def workload(order_nos: list[str]) -> list[tuple[str, str, str, dict]]:
    """(kind, label, path, params) for every page the benchmark requests; a param given as None is filled per
    request from the samples of that name (see hit())."""
    week_ago = timezone.localtime() - timedelta(days=7)
    pages = [
        ("products", "products: no filter", "/products/", {}),
        ("products", "products: q=name", "/products/", {"q": "阿莫西林"}),
        ("products", "products: state=listed", "/products/", {"state": "listed"}),
        ("products", "products: zero_stock=1", "/products/", {"zero_stock": "1"}),
        ("products", "products: paused=stock", "/products/", {"paused": "stock"}),
        ("orders", "orders: no filter", "/orders/", {}),
        ("orders", "orders: status=awaiting", "/orders/", {"status": "awaiting_shipment"}),
        ("orders", "orders: created 7 days", "/orders/", {"created_from": week_ago.strftime("%Y-%m-%dT%H:%M")}),
        ("orders", "orders: taken=no", "/orders/", {"taken": "no"}),
        ("orders", "orders: erp_status", "/orders/", {"erp_status": "picking"}),
        ("orders", "orders: source", "/orders/", {"source": "marketplace"}),
        ("orders", "orders: order_no", "/orders/", {"order_no": None}),  # filled per request
        ("orders", "orders: page=50", "/orders/", {"page": "50"}),
        # The workbench (SPEC M14): tabs with their counts, the one search box, a saved view, the live poll.
        ("workbench", "tab=awaiting_shipment", "/orders/", {"tab": "awaiting_shipment"}),
        ("workbench", "tab=exceptions", "/orders/", {"tab": "exceptions"}),
        ("workbench", "tab=refunding", "/orders/", {"tab": "refunding"}),
        ("workbench", "q=phone last 4", "/orders/", {"q": None, "_fill": "phone4"}),
        ("workbench", "q=tracking number", "/orders/", {"q": None, "_fill": "tracking"}),
        ("workbench", "q=item name", "/orders/", {"q": "阿莫西林"}),
        ("workbench", "q=order no prefix", "/orders/", {"q": None, "_fill": "order_prefix"}),
        ("workbench", "saved view", "/orders/?" + SAVED_VIEW, {}),
        ("workbench", "live poll (json)", "/orders/live/", {"tab": "awaiting_shipment"}),
    ]
    return pages


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: list[tuple[str, str, float]] = []
        self.errors: list[str] = []

    def add(self, kind, label, ms):
        with self.lock:
            self.samples.append((kind, label, ms))

    def error(self, text):
        with self.lock:
            self.errors.append(text)


def hit(session, base, page, samples, rec: Recorder, rnd: random.Random):
    kind, label, path, params = page
    expect = None  # an order number the answer must show
    if "order_no" in params:
        params = {"order_no": rnd.choice(samples["order_no"])}
        expect = params["order_no"]
    elif "_fill" in params:
        value, expect = rnd.choice(samples[params["_fill"]])
        params = {key: value if v is None else v for key, v in params.items() if key != "_fill"}
    json_page = path.startswith("/orders/live/")
    t0 = time.perf_counter()
    try:
        r = session.get(base + path, params=params, timeout=30, allow_redirects=False)
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code != 200 or (b"<table" not in r.content and not json_page):
            rec.error(f"{label}: HTTP {r.status_code}")
        elif expect and expect.encode() not in r.content:
            rec.error(f"{label}: order {expect} not on the page")
        rec.add(kind, label, ms)
    except requests.RequestException as exc:
        rec.error(f"{label}: {exc!r}")


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def report(title, rec: Recorder, labels: list[str], elapsed: float | None = None, bar=True):
    print(f"\n{title}")
    print(f"  {'page':<28}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    groups = [(lb, [ms for _k, lab, ms in rec.samples if lab == lb]) for lb in labels]
    kinds = sorted({k for k, _l, _m in rec.samples})
    groups += [(f"ALL {k}", [ms for kk, _l, ms in rec.samples if kk == k]) for k in kinds]
    groups.append(("ALL pages", [ms for _k, _l, ms in rec.samples]))
    verdicts = []
    for name, values in groups:
        if not values:
            continue
        p95 = pct(values, 95)
        line = f"  {name:<28}{len(values):>6}{pct(values, 50):>9.1f}{p95:>9.1f}{max(values):>9.1f}"
        if bar and name.startswith("ALL"):
            ok = p95 <= BAR_MS
            verdicts.append(ok)
            line += f"   p95 <= {BAR_MS} ms: {'yes' if ok else 'NO'}"
        print(line)
    if elapsed:
        print(f"  throughput: {len(rec.samples) / elapsed:.1f} requests/s over {elapsed:.1f} s")
    print(f"  errors: {len(rec.errors)}" + (f" (first: {rec.errors[:3]})" if rec.errors else ""))
    return all(verdicts) and not rec.errors


def cpu_seconds(pids) -> dict[int, float]:
    """pid -> utime + stime in seconds (Linux /proc), for the given processes still alive."""
    result = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            result[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return result


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    # a process born during the phase counts from zero; one that ended is lost (a small underestimate)
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def postgres_pids():
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def load_phase(args, think, sessions, base, pages, labels, samples, proc) -> bool:
    rec = Recorder()
    deadline = time.monotonic() + args.duration
    barrier = threading.Barrier(args.clients)

    def client(idx):
        crnd = random.Random(idx * 1000 + int(think * 10))
        order = pages[:]
        crnd.shuffle(order)
        barrier.wait()
        if think:
            time.sleep(crnd.uniform(0, think))  # users do not all click at the same instant
        for n in range(args.requests):
            if time.monotonic() > deadline:
                break
            hit(sessions[idx], base, order[n % len(order)], samples, rec, crnd)
            if think:
                time.sleep(crnd.expovariate(1 / think))

    workers = [int(p) for p in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
    cpu0 = (cpu_seconds(workers), cpu_seconds(postgres_pids()), time.process_time())
    box0 = cpu_times()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu1 = (cpu_seconds(workers), cpu_seconds(postgres_pids()), time.process_time())
    busy, steal = busy_and_steal(box0, cpu_times())
    mode = "no think time" if not think else f"think time {think:g} s (exponential)"
    ok = report(f"{args.clients} concurrent clients, {mode}", rec, labels, elapsed)
    n = max(1, len(rec.samples))
    used = [cpu_used(cpu0[0], cpu1[0]), cpu_used(cpu0[1], cpu1[1]), cpu1[2] - cpu0[2]]
    print(f"  CPU per request: gunicorn {used[0] / n * 1000:.1f} ms, postgres {used[1] / n * 1000:.1f} ms, "
          f"load clients {used[2] / n * 1000:.1f} ms; box: {busy:.0%} busy, {steal:.0%} stolen by the "
          f"hypervisor (of {os.cpu_count()} vCPUs)")
    return ok


def main():
    parser = argparse.ArgumentParser(description="list pages p95 under concurrent load")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=60, help="requests per client")
    parser.add_argument("--duration", type=float, default=90, help="stop the load after this many seconds")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--think", type=float, nargs="+", default=[0.0, 1.0],
                        help="mean pause between a client's requests, s; one load phase per value")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured passes over every page first")
    args = parser.parse_args()

    merchant = Merchant.objects.filter(code=MERCHANT_CODE).first()
    if merchant is None:
        sys.exit("No bench merchant: run bench/seed_large.py first.")
    n_orders = Order.objects.filter(merchant=merchant).count()
    n_products = Product.objects.filter(merchant=merchant).count()
    rnd = random.Random(7)
    top = Order.objects.filter(merchant=merchant).order_by("-id").values_list("id", flat=True).first() or 0
    picked = list(Order.objects.filter(merchant=merchant, id__in=[rnd.randrange(1, top + 1) for _ in range(400)])
                  .values_list("order_no", "receiver_phone", "tracking_no"))
    order_nos = [no for no, _phone, _tracking in picked] or ["none"]
    samples = {
        "order_no": order_nos,
        # A phone's last four digits match about one order in ten thousand: the order itself may be on page 2.
        "phone4": [(phone[-4:], None) for _no, phone, _t in picked if len(phone) >= 4] or [("0000", None)],
        "tracking": [(tracking, no) for no, _p, tracking in picked if tracking] or [("none", None)],
        "order_prefix": [(no[:-3], None) for no in order_nos],
    }
    # The exception queue as the minute's sweep keeps it (the first sweep of a fresh seed writes every order
    # that needs attention; a later one only what the clock moved), then VACUUM so the updated rows are
    # visible to index-only scans, as autovacuum leaves a live database.
    t0 = time.perf_counter()
    newly = order_attention_refresh(merchant=merchant)
    t1 = time.perf_counter()
    again = order_attention_refresh(merchant=merchant)
    t2 = time.perf_counter()
    print(f"exception sweep: {len(newly):,} orders newly flagged in {t1 - t0:.1f} s; "
          f"a second sweep {len(again):,} in {t2 - t1:.2f} s")
    if newly and connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) merchant_order")
    owner = Merchant.objects.get(pk=merchant.pk).memberships.filter(user__username=OWNER_USERNAME).first()
    if owner:
        SavedOrderView.objects.get_or_create(user=owner.user, name="bench view",
                                             defaults={"merchant": merchant, "query": SAVED_VIEW})
    print(f"data: {n_products:,} products, {n_orders:,} orders (merchant {MERCHANT_CODE}); "
          f"DB {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]} {settings.DATABASES['default']['NAME']}")
    print(f"server: gunicorn gthread -w {args.workers} --threads {args.threads}, DEBUG off; "
          f"{args.clients} clients x {args.requests} requests per phase (cap {args.duration:.0f} s), "
          f"think {args.think} s; "
          f"{os.cpu_count()} CPUs")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(port, args.workers, args.threads)
    try:
        pages = workload(order_nos)
        labels = [p[1] for p in pages]
        sessions = [login(base) for _ in range(args.clients)]

        warm = Recorder()
        for _ in range(args.warmup):
            for i, page in enumerate(pages):
                hit(sessions[i % len(sessions)], base, page, samples, warm, rnd)
        if warm.errors:
            print(f"warm-up errors: {warm.errors[:5]}")

        single = Recorder()
        for _ in range(3):
            for page in pages:
                hit(sessions[0], base, page, samples, single, rnd)
        report("one client at a time (service time, no contention)", single, labels, bar=False)

        verdicts = []
        for think in args.think:
            verdicts.append((think, load_phase(args, think, sessions, base, pages, labels, samples, proc)))
        print()
        for think, ok in verdicts:
            mode = "no think time (each client fires again at once)" if not think else f"think time {think:g} s"
            print(f"Pages bar (p95 <= {BAR_MS} ms at {args.clients} concurrent users, {mode}): "
                  f"{'MET' if ok else 'MISSED'}")
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
