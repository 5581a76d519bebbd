"""The Douyin shop's phases of `bench/sync.py --platform douyin` (issue 16's bars, measured as for TOP).

Everything runs against the sandbox Douyin shop served by gunicorn (`/sandbox/douyin/<path>`, SANDBOX_ENABLED=1),
which also serves our callback URL `/hooks/douyin/`, through the real DouyinClient, adapter and pipelines:
  1. steady state: --orders orders updated over the last --steady-minutes (2,000 a minute by default, the busy
     shop of the TOP bench), no faults; incremental runs as the 60-second poller would make them
     (`orders_pull_incremental(run, market, until=first + k minutes)`) until every order is in. Calls per order
     and a check that our orders are exactly the sandbox's (numbers and update times);
  2. correctness with faults, on its own shop: --fault-orders orders, then the shop's faults on (FAULTS: errors,
     dropped connections, slow answers, pages shifting under the reader, a search index lagging the writes, the
     access token expiring once); the same incremental runs; then after-sales opened on REFUNDS orders, a third
     refunded and a third closed; then `orders_sync` + `refunds_sync` every TICK s for TICKS ticks as the poller
     would; then the faults off and, a settle later, one last run of each. Printed: orders lost, duplicated,
     stale (our update time not the sandbox's) and extra; line refund states against the sandbox's after-sales;
  3. latency through push messages: the shop's callback_url = our hook, push on; orders created live at --rate
     per second for --message-seconds; the bench process plays the platform's pusher (`messages_deliver(shop,
     now)` every --push-every s); `manage.py rqworker sync --with-scheduler` runs the `sync_pushed_messages` jobs
     the hook queues; no polling;
  4. latency by polling alone: push off, no worker, orders live at --rate per second for --poll-minutes while
     `orders_sync(connection, trigger="schedule")` runs at once and then every 60 s (sync_live.polling_latency);
  5. stock: on a merchant with no orders (its sellable stock is its stock) and its own shop, `stock_set` of one
     product every 1 / --stock-rate s for --stock-seconds while `manage.py rqworker default sync --with-scheduler`
     and the dispatcher (`manage.py scheduler --only sync_dispatch`) run as in production; a watcher reads the
     sandbox SKU's stock_num every 100 ms. Delay = first read showing the value - the bench's clock before
     stock_set.
Latency of orders = when a watcher (merchant_order every 100 ms) first sees the order - the bench's clock just
before order_create.

Merchants `bench_sync_dy`, `bench_sync_dy_faults`, `bench_sync_dy_stock` and the sandbox Douyin shops of app keys
`bench-sync-dy`, `bench-sync-dy-faults`, `bench-sync-dy-stock` are deleted with everything attached and made again
at the start; nothing else in the database is touched. In Redis it removes its connections' jobs and budgets.
"""
import logging
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.db import connection as db, connections, transaction
from django.db.models import Max, Min
from django.utils import timezone

from _setup import REPO, busy_and_steal, cpu_times, delete_tree, free_port, pct, stop_process, yes
from merchant.models import AuditSource, Merchant, OrderItem, RefundStatus
from merchant.permissions import Actor
from merchant.services.stock import stock_set
from sync.marketplaces import client_for, marketplace_for
from sync.marketplaces.douyin.adapter import PAGE_SIZE, DouyinMarketplace
from sync.marketplaces.douyin.sandbox import marketplace, push
from sync.marketplaces.douyin.sandbox.models import (
    AfterSaleStatus, DouyinCall, DouyinOrder, DouyinShop, DouyinSku, DouyinSkuOrder, OrderStatus,
)
from sync.marketplaces.douyin.services import douyin_connection_create, douyin_token_obtain
from sync.models import PUSH_MODULES, ApiCall, Checkpoint, Connection, PushedMessage, SyncModule
from sync.pipelines import items_sync, orders_sync, push_sync, refunds_sync, stock_check_sync
from sync.pipelines.orders import orders_pull_incremental
from sync.runs import checkpoint_for, run_of
from sync.services import connection_set_enabled
from sync_live import (
    MESSAGE_P95_BAR, POLL_EVERY, POLL_P95_BAR, PRODUCTS, WATCH_EVERY, LiveOrders, Phase, calls_between, child_env,
    merchant_with_products, our_orders, polling_latency, start_gateway,
)

