"""Open API stock writes (issue 5; SPEC A2, and N Latency: an ERP stock push reaches the marketplace within 10 s,
p95). Bars: a 500-SKU `POST /api/v1/stock` answered within 500 ms (p95, one request at a time, every value
changed), >= 5,000 SKU updates/s sustained by concurrent clients, and the change on the marketplace within 10 s
(p95).

Every request is signed as an ERP signs it (merchant/api/signing.py) and goes through gunicorn (`config.wsgi`,
SANDBOX_ENABLED=1) on a free loopback port, which also serves the sandbox marketplace:
  1. latency: --requests sequential requests of 500 SKUs, every value changed (the real write, not "unchanged"),
     and for information --unchanged requests repeating the last values;
  2. throughput: for each --clients count, that many clients post 500 changed SKUs per request for --seconds,
     each on its own SKUs (no two wait on the same row locks); for information the largest count again with
     every client on the same SKUs;
  3. end to end, on a second merchant: an RQ worker (`manage.py rqworker default sync --with-scheduler`) and the
     dispatcher (`manage.py scheduler --only sync_dispatch`) run as in production, its SKUs located on the marketplace
     up front (as a shop connected for a while has them); after one request of all its SKUs (for information), one
     request of --e2e-batch SKUs per second (--e2e-rate) for --e2e-seconds while a watcher polls the sandbox's
     SandboxSku quantity of those SKUs every 100 ms. Delay = the first poll showing the value - the bench's clock just
     before the request. Without the outbound push (sync.outbox, sync.pipelines.push, merchant.sellable, the sandbox's
     taobao.skus.quantity.update) it prints "end to end: not measured".
Merchants `bench_api` (--skus products `API-00001`..., with a TOP connection to sandbox shop `bench-api`) and
`bench_api_e2e` (--batch products, shop `bench-api-e2e`), all listed, matched to one shared base product, safety
stock 0, no batches, no orders (the sellable stock pushed is the stock), are deleted with everything attached and
made again at the start; nothing else in the database is touched. In Redis it removes the jobs and call budget of
its connections at the end.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/api.py [--skus 5000] [--seconds 30] [--clients 2,4] [--e2e-seconds 60] [--profile]
"""
import argparse
import cProfile
import importlib.util
import io
import json
import os
import pstats
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (  # noqa: E402
    REPO, busy_and_steal, cpu_times, delete_tree, django_setup, free_port, pct, start_gunicorn, stop_process, yes,
)
from vocabulary import DRUGS, FORMS  # noqa: E402

django_setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection as db, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from merchant.api import signing  # noqa: E402
from merchant.models import AuditSource, BaseProduct, ListingState, Merchant, Product  # noqa: E402
from merchant.permissions import Actor  # noqa: E402
from merchant.services.api_credentials import api_credential_create  # noqa: E402
from sync.models import Checkpoint, Connection, SyncModule  # noqa: E402
from sync.runs import checkpoint_for  # noqa: E402
from sync.marketplaces.top.sandbox import marketplace  # noqa: E402
from sync.marketplaces.top.sandbox.models import SandboxShop, SandboxSku  # noqa: E402
from sync.marketplaces.top.services import connection_create  # noqa: E402
from sync.services import connection_set_enabled  # noqa: E402

LATENCY_BAR = 0.5  # s, p95 of one 500-SKU request
THROUGHPUT_BAR = 5000.0  # SKU updates per second, sustained
E2E_BAR = 10.0  # s, p95 from the API request to the marketplace's stock
WATCH_EVERY = 0.1

CODE, E2E_CODE = "bench_api", "bench_api_e2e"
APP_KEY, E2E_APP_KEY = "bench-api", "bench-api-e2e"
APP_SECRET, SESSION = "bench-api-secret", "bench-api-session"
PREFIX = "API-"
BASE_NAME = "Bench API base product"  # one platform row shared by the bench's products, kept between runs
PATH = "/api/v1/stock"
MAX_STOCK = 99_999


# --- processes ------------------------------------------------------------------------------------------------

def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update({"SANDBOX_ENABLED": "1", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
                # Connections kept for the whole run (the default closes them after 60 s): a PostgreSQL backend
                # that ends during a phase takes its CPU time with it, and the figures would miss it.
                "DB_CONN_MAX_AGE": "900",
                "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                "REDIS_URL": settings.REDIS_URL,
                # WhiteNoise's note that staticfiles/ was never collected (files are served from the apps)
                "PYTHONWARNINGS": "ignore:No directory at:UserWarning"})
    return env


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_seconds(pids, reaped: bool = False) -> dict[int, float]:
    """pid -> utime + stime in seconds (Linux /proc), for the given processes still alive; `reaped` adds the
    children they waited for (an RQ worker forks a process per job)."""
    result = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
            result[pid] = used / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return result


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    # a process born during the phase counts from zero; one that ended is lost (a small underestimate)
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def bench_backends() -> list[int]:
    """The PostgreSQL backends serving this database (others' test suites use other databases)."""
    name = settings.DATABASES["default"]["NAME"]
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split()
                # "postgres: [<cluster>:] <user> <database> <client> <state>"
                words = [w for w in title[1:] if not w.endswith(":")] if title[:1] == ["postgres:"] else []
                if len(words) >= 2 and words[1] == name:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


# --- set-up ---------------------------------------------------------------------------------------------------

def reset() -> None:
    """Delete the bench's merchants and sandbox shops with everything attached (and nobody else's)."""
    with transaction.atomic(), db.cursor() as cur:
        for pk in Merchant.objects.filter(code__in=[CODE, E2E_CODE]).values_list("pk", flat=True):
            delete_tree(cur, Merchant._meta.db_table, "id = %s", [pk])
        for pk in SandboxShop.objects.filter(app_key__in=[APP_KEY, E2E_APP_KEY]).values_list("pk", flat=True):
            delete_tree(cur, SandboxShop._meta.db_table, "id = %s", [pk])


def code_of(i: int) -> str:
    return f"{PREFIX}{i:05d}"


def merchant_with_products(code: str, count: int) -> Merchant:
    # Matched to a base product, so a stock change keeps them listed (an unmatched product waits for review).
    base = BaseProduct.objects.filter(name=BASE_NAME).first() or BaseProduct.objects.create(name=BASE_NAME)
    merchant = Merchant.objects.create(code=code, name=f"Bench Open API ({code})", safety_stock=0,
                                       expiry_exclusion_days=0)
    rng = random.Random(20265)
    Product.objects.bulk_create([
        Product(merchant=merchant, erp_product_id=code_of(i), name=f"{DRUGS[i % len(DRUGS)]}{FORMS[i % len(FORMS)]}",
                default_price=Decimal(150 + (i * 7919) % 19850).scaleb(-2), stock=rng.randint(1, MAX_STOCK),
                base_product=base, listing_state=ListingState.LISTED)
        for i in range(1, count + 1)
    ], batch_size=2000)
    return merchant


def shop_with_items(app_key: str, merchant: Merchant) -> SandboxShop:
    shop = marketplace.shop_create(app_key=app_key, app_secret=APP_SECRET, session=SESSION, nick=f"{app_key}-shop")
    products = merchant.products.order_by("erp_product_id")
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, p.stock) for p in products])
    return shop


def connection_to(merchant: Merchant, app_key: str, base_url: str) -> Connection:
    """The merchant's TOP connection to the sandbox shop. Order pulls are marked done up to now (the shop has no
    trades), so the dispatcher has nothing but pushes to do for it; the budget never paces the bench."""
    conn = connection_create(
        merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=APP_SECRET, session=SESSION,
        name=f"Bench Open API sandbox ({app_key})", gateway_url=f"{base_url}/sandbox/top", app_key=app_key,
        sign_method="hmac-sha256", calls_per_minute=100_000, messages_enabled=False,
    )
    now = timezone.now()
    for module in (SyncModule.ORDERS_FULL, SyncModule.ORDERS, SyncModule.REFUNDS):
        Checkpoint.objects.filter(pk=checkpoint_for(conn, module).pk).update(
            position=now, completed_at=now, last_run_at=now)
    return conn


# --- the ERP side ---------------------------------------------------------------------------------------------

class Erp:
    """Signed `POST /api/v1/stock` requests over one keep-alive connection, as an ERP makes them."""

    def __init__(self, base: str, key: str, secret: str):
        self.url, self.key, self.secret = base + PATH, key, secret
        self.session = requests.Session()

    def headers(self, body: bytes) -> dict:
        stamp, nonce = str(int(time.time())), uuid.uuid4().hex
        canonical = signing.canonical_string(method="POST", path=PATH, query_pairs=[], timestamp=stamp,
                                             nonce=nonce, body=body)
        return {"Content-Type": "application/json", signing.HEADER_KEY: self.key,
                signing.HEADER_TIMESTAMP: stamp, signing.HEADER_NONCE: nonce,
                signing.HEADER_SIGNATURE: signing.signature(self.secret, canonical)}

    def post(self, items: list[dict]) -> tuple[float, int, dict | None, str]:
        """(seconds, HTTP status, decoded answer or None, error text). The clock runs from just before the
        request is sent (body built and signed) until the answer is read."""
        body = json.dumps({"items": items}).encode()
        headers = self.headers(body)
        t0 = time.perf_counter()
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=120)
            content = response.content
        except requests.RequestException as exc:
            return time.perf_counter() - t0, 0, None, f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - t0
        try:
            answer = json.loads(content)
        except ValueError:
            return seconds, response.status_code, None, content[:200].decode(errors="replace")
        return seconds, response.status_code, answer, ""


class Stock:
    """The stock the bench last sent per SKU (it is the only writer of its merchant), and fresh values."""

    def __init__(self, merchant: Merchant):
        self.values = dict(merchant.products.values_list("erp_product_id", "stock"))
        self.codes = sorted(self.values)

    def changed(self, codes: list[str], rng: random.Random) -> list[dict]:
        items = []
        for code in codes:
            value = rng.randint(1, MAX_STOCK)  # >= 1: a listed product keeps its listing state
            if value == self.values[code]:
                value = value % MAX_STOCK + 1
            self.values[code] = value
            items.append({"erp_product_id": code, "stock": value})
        return items

    def same(self, codes: list[str]) -> list[dict]:
        return [{"erp_product_id": code, "stock": self.values[code]} for code in codes]