CALLS_BAR = 1.05 / PAGE_SIZE
STOCK_P95_BAR = 10.0
CODE, FAULT_CODE, STOCK_CODE = "bench_sync_dy", "bench_sync_dy_faults", "bench_sync_dy_stock"
APP_KEY, FAULT_APP_KEY, STOCK_APP_KEY = "bench-sync-dy", "bench-sync-dy-faults", "bench-sync-dy-stock"
SECRET = "bench-sync-dy-secret"
SHOP_IDS = {APP_KEY: 91_000_001, FAULT_APP_KEY: 91_000_002, STOCK_APP_KEY: 91_000_003}
SETTLE = DouyinMarketplace.windows.settle
# orders_generate caps an order's later times at `end`: short slices keep update times spread as a busy shop's.
SLICE = timedelta(seconds=10)
# The generated span ends this far before now, so the last run never waits for the settle lag to pass.
SPAN_END = SETTLE + timedelta(seconds=5)
FAULTS = {"error_rate": 0.05, "drop_rate": 0.03, "slow_rate": 0.03, "slow_seconds": 2.0, "move_on_page_rate": 0.3,
          "move_count": 3, "index_lag_seconds": 30, "expire_token_next": True}
NO_FAULTS = {"error_rate": 0.0, "drop_rate": 0.0, "slow_rate": 0.0, "move_on_page_rate": 0.0, "index_lag_seconds": 0,
             "expire_token_next": False}
REFUNDS = 300
TICK, TICKS = 15.0, 4
# Our line refund state for the sandbox SKU order's after-sale state (what the bench opens and settles).
EXPECTED_REFUND = {AfterSaleStatus.NONE: RefundStatus.NONE, AfterSaleStatus.WAIT_SELLER_AGREE: RefundStatus.REQUESTED,
                   AfterSaleStatus.SUCCESS: RefundStatus.REFUNDED, AfterSaleStatus.CLOSED: RefundStatus.NONE}
DISPATCH_EVERY = 60  # config/cron.py's interval of sync_dispatch


def defaults(args) -> None:
    """Douyin's defaults: the whole run within about 10 minutes."""
    for name, value in (("orders", 6_000), ("steady_minutes", 3.0), ("poll_minutes", 2.0),
                        ("message_seconds", 60.0)):
        if getattr(args, name) is None:
            setattr(args, name, value)


# --- set-up --------------------------------------------------------------------------------------------------

def reset() -> None:
    """Delete the bench's merchants and sandbox Douyin shops with everything attached (and nobody else's)."""
    with transaction.atomic(), db.cursor() as cur:
        for pk in Merchant.objects.filter(code__in=[CODE, FAULT_CODE, STOCK_CODE]).values_list("pk", flat=True):
            delete_tree(cur, Merchant._meta.db_table, "id = %s", [pk])
        for pk in DouyinShop.objects.filter(app_key__in=list(SHOP_IDS)).values_list("pk", flat=True):
            delete_tree(cur, DouyinShop._meta.db_table, "id = %s", [pk])


def shop_with_skus(app_key: str, merchant: Merchant) -> DouyinShop:
    shop = marketplace.shop_create(app_key=app_key, app_secret=SECRET, shop_id=SHOP_IDS[app_key],
                                   shop_name=f"{app_key}-shop")
    marketplace.products_from_codes(shop, [(p.erp_product_id, p.name, int(p.default_price * 100), p.stock)
                                           for p in merchant.products.order_by("erp_product_id")])
    return shop


def connection_to(merchant: Merchant, shop: DouyinShop, base_url: str) -> Connection:
    # A budget far above what the bench uses: the bars are about our calls, not about waiting for the budget.
    conn = douyin_connection_create(
        merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=SECRET, shop_id=str(shop.shop_id),
        name=f"Bench Douyin sandbox ({shop.app_key})", gateway_url=f"{base_url}/sandbox/douyin",
        app_key=shop.app_key, calls_per_minute=100_000, orders_interval=int(POLL_EVERY))
    return douyin_token_obtain(conn)


def drain(conn: Connection) -> dict:
    """Push whatever the connection has due (stock, prices, listing, logistics) here and now, and drop its queued
    jobs: the bulk phases ran without a worker, and a worker that had been running would have sent it long ago."""
    totals = {"pushed": 0, "calls": 0}
    for module in PUSH_MODULES.values():
        summary = push_sync(conn, module=module, trigger="bench")
        totals["pushed"] += summary["pushed"]
        totals["calls"] += summary["calls"]
    redis_cleanup([conn.pk])
    return totals


def disable(conn: Connection) -> None:
    """A connection whose phases are over: no worker or dispatcher works for it from now on."""
    connection_set_enabled(connection=conn, enabled=False, actor=Actor.system(AuditSource.SYSTEM))
    redis_cleanup([conn.pk])


def faults_set(shop: DouyinShop, values: dict) -> None:
    DouyinShop.objects.filter(pk=shop.pk).update(**values)


def redis_cleanup(conn_ids: list[int]) -> None:
    """Drop what the bench's connections left in Redis: their sync jobs and call budgets."""
    import django_rq
    from rq.job import Job

    from sync.enqueue import FOLLOW_UP, sync_job_id

    redis = django_rq.get_connection("sync")
    for conn_id in conn_ids:
        ids = [sync_job_id(conn_id, m) + suffix for m in SyncModule.values for suffix in ("", FOLLOW_UP)]
        for job in Job.fetch_many(ids, connection=redis):
            if job is not None:
                job.delete()
        redis.delete(f"mh:budget:{conn_id}", f"mh:ban:{conn_id}")