def window(codes: list[str], size: int, i: int) -> list[str]:
    """The i-th run of `size` codes, wrapping round the list (which holds at least `size` codes)."""
    start = (i * size) % len(codes)
    return [codes[(start + j) % len(codes)] for j in range(size)]


class Record:
    """Requests of one phase: latencies, failures (non-200, or an item not ok) and the items applied."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.requests = self.failed = self.items_ok = self.items_changed = 0
        self.errors: list[str] = []

    def add(self, seconds: float, status: int, answer: dict | None, error: str, sent: int) -> None:
        results = (answer or {}).get("results") or []
        ok = sum(1 for r in results if r.get("status") == "ok")
        changed = sum(1 for r in results if r.get("status") == "ok" and r.get("changed"))
        good = status == 200 and ok == sent == len(results)
        with self.lock:
            self.requests += 1
            self.latencies.append(seconds)
            self.items_ok += ok if status == 200 else 0
            self.items_changed += changed if status == 200 else 0
            if not good:
                self.failed += 1
                if len(self.errors) < 3:
                    bad = next((r for r in results if r.get("status") != "ok"), None)
                    self.errors.append(f"HTTP {status} {error or (answer or {}).get('error') or bad}"[:300])


class Phase:
    """Wall time, the box's busy / stolen CPU share, and the CPU used by gunicorn, this database's PostgreSQL
    backends and this process (plus, when given, `extra` processes such as the RQ worker) over one phase."""

    def __init__(self, gunicorn: subprocess.Popen, extra: list[int] = ()):
        self.gunicorn, self.extra = gunicorn, list(extra)

    def _cpu(self):
        return (cpu_seconds([self.gunicorn.pid, *children_of(self.gunicorn.pid)]), cpu_seconds(bench_backends()),
                time.process_time(), cpu_seconds(self.extra, reaped=True))

    def __enter__(self):
        self.cpu0, self.box0, self.t0 = self._cpu(), cpu_times(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.busy, self.steal = busy_and_steal(self.box0, cpu_times())
        cpu1 = self._cpu()
        self.cpu = (cpu_used(self.cpu0[0], cpu1[0]), cpu_used(self.cpu0[1], cpu1[1]), cpu1[2] - self.cpu0[2])
        self.extra_cpu = cpu_used(self.cpu0[3], cpu1[3])
        return False


def summary(label: str, record: Record, phase: Phase, batch: int) -> dict:
    return {"label": label, "requests": record.requests, "failed": record.failed, "items_ok": record.items_ok,
            "changed": record.items_changed, "sent": record.requests * batch,
            "p50": pct(record.latencies, 50), "p95": pct(record.latencies, 95),
            "max": max(record.latencies, default=float("nan")), "seconds": phase.seconds,
            "rate": record.items_ok / phase.seconds if phase.seconds else float("nan"),
            "busy": phase.busy, "steal": phase.steal, "cpu": phase.cpu, "extra_cpu": phase.extra_cpu,
            "errors": record.errors}


# --- 1. one request at a time ---------------------------------------------------------------------------------

def sequential(erp: Erp, stock: Stock, gunicorn, count: int, batch: int, unchanged: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    record = Record()
    print(f"sequential: {count} requests of {batch} changed SKUs, then {unchanged} of {batch} unchanged ...",
          flush=True)
    with Phase(gunicorn) as phase:
        for i in range(count):
            items = stock.changed(window(stock.codes, batch, i), rng)
            record.add(*erp.post(items), sent=batch)
    changed = summary(f"sequential, {batch} changed SKUs", record, phase, batch)
    record = Record()
    codes = window(stock.codes, batch, count - 1)  # the last request's SKUs, with the values it sent
    with Phase(gunicorn) as phase:
        for _ in range(unchanged):
            record.add(*erp.post(stock.same(codes)), sent=batch)
    same = summary(f"sequential, {batch} unchanged (information)", record, phase, batch)
    return [changed, same]


# --- 2. concurrent clients ------------------------------------------------------------------------------------

def concurrent(erps: list[Erp], stock: Stock, gunicorn, clients: int, seconds: float, batch: int,
               overlap: bool, seed: int) -> dict:
    """`clients` clients posting `batch` changed SKUs per request for `seconds`. Distinct: client k walks its own
    k-th share of the SKUs; overlap: every client walks all of them, in the same order from the same start, so
    they queue on each other's row locks."""
    shares = [stock.codes] * clients if overlap else [stock.codes[k::clients] for k in range(clients)]
    record = Record()
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(k: int) -> None:
        rng = random.Random(seed + k)
        barrier.wait()
        i = 0
        try:
            while time.perf_counter() < deadline[0]:
                items = stock.changed(window(shares[k], batch, i), rng)
                record.add(*erps[k].post(items), sent=batch)
                i += 1
        except Exception as exc:  # noqa: BLE001 - reported with the results
            record.errors.append(f"client {k}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    kind = "all on the same SKUs" if overlap else f"each on its own {len(shares[0]):,} SKUs"
    print(f"{clients} clients, {kind}, for {seconds:g} s ...", flush=True)
    with Phase(gunicorn) as phase:
        deadline[0] = time.perf_counter() + seconds
        barrier.wait()
        for thread in threads:
            thread.join()
    label = f"{clients} clients, {'same SKUs (information)' if overlap else 'own SKUs'}"
    return {**summary(label, record, phase, batch), "clients": clients, "overlap": overlap}


# --- 3. end to end --------------------------------------------------------------------------------------------

PUSH_QUEUES = ("default", "sync")  # config/cron.py runs the dispatcher on default; pushes go to sync.schedule.QUEUE
DISPATCH_EVERY = 60  # config/cron.py: sync_dispatch every 60 s


def push_missing() -> str:
    """Why the outbound stock push cannot be measured ("" when it can)."""
    from sync import jobs
    from sync.marketplaces.top.sandbox import gateway

    missing = [name for name in ("sync.outbox", "sync.pipelines.push", "merchant.sellable") if importlib.util.find_spec(name) is None]
    if not hasattr(jobs, "sync_push"):
        missing.append("sync.jobs.sync_push")
    if "taobao.skus.quantity.update" not in gateway.METHODS:
        missing.append("the sandbox's taobao.skus.quantity.update")
    return ", ".join(missing)


def push_workers() -> list[str]:
    """RQ workers listening on the push queues of this Redis database: before the bench starts its own, someone
    else's (they would run the bench's jobs against their own database)."""
    import django_rq
    from rq import Worker

    redis = django_rq.get_connection("sync")
    return [w.name for w in Worker.all(connection=redis) if set(w.queue_names()) & set(PUSH_QUEUES)]


def redis_cleanup(conn_id: int) -> None:
    """Drop what the bench's connection left in Redis: its jobs (queued, or in a registry), their results and its
    call budget."""
    import django_rq
    from rq.job import Job

    from sync.enqueue import FOLLOW_UP, sync_job_id
    from sync.models import SyncModule as Module

    redis = django_rq.get_connection("sync")
    ids = [sync_job_id(conn_id, m) + suffix for m in Module.values for suffix in ("", FOLLOW_UP)]
    for job in Job.fetch_many(ids, connection=redis):
        if job is not None:
            job.delete()
    # The dispatcher's own runs (random ids) expire after their result TTL.
    redis.delete(*[f"rq:results:{job_id}" for job_id in ids], f"mh:budget:{conn_id}", f"mh:ban:{conn_id}")


def other_connections(conn: Connection) -> list[int]:
    """Enabled TOP connections of other merchants in this database: the real dispatcher would pull and push for
    them too."""
    from sync.models import ConnectionKind

    return list(Connection.objects.filter(kind=ConnectionKind.TOP, is_enabled=True, stopped_reason="")
                .exclude(pk=conn.pk).values_list("pk", flat=True))


class Watch:
    """Stock changes sent through the API and their arrival in the sandbox marketplace: a thread polls the
    SandboxSku quantity of the SKUs not yet seen every WATCH_EVERY seconds, with its own database connection."""

    def __init__(self, shop: SandboxShop):
        self.shop_id = shop.pk
        self.lock = threading.Lock()
        self.expected: dict[str, tuple[int, float, int]] = {}  # code -> (value, sent at, change number)
        self.delays: dict[int, float] = {}  # change number -> seconds
        self.changes = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def expect(self, values: dict[str, int], sent_at: float) -> list[int]:
        with self.lock:
            numbers = []
            for code, value in values.items():
                self.changes += 1
                self.expected[code] = (value, sent_at, self.changes)
                numbers.append(self.changes)
            return numbers

    def pending(self) -> set[str]:
        with self.lock:
            return set(self.expected)

    def _watch(self) -> None:
        try:
            while not self.stopping.is_set():
                codes = list(self.pending())
                if codes:
                    found = dict(SandboxSku.objects.filter(item__shop_id=self.shop_id, outer_sku_id__in=codes)
                                 .values_list("outer_sku_id", "quantity"))
                    # Taken after the query returns: the value may have been there up to one poll earlier, so
                    # this errs on the late side.
                    now = time.monotonic()
                    with self.lock:
                        for code, quantity in found.items():
                            wanted = self.expected.get(code)
                            if wanted and quantity == wanted[0]:
                                self.delays[wanted[2]] = now - wanted[1]
                                del self.expected[code]
                self.stopping.wait(WATCH_EVERY)
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"watching: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def wait_all(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(WATCH_EVERY)
        return not self.pending()


def skus_locate(conn: Connection, shop: SandboxShop, merchant: Merchant) -> int:
    """Record where each product is on the marketplace (sync.models.MarketplaceSku), as a shop connected for a
    while has them: the push looks an unknown SKU up once, but only LOOKUPS_PER_RUN per run, the rest a minute
    later, so a first push of N new SKUs takes N / LOOKUPS_PER_RUN minutes. The values are the sandbox's own, as
    its taobao.skus.custom.get gives them. Returns how many it recorded (0 without the model)."""
    from sync import models as sync_models

    model = getattr(sync_models, "MarketplaceSku", None)
    if model is None:
        return 0
    products = dict(merchant.products.values_list("erp_product_id", "pk"))
    now = timezone.now()
    rows = [model(connection=conn, product_id=products[sku.outer_sku_id], found=True, num_iid=sku.item.num_iid,
                  sku_id=sku.sku_id, properties=sku.properties[:200], checked_at=now)
            for sku in SandboxSku.objects.filter(item__shop=shop).select_related("item")
            if sku.outer_sku_id in products]
    model.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def sandbox_disagrees(shop: SandboxShop, merchant: Merchant) -> int:
    """SKUs whose sandbox quantity is not the merchant's stock (which is its sellable stock here)."""
    quantities = dict(SandboxSku.objects.filter(item__shop=shop).values_list("outer_sku_id", "quantity"))
    return sum(1 for code, value in merchant.products.values_list("erp_product_id", "stock")
               if quantities.get(code) != value)


def start_logged(args: list[str], name: str) -> tuple[subprocess.Popen, str]:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-api-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO, env=child_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc, log.name


def log_tail(path: str, lines: int = 3) -> list[str]:
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return []
    return [line for line in text if "Traceback" in line or "Error" in line or "error" in line][-lines:]


def end_to_end(args, merchant: Merchant, shop: SandboxShop, base: str, key: str, secret: str, gunicorn) -> dict:
    """The live phase on its own merchant (one request's worth of SKUs, none awaiting a push from the load phases)
    with the worker and the dispatcher running."""
    missing = push_missing()
    if missing:
        return {"measured": False, "why": f"missing: {missing}"}
    from merchant.sellable import sellable_stock
    from sync.outbox import outbox_due, push_enqueue

    # The value pushed is the sellable stock: with safety stock 0, no batches and no orders it is the stock.
    products = list(merchant.products.all())
    sellable = sellable_stock(products, merchant)
    differ = sum(1 for p in products if sellable[p.pk] != p.stock)
    if differ:
        return {"measured": False, "why": f"sellable stock differs from stock for {differ} of {len(products)} products"}
    conn = connection_to(merchant, E2E_APP_KEY, base)
    located = skus_locate(conn, shop, merchant)
    stock, erp = Stock(merchant), Erp(base, key, secret)
    others = other_connections(conn)
    connections.close_all()

    worker, worker_log = start_logged(["rqworker", *PUSH_QUEUES, "--with-scheduler"], "worker")
    scheduler = scheduler_log = None
    dispatch_stop = threading.Event()
    if not others:
        # The scheduler with config/cron.py's dispatcher entry only: its other entries (batch expiry, purges,
        # switch resumes, the sandbox's simulated buyers) act on every merchant in the database, not on a push.
        scheduler, scheduler_log = start_logged(["scheduler", "--only", "sync_dispatch"], "scheduler")
        dispatcher = f"manage.py scheduler --only sync_dispatch (every {DISPATCH_EVERY} s)"
    else:
        # The real dispatcher would also pull and push for these connections: apply its push rule (enqueue the
        # push of a connection with due outbox rows, every minute) to the bench's connection only.
        def dispatch_loop():
            try:
                while not dispatch_stop.wait(DISPATCH_EVERY):
                    for conn_id, kind in outbox_due():
                        if conn_id == conn.pk:
                            push_enqueue(connection_id=conn_id, kind=kind)
            finally:
                connections.close_all()

        threading.Thread(target=dispatch_loop, daemon=True).start()
        dispatcher = (f"the dispatcher's push rule for the bench connection only, every {DISPATCH_EVERY} s "
                      f"(enabled connections of other merchants are in this database: {others[:5]})")
    result = {"measured": True, "dispatcher": dispatcher, "requests": 0, "failed": 0, "errors": [], "located": located}
    watch = Watch(shop)
    rng = random.Random(20267)

    def burst(label: str) -> dict:
        """One request changing every SKU of the merchant; how long until each is on the marketplace."""
        before = set(watch.delays)
        items = stock.changed(stock.codes, rng)
        record = Record()
        watch.expect({item["erp_product_id"]: item["stock"] for item in items}, time.monotonic())
        record.add(*erp.post(items), sent=len(items))
        watch.wait_all(max(180.0, len(items) * 0.5))
        delays = [d for n, d in watch.delays.items() if n not in before]
        result["requests"] += record.requests
        result["failed"] += record.failed
        result["errors"] += record.errors
        return {"label": label, "skus": len(items), "seen": len(delays), "p50": pct(delays, 50),
                "last": max(delays, default=float("nan"))}

    try:
        deadline = time.monotonic() + 60
        while not push_workers() and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # until the worker has registered (it listens from then on)
        if worker.poll() is not None or not push_workers():
            result.update(measured=False, why=f"the RQ worker did not start: {log_tail(worker_log)}")
            return result
        watch.thread.start()
        print(f"end to end: RQ worker ({' '.join(PUSH_QUEUES)}) and {dispatcher.split(' (')[0]}; one request of all "
              f"{len(stock.codes)} SKUs of {E2E_CODE} first ...", flush=True)
        # Warm-up, and for information: how long one full request takes to reach the marketplace.
        result["burst"] = burst("one request of every SKU")
        if result["burst"]["seen"] < result["burst"]["skus"]:
            result.update(measured=False, why=f"one request of {result['burst']['skus']} SKUs reached the marketplace "
                                              f"for {result['burst']['seen']} of them within the wait")
            return result

        # Live: --e2e-rate requests per second of --e2e-batch SKUs not awaited already, for --e2e-seconds.
        count = max(1, round(args.e2e_rate * args.e2e_seconds))
        print(f"end to end: {count} requests of {args.e2e_batch} SKUs at {args.e2e_rate:g}/s, watching the sandbox "
              f"every {WATCH_EVERY * 1000:.0f} ms ...", flush=True)
        record = Record()
        with Phase(gunicorn, extra=[worker.pid] + ([scheduler.pid] if scheduler else [])) as phase:
            t0 = time.monotonic()
            first_change = watch.changes
            for i in range(count):
                pause = t0 + i / args.e2e_rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                busy = watch.pending()
                codes = rng.sample([c for c in stock.codes if c not in busy], args.e2e_batch)
                items = stock.changed(codes, rng)
                watch.expect({item["erp_product_id"]: item["stock"] for item in items}, time.monotonic())
                record.add(*erp.post(items), sent=args.e2e_batch)
            # Up to two dispatcher cycles for the last changes: a lost job is found by the next dispatch.
            watch.wait_all(2 * DISPATCH_EVERY + 10)
        live = [d for n, d in watch.delays.items() if n > first_change]
        result.update(requests=result["requests"] + record.requests, failed=result["failed"] + record.failed,
                      changes=watch.changes - first_change, seen=len(live), p50=pct(live, 50), p95=pct(live, 95),
                      max=max(live, default=float("nan")),
                      live=summary(f"end to end, {args.e2e_rate:g}/s x {args.e2e_batch} SKUs", record, phase,
                                   args.e2e_batch))
        result["disagree"] = sandbox_disagrees(shop, merchant)
        return result
    finally:
        watch.stopping.set()
        dispatch_stop.set()
        if watch.thread.is_alive():
            watch.thread.join(timeout=10)
        result["errors"] += watch.errors
        stop_process(scheduler)
        stop_process(worker)
        redis_cleanup(conn.pk)
        result["worker_log"] = log_tail(worker_log) + (log_tail(scheduler_log) if scheduler_log else [])
        # The logs are kept when something went wrong (their paths are printed), else removed.
        if result.get("measured") and not result["failed"] and not result["errors"] and not result["worker_log"]:
            for path in filter(None, (worker_log, scheduler_log)):
                os.unlink(path)
        else:
            result["logs"] = [path for path in (worker_log, scheduler_log) if path]
        connections.close_all()


# --- profile --------------------------------------------------------------------------------------------------

def profile_one(stock: Stock, key: str, secret: str, batch: int, top: int) -> str:
    """cProfile of one 500-SKU request through Django's test client in this process (the whole stack: middleware,
    signature, the view, the service, the database)."""
    from django.test import Client
    from django.test.utils import override_settings

    import warnings

    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # WhiteNoise: staticfiles/ never collected
    client = Client()
    rng = random.Random(7)
    out = io.StringIO()
    timed = {}
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        for label in ("warm-up", "timed", "profiled"):
            items = stock.changed(window(stock.codes, batch, 3), rng)
            body = json.dumps({"items": items}).encode()
            headers = {f"HTTP_{name.upper().replace('-', '_')}": value
                       for name, value in Erp("", key, secret).headers(body).items() if name != "Content-Type"}
            profiler = cProfile.Profile()
            t0 = time.perf_counter()
            if label == "profiled":
                profiler.enable()
            response = client.post(PATH, data=body, content_type="application/json", **headers)
            profiler.disable()
            timed[label] = time.perf_counter() - t0
            if response.status_code != 200:
                raise RuntimeError(f"profiled request answered {response.status_code}: {response.content[:300]}")
    print(f"\nprofile of one {batch}-SKU request, every value changed, through Django's test client in the bench "
          f"process ({timed['timed'] * 1000:.0f} ms without the profiler, {timed['profiled'] * 1000:.0f} ms with it)",
          file=out)
    stats = pstats.Stats(profiler, stream=out)
    # The project's own functions and the ORM calls they make, by cumulative time; then everything by own time.
    ours = rf"{REPO}/(merchant|sync)/|query.py:\d+\((bulk_update|update|bulk_create)\)|compiler.py:\d+\(execute_sql\)"
    stats.sort_stats("cumulative").print_stats(ours, top)
    stats.sort_stats("tottime").print_stats(top // 2)
    return out.getvalue()


# --- report ---------------------------------------------------------------------------------------------------

def report(args, server, rows, e2e, made, run_cpu, total_s) -> None:
    table = rows + ([e2e["live"]] if e2e.get("live") else [])
    print()
    print(f"{'phase':<42}{'requests':>9}{'failed':>7}{'SKUs ok':>9}{'changed':>9}{'p50 ms':>8}{'p95 ms':>8}"
          f"{'max ms':>8}{'SKUs/s':>8}{'busy':>6}{'steal':>6}{'CPU ms/req gunicorn pg bench':>30}")
    for r in table:
        n = max(1, r["requests"])
        cpu = " ".join(f"{c / n * 1000:.0f}" for c in r["cpu"])
        print(f"{r['label']:<42}{r['requests']:>9,}{r['failed']:>7,}{r['items_ok']:>9,}{r['changed']:>9,}"
              f"{r['p50'] * 1000:>8.0f}{r['p95'] * 1000:>8.0f}{r['max'] * 1000:>8.0f}{r['rate']:>8,.0f}"
              f"{r['busy']:>6.0%}{r['steal']:>6.0%}{cpu:>30}")
    print("  (SKUs/s = SKUs answered ok / the phase's wall time; CPU per request of the gunicorn workers (they also "
          "serve the sandbox marketplace), this database's PostgreSQL backends and the bench process, which also runs "
          "the clients" + ("; the RQ worker used " + f"{e2e['live']['extra_cpu'] / max(1, e2e['live']['requests']) * 1000:.0f}"
                            " ms per end-to-end request" if e2e.get("live") else "") + ")")

    seq = rows[0]
    loads = [r for r in rows if "clients" in r and not r["overlap"]]
    best = max(loads, key=lambda r: r["rate"])
    runs = ", ".join(f"{r['clients']} clients {r['rate']:,.0f}/s" for r in loads)
    print()
    print(f"Open API stock bars on PostgreSQL {server}, {os.cpu_count()} vCPUs, gunicorn {args.workers} workers x "
          f"{args.threads} threads:")
    print(f"  {args.batch}-SKU request p95 {seq['p95'] * 1000:.0f} ms <= {LATENCY_BAR * 1000:.0f} ms: "
          f"{yes(seq['p95'] <= LATENCY_BAR and not seq['failed'])} (p50 {seq['p50'] * 1000:.0f} ms, max "
          f"{seq['max'] * 1000:.0f} ms, {seq['requests']} requests one at a time, {seq['changed']:,} of "
          f"{seq['sent']:,} values changed; unchanged, for information: p50 {rows[1]['p50'] * 1000:.0f} ms, "
          f"p95 {rows[1]['p95'] * 1000:.0f} ms)")
    print(f"  sustained {best['rate']:,.0f} SKU updates/s >= {THROUGHPUT_BAR:,.0f}: "
          f"{yes(best['rate'] >= THROUGHPUT_BAR and not best['failed'])} (best of {runs}; {args.seconds:g} s each, "
          f"{args.batch} changed SKUs per request, each client on its own SKUs)")
    overlap = next(r for r in rows if r.get("overlap"))
    print(f"    for information, {overlap['clients']} clients on the same SKUs: {overlap['rate']:,.0f}/s, p95 "
          f"{overlap['p95'] * 1000:.0f} ms, {overlap['failed']} failed requests")
    if e2e["measured"] and "p95" in e2e:
        ok = e2e["p95"] <= E2E_BAR and e2e["seen"] == e2e["changes"] and not e2e["failed"]
        print(f"  end to end p95 {e2e['p95']:.2f} s <= {E2E_BAR:.0f} s: {yes(ok)} (p50 {e2e['p50']:.2f} s, max "
              f"{e2e['max']:.2f} s; {e2e['seen']:,}/{e2e['changes']:,} changes seen on the marketplace; "
              f"{args.e2e_rate:g} requests/s of {args.e2e_batch} SKUs for {args.e2e_seconds:g} s)")
        print(f"    dispatcher: {e2e['dispatcher']}")
        b = e2e["burst"]
        print(f"    one request of {b['skus']} SKUs before it (information): {b['seen']}/{b['skus']} on the marketplace, "
              f"half within {b['p50']:.2f} s, the last after {b['last']:.2f} s; SKUs located up front: "
              f"{e2e['located']}")
        print(f"    SKUs whose sandbox quantity differs from the stock at the end: {e2e['disagree']}")
    else:
        why = e2e.get("why", "interrupted")
        print(f"  end to end: not measured (outbound push not available; {why})" if why.startswith("missing")
              else f"  end to end: not measured ({why})")
    failed = sum(r["failed"] for r in rows) + made["warm_failed"] + e2e.get("failed", 0)
    print(f"  requests made {made['total']:,} ({made['warm']} warm-up), failed {failed:,} (non-200, or an item "
          f"not ok)")
    for r in table:
        for error in r["errors"]:
            print(f"    {r['label']}: {error}")
    for line in e2e.get("errors", []) + e2e.get("worker_log", []):
        print(f"    end to end: {line}")
    if e2e.get("logs"):
        print(f"    worker / scheduler logs kept: {' '.join(e2e['logs'])}")
    print(f"  CPU over the run: {run_cpu[0]:.0%} busy, {run_cpu[1]:.0%} stolen by the hypervisor; "
          f"total run time {total_s / 60:.1f} min")


def main():
    parser = argparse.ArgumentParser(description="Open API stock writes: latency, throughput, end to end")
    parser.add_argument("--skus", type=int, default=5000, help="products of the bench merchant")
    parser.add_argument("--batch", type=int, default=500, help="SKUs per request (the API allows 500)")
    parser.add_argument("--requests", type=int, default=100, help="sequential requests for the latency")
    parser.add_argument("--unchanged", type=int, default=20, help="sequential requests with unchanged values")
    parser.add_argument("--seconds", type=float, default=30, help="duration of each concurrent run")
    parser.add_argument("--clients", default="2,4", help="concurrent client counts, comma-separated")
    parser.add_argument("--e2e-seconds", type=float, default=60, help="live API changes for the end-to-end delay")
    parser.add_argument("--e2e-rate", type=float, default=1, help="requests per second in the end-to-end phase")
    parser.add_argument("--e2e-batch", type=int, default=20, help="SKUs per request in the end-to-end phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one request")
    args = parser.parse_args()
    clients = sorted({int(c) for c in args.clients.split(",") if c.strip()})

    if db.vendor != "postgresql":
        sys.exit(f"The API bars are measured on PostgreSQL; this database is {db.vendor}. Set "
                 "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench.")
    if not 1 <= args.batch <= settings.API_MAX_ITEMS:
        sys.exit(f"--batch must be 1..{settings.API_MAX_ITEMS}")
    if args.skus < max(clients) * args.batch:
        sys.exit(f"--skus must be at least {max(clients)} clients x {args.batch} = {max(clients) * args.batch}, so "
                 "each client has its own SKUs for a whole request")
    if push_workers():
        sys.exit(f"RQ workers already listen on {', '.join(PUSH_QUEUES)} in this Redis database "
                 f"({', '.join(push_workers()[:3])}): they would run the bench's push jobs against their own "
                 f"database. Point REDIS_URL at another database number.")
    from django.core.management import call_command

    started, cpu0 = time.perf_counter(), cpu_times()
    call_command("migrate", verbosity=0)
    with db.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0].split()[0]
    t0 = time.perf_counter()
    reset()
    system = Actor.system(AuditSource.SYSTEM)
    merchant, e2e_merchant = merchant_with_products(CODE, args.skus), merchant_with_products(E2E_CODE, args.batch)
    shop_with_items(APP_KEY, merchant)
    e2e_shop = shop_with_items(E2E_APP_KEY, e2e_merchant)
    credential, secret = api_credential_create(merchant=merchant, actor=system, name="bench")
    e2e_credential, e2e_secret = api_credential_create(merchant=e2e_merchant, actor=system, name="bench")
    with db.cursor() as cur:
        cur.execute("ANALYZE merchant_product")
    print(f"database: PostgreSQL {server} ({db.settings_dict['NAME']}); merchants {CODE} ({args.skus:,} products) "
          f"and {E2E_CODE} ({args.batch}), sandbox shops {APP_KEY} and {E2E_APP_KEY}, made afresh in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = conn = None
    profile = ""
    # gunicorn runs in its own session: a SIGTERM to us must still stop it (the finally below does)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        gunicorn = start_gunicorn(port, args.workers, args.threads, child_env())
        print(f"server: gunicorn ({args.workers} workers x {args.threads} threads) at {base}", flush=True)
        # A connected merchant, as in production: each request also records what its marketplace must be told.
        conn = connection_to(merchant, APP_KEY, base)
        stock = Stock(merchant)
        connections.close_all()  # the clients' threads use none; the phases' own queries open it again
        erps = [Erp(base, credential.key, secret) for _ in range(max(clients))]
        # Warm-up: every gunicorn thread imports, connects and reads the credential once before measuring.
        warm = Record()
        rng = random.Random(1)
        for i in range(2 * args.workers * args.threads):
            warm.add(*erps[i % len(erps)].post(stock.changed(window(stock.codes, args.batch, i), rng)),
                     sent=args.batch)
        rows = sequential(erps[0], stock, gunicorn, args.requests, args.batch, args.unchanged, seed=11)
        for i, n in enumerate(clients):
            rows.append(concurrent(erps, stock, gunicorn, n, args.seconds, args.batch, overlap=False,
                                   seed=100 * (i + 1)))
        rows.append(concurrent(erps, stock, gunicorn, max(clients), args.seconds, args.batch, overlap=True,
                               seed=900))
        # In this process, while the merchant is still connected (its outbox rows are part of the request's work).
        profile = profile_one(stock, credential.key, secret, args.batch, top=25) if args.profile else ""
        # No worker ran: the load phases' changes wait in the outbox. The connection is disabled, so the end-to-end
        # phase's worker and dispatcher leave that backlog alone (the next run deletes it).
        connection_set_enabled(connection=conn, enabled=False, actor=system)
        e2e = end_to_end(args, e2e_merchant, e2e_shop, base, e2e_credential.key, e2e_secret, gunicorn)
    finally:
        if conn is not None:
            redis_cleanup(conn.pk)
        stop_process(gunicorn)
        connections.close_all()
    made = {"warm": warm.requests, "warm_failed": warm.failed,
            "total": warm.requests + sum(r["requests"] for r in rows) + e2e.get("requests", 0)}
    report(args, server, rows, e2e, made, busy_and_steal(cpu0, cpu_times()), time.perf_counter() - started)
    if profile:
        print(profile)


if __name__ == "__main__":
    main()