def workers_on(queues: list[str]) -> list[str]:
    """RQ workers listening on these queues of this Redis database (someone else's would run the bench's jobs
    against their own database)."""
    import django_rq
    from rq import Worker

    redis = django_rq.get_connection("sync")
    return [w.name for w in Worker.all(connection=redis) if set(w.queue_names()) & set(queues)]


def start_logged(args: list[str], name: str) -> tuple[subprocess.Popen, str]:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-sync-dy-{name}-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, "manage.py", *args], cwd=REPO, env=child_env(), stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc, log.name


def start_worker(queues: list[str], name: str) -> tuple[subprocess.Popen, str]:
    others = workers_on(queues)
    if others:
        raise RuntimeError(f"RQ workers of someone else listen on {queues} in this Redis database: {others[:3]}; "
                           "use a REDIS_URL database of your own")
    worker, log = start_logged(["rqworker", *queues, "--with-scheduler"], name)
    deadline = time.monotonic() + 60
    while not workers_on(queues) and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # until the worker has registered (it listens from then on)
    if worker.poll() is not None or not workers_on(queues):
        stop_process(worker)
        raise RuntimeError(f"the RQ worker did not start; see {log}")
    return worker, log


@contextmanager
def quiet(*names: str):
    """The faults make every client log each failed call and retry; the phase counts them from the sandbox's
    call log instead."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def log_problems(path: str, lines: int = 3) -> list[str]:
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return []
    return [line for line in text if "Traceback" in line or "Error" in line or "error" in line][-lines:]


# --- measuring ------------------------------------------------------------------------------------------------

def compare_orders(merchant: Merchant, shop: DouyinShop) -> dict:
    """Our orders against the sandbox's: lost (theirs, not ours), duplicated (one number stored twice), stale
    (our update time is not theirs), extra (ours, not theirs)."""
    ours = list(our_orders(merchant).values_list("order_no", "modified_at"))
    theirs = dict(DouyinOrder.objects.filter(shop=shop).values_list("shop_order_id", "update_time"))
    mine = dict(ours)
    return {"theirs": len(theirs), "stored": len(ours), "lost": len(set(theirs) - set(mine)),
            "duplicated": len(ours) - len(mine), "extra": len(set(mine) - set(theirs)),
            "stale": sum(1 for no, at in mine.items() if no in theirs and at != theirs[no])}


def exact(c: dict) -> bool:
    return c["stored"] == c["theirs"] and not (c["lost"] or c["duplicated"] or c["extra"] or c["stale"])


def compare_refunds(conn: Connection, shop: DouyinShop) -> dict:
    """Every line of the shop's orders that had an after-sale: our refund state against the one its after-sale
    state means."""
    lines = dict(DouyinSkuOrder.objects.filter(order__shop=shop, after_sales__isnull=False).distinct()
                 .values_list("sku_order_id", "after_sale_status"))
    ours = dict(OrderItem.objects.filter(order__connection=conn, external_id__in=list(lines))
                .values_list("external_id", "refund_status"))
    by_state: dict[int, int] = {}
    wrong = missing = 0
    for line, state in lines.items():
        by_state[state] = by_state.get(state, 0) + 1
        if line not in ours:
            missing += 1
        elif ours[line] != EXPECTED_REFUND.get(state, "?"):
            wrong += 1
    return {"lines": len(lines), "by_state": by_state, "wrong": wrong, "missing": missing,
            "right": len(lines) - wrong - missing}


def generate(shop: DouyinShop, count: int, span: timedelta, seed: int) -> tuple[float, object, object]:
    end = marketplace.second(timezone.now() - SPAN_END)
    start = end - span
    slices = max(1, int(span / SLICE))
    t0 = time.perf_counter()
    for i in range(slices):
        share = count * (i + 1) // slices - count * i // slices
        first = start + i * SLICE
        marketplace.orders_generate(shop, share, start=first, end=first + SLICE - timedelta(seconds=1),
                                    seed=seed + i)
    bounds = DouyinOrder.objects.filter(shop=shop).aggregate(first=Min("update_time"), last=Max("update_time"))
    return time.perf_counter() - t0, bounds["first"], bounds["last"]


def pulled_until(conn: Connection, position) -> None:
    """The full pull marked done and the incremental checkpoint at `position`: a shop connected for a while."""
    now = timezone.now()
    Checkpoint.objects.filter(pk=checkpoint_for(conn, SyncModule.ORDERS_FULL).pk).update(position=now, completed_at=now)
    Checkpoint.objects.filter(pk=checkpoint_for(conn, SyncModule.ORDERS).pk).update(position=position)


def incremental_runs(conn: Connection, first, last, minutes: float) -> list:
    """As the 60-second poller: the checkpoint one second before `first`, then one run per minute of the span
    (never past now) until the checkpoint passes `last`."""
    pulled_until(conn, first - timedelta(seconds=1))
    runs, position, k = [], first - timedelta(seconds=1), 0
    while position < last:
        k += 1
        # Never past now; a run that would end before the last order has settled waits for it (few orders).
        until = first + timedelta(minutes=k)
        ahead = (min(until, last + SETTLE + timedelta(seconds=1)) - timezone.now()).total_seconds()
        if ahead > 0:
            time.sleep(ahead)
        until = min(until, timezone.now())
        with run_of(conn, SyncModule.ORDERS, mode="incremental", trigger="bench") as run:
            orders_pull_incremental(run, marketplace_for(conn, client_for(conn, counter=run.counter)), until=until)
        position = run.checkpoint.position
        runs.append(run.record)
        if k > minutes + 5:
            raise RuntimeError(f"the checkpoint is stuck at {position} after {k} runs")
    return runs


# --- 1. steady state ------------------------------------------------------------------------------------------

def steady_state(conn: Connection, merchant: Merchant, shop: DouyinShop, count: int, minutes: float) -> dict:
    gen_s, first, last = generate(shop, count, timedelta(minutes=minutes), seed=20270000)
    print(f"steady state: {count:,} orders updated over {minutes:g} minutes in {gen_s:.1f} s; pulling ...",
          flush=True)
    with Phase() as phase:
        runs = incremental_runs(conn, first, last, minutes)
    return {
        "compare": compare_orders(merchant, shop), "orders": count, "runs": len(runs),
        "calls": sum(r.calls for r in runs), "api_calls": ApiCall.objects.filter(connection=conn).count(),
        "sandbox_calls": DouyinCall.objects.filter(shop=shop).count(),
        "failed": sum(r.failed_calls for r in runs), "fetched": sum(r.fetched for r in runs),
        "per_run": [r.calls for r in runs], "orders_per_run": [r.fetched for r in runs],
        "seconds": phase.seconds, "busy": phase.busy, "steal": phase.steal,
    }


# --- 2. correctness with faults: orders and refunds -------------------------------------------------------------

def after_sales_open(shop: DouyinShop, count: int) -> dict:
    """After-sales on `count` paid orders drawn from the whole span (not only the oldest: an order changed again
    while its last update is still within the pull's look-back is the hard case): a third refunded, a third
    closed, the rest left open."""
    paid = list(DouyinOrder.objects.filter(shop=shop, status__in=[
        OrderStatus.AWAITING_SHIPMENT, OrderStatus.SHIPPED, OrderStatus.FINISHED]).select_related("shop")
        .order_by("shop_order_id"))
    orders = random.Random(20271500).sample(paid, min(count, len(paid)))
    made = {"opened": 0, "refunded": 0, "closed": 0}
    for i, order in enumerate(orders):
        after_sale = marketplace.after_sale_create(order)
        made["opened"] += 1
        if i % 3 < 2:
            marketplace.after_sale_settle(after_sale, success=i % 3 == 0)
            made["refunded" if i % 3 == 0 else "closed"] += 1
    return made


def with_faults(conn: Connection, merchant: Merchant, shop: DouyinShop, count: int, minutes: float) -> dict:
    gen_s, first, last = generate(shop, count, timedelta(minutes=minutes), seed=20271000)
    faults_set(shop, FAULTS)
    print(f"faults: {count:,} orders updated over {minutes:g} minutes in {gen_s:.1f} s; faults on "
          f"({', '.join(f'{k}={v}' for k, v in FAULTS.items())}); pulling ...", flush=True)
    errors = []
    with Phase() as phase, quiet("sync.calls", "sync.retry"):
        runs = incremental_runs(conn, first, last, minutes)
        caught_up = compare_orders(merchant, shop)
        after_sales = after_sales_open(shop, REFUNDS)
        print(f"faults: {after_sales['opened']} after-sales opened ({after_sales['refunded']} refunded, "
              f"{after_sales['closed']} closed); orders_sync + refunds_sync every {TICK:.0f} s x {TICKS} ...",
              flush=True)
        t0 = time.monotonic()
        for i in range(TICKS):
            pause = t0 + i * TICK - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            for summary in (orders_sync(conn, trigger="bench"), refunds_sync(conn, trigger="bench")):
                errors += summary["errors"]
        faults_set(shop, NO_FAULTS)
        time.sleep(SETTLE.total_seconds() + 1)
        for summary in (orders_sync(conn, trigger="bench"), refunds_sync(conn, trigger="bench")):
            errors += summary["errors"]
    outcomes: dict[str, int] = {}
    for outcome in DouyinCall.objects.filter(shop=shop).values_list("outcome", flat=True):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    moved = sum(len(m) for m in DouyinCall.objects.filter(shop=shop).exclude(moved=[]).values_list("moved", flat=True))
    return {"orders": count, "runs": len(runs), "calls": calls_between(conn, phase.at0, phase.at1),
            "catch_up_calls": sum(r.calls for r in runs), "failed": sum(r.failed_calls for r in runs),
            "caught_up": caught_up, "compare": compare_orders(merchant, shop), "refunds": compare_refunds(conn, shop),
            "after_sales": after_sales, "outcomes": outcomes, "moved": moved, "errors": errors,
            "breaker": Connection.objects.get(pk=conn.pk).breaker_state,
            "seconds": phase.seconds, "busy": phase.busy, "steal": phase.steal}


# --- 3 and 4. latency -----------------------------------------------------------------------------------------

def douyin_live(shop: DouyinShop, merchant: Merchant, rate: float, seconds: float, seed: int) -> LiveOrders:
    """Live orders in the sandbox shop (order_create), watched for in merchant_order."""
    def create(lines):
        order = marketplace.order_create(shop, lines=lines)
        return order.shop_order_id, order.create_time.timestamp()

    return LiveOrders(merchant, rate, seconds, seed, create=create, codes=lambda: list(
        DouyinSku.objects.filter(product__shop=shop).values_list("code", flat=True)))


class Pusher:
    """The platform's side of push in the bench process: the shop's due messages delivered every `every` s."""

    def __init__(self, shop: DouyinShop, every: float):
        self.shop_id, self.every = shop.pk, every
        self.counts = {"delivered": 0, "failed": 0, "dropped": 0}
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            shop = DouyinShop.objects.get(pk=self.shop_id)
            while not self.stopping.wait(self.every):
                for name, n in push.messages_deliver(shop, timezone.now()).items():
                    self.counts[name] += n
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"delivering: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def push_latency(conn: Connection, merchant: Merchant, shop: DouyinShop, base: str, rate: float, seconds: float,
                 every: float) -> dict:
    # The stock the steady state's orders hold is due for a push (200 SKUs, one call each): not in the phase.
    backlog = drain(conn)
    print(f"push messages: first what the bulk phases left due for a push ({backlog['pushed']} rows in "
          f"{backlog['calls']} calls, not timed)", flush=True)
    DouyinShop.objects.filter(pk=shop.pk).update(callback_url=f"{base}/hooks/douyin/", push_enabled=True)
    worker, log = start_worker(["sync"], "worker")
    pusher = Pusher(shop, every)
    live = douyin_live(shop, merchant, rate, seconds, seed=20275000)
    print(f"push messages: {live.count} orders at {rate:g}/s; the bench delivers due messages every {every:g} s "
          f"to {base}/hooks/douyin/; `rqworker sync` runs sync_pushed_messages ...", flush=True)
    try:
        with Phase() as phase:
            pusher.thread.start()
            live.start()
            live.creating_done.wait()
            deadline = time.monotonic() + 30
            while not live.all_seen() and time.monotonic() < deadline:
                time.sleep(0.2)
            live.stop()
    finally:
        pusher.stop()
        stop_process(worker)
        DouyinShop.objects.filter(pk=shop.pk).update(push_enabled=False)
    result = live.result()
    result.update(calls=calls_between(conn, phase.at0, phase.at1), seconds=phase.seconds, busy=phase.busy,
                  steal=phase.steal, pushed=pusher.counts, stored=PushedMessage.objects.filter(connection=conn).count(),
                  handled=PushedMessage.objects.filter(connection=conn, handled_at__isnull=False).count(),
                  worker_log=log_problems(log) + pusher.errors)
    if not result["worker_log"] and result["seen"] == result["orders"]:
        os.unlink(log)
    else:
        result["worker_log"].append(f"worker log: {log}")
    return result


def polling_alone(conn: Connection, merchant: Merchant, shop: DouyinShop, rate: float, minutes: float) -> dict:
    live = douyin_live(shop, merchant, rate, minutes * 60, seed=20276000)
    print(f"polling alone: {live.count} orders at {rate:g}/s over {minutes:g} min, orders_sync every "
          f"{POLL_EVERY:.0f} s, push off, no worker ...", flush=True)
    return polling_latency(conn, live, minutes)


# --- 5. stock -------------------------------------------------------------------------------------------------

class StockWatch:
    """Stock edits made here and their arrival on the sandbox SKU: a thread reads stock_num of the codes not yet
    seen every WATCH_EVERY s, with its own database connection."""

    def __init__(self, shop: DouyinShop):
        self.shop_id = shop.pk
        self.lock = threading.Lock()
        self.expected: dict[str, tuple[int, float]] = {}  # code -> (value, bench clock before stock_set)
        self.delays: list[float] = []
        self.changes = 0
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def expect(self, code: str, value: int, at: float) -> None:
        with self.lock:
            self.changes += 1
            self.expected[code] = (value, at)

    def pending(self) -> set[str]:
        with self.lock:
            return set(self.expected)

    def _watch(self) -> None:
        try:
            while not self.stopping.is_set():
                codes = list(self.pending())
                if codes:
                    found = dict(DouyinSku.objects.filter(product__shop_id=self.shop_id, code__in=codes)
                                 .values_list("code", "stock_num"))
                    now = time.monotonic()  # after the query returns: errs on the late side
                    with self.lock:
                        for code, value in found.items():
                            wanted = self.expected.get(code)
                            if wanted and value == wanted[0]:
                                self.delays.append(now - wanted[1])
                                del self.expected[code]
                self.stopping.wait(WATCH_EVERY)
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"watching: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def wait_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(WATCH_EVERY)


def disagreeing(merchant: Merchant, shop: DouyinShop) -> int:
    theirs = dict(DouyinSku.objects.filter(product__shop=shop).values_list("code", "stock_num"))
    return sum(1 for code, value in merchant.products.values_list("erp_product_id", "stock") if theirs.get(code) != value)


def stock_latency(merchant: Merchant, shop: DouyinShop, base: str, rate: float, seconds: float,
                  done: list[Connection]) -> dict:
    from merchant.sellable import sellable_stock

    products = list(merchant.products.order_by("erp_product_id"))
    sellable = sellable_stock(products, merchant)
    if any(sellable[p.pk] != p.stock for p in products):
        raise RuntimeError("the stock merchant's sellable stock is not its stock: the watcher would wait for "
                           "the wrong values")
    # The other bench connections are done: the dispatcher must not pull for them meanwhile.
    for other in done:
        disable(other)
    conn = connection_to(merchant, shop, base)
    # A shop connected for a while: its 90-day pull done, its SKUs found, their quantities checked, nothing due
    # (else the dispatcher's first jobs are that pull, the items refresh and the stock check, 200 calls each, and
    # the push of every SKU found, each holding the one worker for seconds).
    pulled_until(conn, timezone.now())
    located = items_sync(conn, trigger="bench")
    backlog = drain(conn)
    stock_check_sync(conn, trigger="bench")
    others = list(Connection.objects.filter(is_enabled=True, stopped_reason="").exclude(pk=conn.pk)
                  .values_list("pk", flat=True))
    connections.close_all()
    worker, worker_log = start_worker(["default", "sync"], "stock-worker")
    scheduler = scheduler_log = None
    dispatch_stop = threading.Event()
    if not others:
        # The scheduler with config/cron.py's dispatcher entry only: its other entries act on every merchant.
        scheduler, scheduler_log = start_logged(["scheduler", "--only", "sync_dispatch"], "scheduler")
        dispatcher = f"manage.py scheduler --only sync_dispatch (every {DISPATCH_EVERY} s)"
    else:
        from sync.enqueue import push_enqueue
        from sync.outbox import outbox_due

        # The real dispatcher would pull and push for those too: its push rule for the bench connection only.
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
                      f"({len(others)} other enabled connections in this database)")
    watch, rng, actor = StockWatch(shop), random.Random(20277), Actor.system(AuditSource.SYSTEM)
    count = max(1, round(rate * seconds))
    print(f"stock: {located['matched']} SKUs located on the shop and {backlog['pushed']} rows pushed first (not timed); "
          f"{count} stock_set edits at {rate:g}/s on {STOCK_CODE}; `rqworker default sync --with-scheduler` "
          f"and {dispatcher}; watching the sandbox SKUs every {WATCH_EVERY * 1000:.0f} ms ...", flush=True)
    try:
        watch.thread.start()
        with Phase() as phase:
            t0 = time.monotonic()
            for i in range(count):
                pause = t0 + i / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                busy = watch.pending()
                product = rng.choice([p for p in products if p.erp_product_id not in busy])
                value = rng.choice([v for v in range(0, 1000) if v != product.stock])
                at = time.monotonic()
                product = stock_set(product=product, quantity=value, actor=actor, reason="bench")
                watch.expect(product.erp_product_id, value, at)
                products = [product if p.pk == product.pk else p for p in products]
            # Up to two dispatcher cycles for the last edits: a lost job is found by the next dispatch.
            watch.wait_all(2 * DISPATCH_EVERY + 10)
    finally:
        watch.stopping.set()
        dispatch_stop.set()
        watch.thread.join(timeout=10)
        stop_process(scheduler)
        stop_process(worker)
    delays = watch.delays
    result = {"changes": watch.changes, "seen": len(delays), "p50": pct(delays, 50), "p95": pct(delays, 95),
              "max": max(delays, default=float("nan")), "calls": calls_between(conn, phase.at0, phase.at1),
              "disagree": disagreeing(merchant, shop), "dispatcher": dispatcher, "seconds": phase.seconds,
              "busy": phase.busy, "steal": phase.steal, "conn": conn.pk,
              "problems": watch.errors + log_problems(worker_log) + (log_problems(scheduler_log) if scheduler_log else [])}
    for path in filter(None, (worker_log, scheduler_log)):
        if result["problems"] or result["seen"] < result["changes"]:
            result["problems"].append(f"log kept: {path}")
        else:
            os.unlink(path)
    return result


# --- report ---------------------------------------------------------------------------------------------------

def report(args, server, steady, faults, msgs, poll, stock, run_cpu, total_s) -> None:
    print()
    print(f"{'phase':<44}{'orders':>8}{'calls':>7}{'calls/order':>13}{'wall s':>8}{'orders/s':>10}{'busy':>6}"
          f"{'steal':>6}")

    def row(label, orders, calls, seconds, busy, steal):
        per = f"{calls / orders:.5f}" if calls is not None and orders else "-"
        print(f"{label:<44}{orders:>8,}{'-' if calls is None else f'{calls:,}':>7}{per:>13}{seconds:>8.1f}"
              f"{orders / seconds:>10,.0f}{busy:>6.0%}{steal:>6.0%}")

    row(f"steady state, {steady['runs']} incremental runs", steady["orders"], steady["calls"], steady["seconds"],
        steady["busy"], steady["steal"])
    row(f"faults: {faults['runs']} runs + {TICKS + 1} x (orders + refunds)", faults["orders"], faults["calls"],
        faults["seconds"], faults["busy"], faults["steal"])
    row(f"push messages, {args.rate:g}/s for {args.message_seconds:g} s", msgs["orders"], msgs["calls"],
        msgs["seconds"], msgs["busy"], msgs["steal"])
    row(f"polling alone, {args.rate:g}/s for {args.poll_minutes:g} min", poll["orders"], poll["calls"],
        poll["seconds"], poll["busy"], poll["steal"])
    print("  (steady state: wall time of the incremental runs, through the gateway on this box; the other phases: "
          "every call and the whole phase's wall time)")
    print()
    print(f"{'new order -> visible in merchant_order, s':<44}{'n':>6}{'seen':>6}{'p50':>7}{'p95':>7}{'max':>7}"
          f"{'p95 vs sandbox created':>24}")
    for label, r in (("push messages", msgs), (f"polling alone (every {POLL_EVERY:.0f} s)", poll)):
        print(f"{label:<44}{r['orders']:>6}{r['seen']:>6}{r['p50']:>7.2f}{r['p95']:>7.2f}{r['max']:>7.2f}"
              f"{r['sandbox_p95']:>24.2f}")
    print("  (from the bench's clock just before order_create; the sandbox's create_time is whole seconds)")

    per_order = steady["calls"] / steady["orders"]
    c = steady["compare"]
    print()
    print(f"Douyin sync bars on PostgreSQL {server}, {os.cpu_count()} vCPUs:")
    print(f"  steady-state calls per order {per_order:.5f} <= 1.05 / {PAGE_SIZE} = {CALLS_BAR:.5f}: "
          f"{yes(per_order <= CALLS_BAR)} ({steady['calls']:,} calls for {steady['orders']:,} orders in "
          f"{steady['runs']} runs, {math.ceil(steady['orders'] / PAGE_SIZE):,} pages at the least; "
          f"{steady['fetched']:,} records fetched, {steady['failed']} failed calls)")
    print(f"    calls counted: run counters {steady['calls']:,}, ApiCall rows {steady['api_calls']:,} (with the "
          f"token call), sandbox call log {steady['sandbox_calls']:,}; per run {' '.join(map(str, steady['per_run']))}"
          f" for orders {' '.join(map(str, steady['orders_per_run']))}")
    print(f"  steady state stored {c['stored']:,} = {c['theirs']:,} in the sandbox, lost {c['lost']}, duplicated "
          f"{c['duplicated']}, stale {c['stale']}, extra {c['extra']}: {yes(exact(c))}")
    f, fc, fr = faults, faults["compare"], faults["refunds"]
    print(f"  with faults stored {fc['stored']:,} = {fc['theirs']:,} in the sandbox, lost {fc['lost']}, duplicated "
          f"{fc['duplicated']}, stale {fc['stale']}, extra {fc['extra']}: {yes(exact(fc))}")
    cu = f["caught_up"]
    print(f"    after the {f['runs']} catch-up runs under faults ({f['catch_up_calls']:,} calls, {f['failed']} failed): "
          f"lost {cu['lost']}, stale {cu['stale']}; sandbox answers {f['outcomes']}; {f['moved']} orders or "
          f"after-sales moved while pages were read; breaker {f['breaker']} at the end (the runs are "
          f"trigger=bench: incremental whatever the breaker says)")
    states = ", ".join(f"{AfterSaleStatus(s).label} {n}" for s, n in sorted(fr["by_state"].items()))
    print(f"  refund states right on {fr['right']}/{fr['lines']} lines with after-sales ({states}), wrong "
          f"{fr['wrong']}, missing {fr['missing']}: {yes(fr['lines'] > 0 and fr['right'] == fr['lines'])}")
    print(f"    ({f['after_sales']['opened']} opened, {f['after_sales']['refunded']} refunded, "
          f"{f['after_sales']['closed']} closed by the bench under faults; settled by page shifts too)")
    print(f"  push messages p95 {msgs['p95']:.2f} s <= {MESSAGE_P95_BAR:.0f} s: "
          f"{yes(msgs['p95'] <= MESSAGE_P95_BAR and msgs['seen'] == msgs['orders'])} (p50 {msgs['p50']:.2f} s, max "
          f"{msgs['max']:.2f} s; {msgs['seen']}/{msgs['orders']} orders seen)")
    print(f"    delivery driven by the bench process: messages_deliver(shop, now) every {args.push_every:g} s; "
          f"{msgs['pushed']['delivered']} delivered, {msgs['pushed']['failed']} not taken, "
          f"{msgs['pushed']['dropped']} dropped; {msgs['stored']} stored by /hooks/douyin/, {msgs['handled']} handled")
    print(f"  polling alone p95 {poll['p95']:.1f} s <= {POLL_P95_BAR:.0f} s: "
          f"{yes(poll['p95'] <= POLL_P95_BAR and poll['seen'] == poll['orders'])} (p50 {poll['p50']:.1f} s, max "
          f"{poll['max']:.1f} s; {poll['seen']}/{poll['orders']} orders seen; {poll['polls']} runs, the longest "
          f"{poll['poll_seconds']:.1f} s)")
    print(f"  stock on the marketplace p95 {stock['p95']:.2f} s <= {STOCK_P95_BAR:.0f} s: "
          f"{yes(stock['p95'] <= STOCK_P95_BAR and stock['seen'] == stock['changes'])} (p50 {stock['p50']:.2f} s, "
          f"max {stock['max']:.2f} s; {stock['seen']}/{stock['changes']} edits seen; {stock['calls']} calls; "
          f"{stock['disagree']} SKUs disagree at the end)")
    print(f"    {args.stock_rate:g} stock_set/s for {args.stock_seconds:g} s; dispatcher: {stock['dispatcher']}")
    for label, problems in (("faults", f["errors"][:5]), ("push", msgs["errors"] + msgs["worker_log"]),
                            ("polling", poll["errors"] + poll["poll_errors"]), ("stock", stock["problems"])):
        for problem in problems:
            print(f"  {label}: {problem}")
    print(f"  CPU over the run: {run_cpu[0]:.0%} busy, {run_cpu[1]:.0%} stolen by the hypervisor; "
          f"total run time {total_s / 60:.1f} min")


def main(args, server: str, started: float, cpu0) -> None:
    defaults(args)
    t0 = time.perf_counter()
    reset()
    merchant, fault_merchant, stock_merchant = (merchant_with_products(c) for c in (CODE, FAULT_CODE, STOCK_CODE))
    shop, fault_shop, stock_shop = (shop_with_skus(key, m) for key, m in (
        (APP_KEY, merchant), (FAULT_APP_KEY, fault_merchant), (STOCK_APP_KEY, stock_merchant)))
    print(f"database: PostgreSQL {server} ({db.settings_dict['NAME']}); bench merchants and Douyin shops made afresh "
          f"with {PRODUCTS} products each in {time.perf_counter() - t0:.1f} s", flush=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway, conns = None, []
    try:
        gateway = start_gateway(port)
        print(f"gateway: gunicorn (2 workers x 4 threads) at {base}/sandbox/douyin/ and {base}/hooks/douyin/",
              flush=True)
        conn, fault_conn = connection_to(merchant, shop, base), connection_to(fault_merchant, fault_shop, base)
        conns += [conn.pk, fault_conn.pk]
        steady = steady_state(conn, merchant, shop, args.orders, args.steady_minutes)
        faults = with_faults(fault_conn, fault_merchant, fault_shop, args.fault_orders, args.fault_minutes)
        disable(fault_conn)  # its pushes due must not hold the next phases' worker
        msgs = push_latency(conn, merchant, shop, base, args.rate, args.message_seconds, args.push_every)
        poll = polling_alone(conn, merchant, shop, args.rate, args.poll_minutes)
        stock = stock_latency(stock_merchant, stock_shop, base, args.stock_rate, args.stock_seconds,
                              done=[conn])
        conns.append(stock["conn"])
    finally:
        stop_process(gateway)
        redis_cleanup(conns)
        connections.close_all()
    report(args, server, steady, faults, msgs, poll, stock, busy_and_steal(cpu0, cpu_times()),
           time.perf_counter() - started)
