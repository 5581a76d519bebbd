"""Marketplace sync (SPEC N, Sync efficiency: API calls per order pulled <= 1.05 / page_size in steady state and
>= 1,000 orders/s upserted; Latency: a new marketplace order in the back office within 5 s through the message
channel, 75 s by polling alone, p95).

Everything runs against the sandbox marketplace served by gunicorn (`/sandbox/top/router/rest`, SANDBOX_ENABLED=1)
on a free loopback port, through the real client, pipelines and consumer:
  1. steady state: --orders trades made over the last 10 minutes (a busy shop), the full pull marked done and the
     incremental checkpoint just before the first trade; then incremental runs as the 60-second poller would make
     them (`orders_pull_incremental(run, client, until=first + k minutes)`) until every trade is in. Calls per
     order (run counters, ApiCall rows and the sandbox's own call log), end-to-end orders/s, and a check that our
     orders are exactly the sandbox's (numbers and modified times);
  2. the upsert alone: the same trades read once from the sandbox (trades.sold.get, pages of 100) and given to
     `orders_upsert_marketplace` page by page on a fresh merchant, then again (all unchanged);
  3. for information, a 90-day full pull (day windows) of --orders trades spread over 90 days (its own shop and
     merchant);
  4. latency through the message channel: TMC on, trades created live at --rate per second for --message-seconds
     while `manage.py messages_consume` runs in its own process; no polling;
  5. latency by polling alone: TMC off, no consumer, trades created live at --rate per second for --poll-minutes
     while `orders_sync(connection, trigger="schedule")` runs every 60 s, until every trade is in.
Latency = the moment a watcher (polling `merchant_order` every 100 ms) first sees the order number - the bench's
clock just before `trade_create` (the sandbox's `created` is truncated to the second).

Merchants `bench_sync`, `bench_sync_upsert`, `bench_sync_full` and sandbox shops `bench-sync`, `bench-sync-full`
are deleted with everything attached and made again at the start; nothing else in the database is touched.

`--platform douyin` measures the same bars against the sandbox Douyin shop instead (bench/sync_douyin.py: steady
state, orders and refunds under faults, push messages, polling alone, stock); what both measure alike (gateway,
phases, live orders and the poller) is in bench/sync_live.py.

Usage:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python bench/sync.py [--orders 20000] [--poll-minutes 3] [--message-seconds 60] [--rate 2]
    ... bench/sync.py --platform douyin [--orders 6000] [--steady-minutes 3] [--fault-orders 2000]
        [--poll-minutes 2] [--message-seconds 60] [--push-every 0.5] [--stock-seconds 60] [--stock-rate 1]
"""
import argparse
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import (  # noqa: E402
    REPO, busy_and_steal, cpu_times, delete_tree, django_setup, free_port, stop_process, yes,
)

django_setup()

from django.db import connection as db, connections, transaction  # noqa: E402
from django.db.models import Max, Min  # noqa: E402
from django.utils import timezone  # noqa: E402

from merchant.models import AuditSource, Merchant  # noqa: E402
from merchant.permissions import Actor  # noqa: E402
from merchant.services.marketplace_orders import UpsertCounts, orders_upsert_marketplace  # noqa: E402
from sync.marketplaces.top import mapping  # noqa: E402
from sync.marketplaces.top.client import TopClient  # noqa: E402
from sync.marketplaces.top.times import to_top  # noqa: E402
from sync.models import ApiCall, Checkpoint, Connection, SyncModule  # noqa: E402
from sync.marketplaces.top.adapter import PAGE_SIZE, SOLD, TRADE_TYPES, TopMarketplace  # noqa: E402
from sync.pipelines.orders import orders_pull_incremental  # noqa: E402
from sync.pipelines import orders_sync  # noqa: E402
from sync.runs import checkpoint_for, run_of  # noqa: E402
from sync.marketplaces.top.sandbox import marketplace  # noqa: E402
from sync.marketplaces.top.sandbox.models import SandboxCall, SandboxShop, SandboxSku, SandboxTrade  # noqa: E402
from sync.marketplaces.top.services import connection_create  # noqa: E402
from sync_live import (  # noqa: E402
    MESSAGE_P95_BAR, POLL_EVERY, POLL_P95_BAR, PRODUCTS, LiveOrders, Phase, calls_between, child_env,
    merchant_with_products, our_orders, polling_latency, start_gateway,
)

CALLS_BAR = 1.05 / PAGE_SIZE
UPSERT_BAR = 1000.0

CODE, UPSERT_CODE, FULL_CODE = "bench_sync", "bench_sync_upsert", "bench_sync_full"
APP_KEY, FULL_APP_KEY = "bench-sync", "bench-sync-full"
APP_SECRET, SESSION = "bench-sync-secret", "bench-sync-session"
STEADY_SPAN = timedelta(minutes=10)
# trades_generate caps a paid trade's later times (and so its `modified`) at `end`: over one 10-minute span
# nine trades in ten would share its last second. Short slices keep `modified` spread as a busy shop's is.
SLICE = timedelta(seconds=10)
FULL_DAYS = 90


# --- set-up: merchants, shops, connections --------------------------------------------------------------------

def reset() -> None:
    """Delete the bench's merchants and sandbox shops with everything attached (and nobody else's)."""
    with transaction.atomic(), db.cursor() as cur:
        for pk in Merchant.objects.filter(code__in=[CODE, UPSERT_CODE, FULL_CODE]).values_list("pk", flat=True):
            delete_tree(cur, Merchant._meta.db_table, "id = %s", [pk])
        for pk in SandboxShop.objects.filter(app_key__in=[APP_KEY, FULL_APP_KEY]).values_list("pk", flat=True):
            delete_tree(cur, SandboxShop._meta.db_table, "id = %s", [pk])


def shop_with_items(app_key: str, merchant: Merchant) -> SandboxShop:
    shop = marketplace.shop_create(app_key=app_key, app_secret=APP_SECRET, session=SESSION, nick=f"{app_key}-shop")
    products = merchant.products.order_by("erp_product_id")
    marketplace.items_from_products(shop, [(p.erp_product_id, p.name, p.default_price, p.stock) for p in products])
    return shop


def connection_to(merchant: Merchant, app_key: str, base_url: str) -> Connection:
    # A budget far above what the bench uses: the bars are about our calls, not about waiting for the budget.
    return connection_create(
        merchant=merchant, actor=Actor.system(AuditSource.SYSTEM), app_secret=APP_SECRET, session=SESSION,
        name=f"Bench sandbox ({app_key})", gateway_url=f"{base_url}/sandbox/top", app_key=app_key,
        sign_method="hmac-sha256", calls_per_minute=100_000, orders_interval=int(POLL_EVERY),
    )


# --- measuring helpers ----------------------------------------------------------------------------------------

def same_orders(merchant: Merchant, shop: SandboxShop) -> tuple[int, int, int, bool]:
    """(ours, distinct order numbers of ours, the sandbox's, same order numbers and modified times)."""
    ours = list(our_orders(merchant).values_list("order_no", "modified_at"))
    theirs = {(str(tid), modified) for tid, modified in SandboxTrade.objects.filter(shop=shop)
              .values_list("tid", "modified")}
    return len(ours), len({no for no, _ in ours}), len(theirs), set(ours) == theirs


# --- 1. steady state ------------------------------------------------------------------------------------------

def generate_steady(shop: SandboxShop, count: int, span: timedelta) -> float:
    end = timezone.now().replace(microsecond=0)
    start = end - span
    slices = int(span / SLICE)
    t0 = time.perf_counter()
    for i in range(slices):
        share = count * (i + 1) // slices - count * i // slices
        first = start + i * SLICE
        marketplace.trades_generate(shop, share, start=first, end=first + SLICE - timedelta(seconds=1),
                                    seed=20260000 + i)
    return time.perf_counter() - t0


def steady_state(conn: Connection, merchant: Merchant, shop: SandboxShop, count: int, span: timedelta) -> dict:
    gen_s = generate_steady(shop, count, span)
    bounds = SandboxTrade.objects.filter(shop=shop).aggregate(first=Min("modified"), last=Max("modified"))
    first, last = bounds["first"], bounds["last"]
    now = timezone.now()
    Checkpoint.objects.filter(pk=checkpoint_for(conn, SyncModule.ORDERS_FULL).pk).update(position=now, completed_at=now)
    Checkpoint.objects.filter(pk=checkpoint_for(conn, SyncModule.ORDERS).pk).update(
        position=first - timedelta(seconds=1))
    print(f"steady state: {count:,} trades generated over {span.total_seconds() / 60:.0f} minutes "
          f"(modified {to_top(first)} .. {to_top(last)} GMT+8) in {gen_s:.1f} s; pulling ...", flush=True)
    runs = []
    with Phase() as phase:
        position, k = first - timedelta(seconds=1), 0
        while position < last:
            k += 1
            # The poller's windows end where a run every minute would end them; never past now. A run that would
            # end before the last trade has settled waits for it, as the poller would run later (with few trades
            # the pull reaches now within seconds of the generation).
            until = first + timedelta(minutes=k)
            settled = last + TopMarketplace.windows.settle + timedelta(seconds=1)
            ahead = (min(until, settled) - timezone.now()).total_seconds()
            if ahead > 0:
                time.sleep(ahead)
            until = min(until, timezone.now())
            with run_of(conn, SyncModule.ORDERS, mode="incremental", trigger="bench") as run:
                client = TopClient(conn, counter=run.counter)
                orders_pull_incremental(run, TopMarketplace(conn, client=client), until=until)
            position = run.checkpoint.position
            runs.append(run.record)
            if k > span / timedelta(minutes=1) + 5:
                raise RuntimeError(f"the checkpoint is stuck at {position} after {k} runs")
    calls = sum(r.calls for r in runs)
    stored, distinct, theirs, same = same_orders(merchant, shop)
    return {
        "orders": theirs, "stored": stored, "distinct": distinct, "same": same, "runs": len(runs),
        "calls": calls, "api_calls": ApiCall.objects.filter(connection=conn).count(),
        "sandbox_calls": SandboxCall.objects.filter(shop=shop).count(),
        "failed": sum(r.failed_calls for r in runs), "fetched": sum(r.fetched for r in runs),
        "created": sum(r.created for r in runs), "updated": sum(r.updated for r in runs),
        "per_run": [r.calls for r in runs], "orders_per_run": [r.fetched for r in runs],
        "seconds": phase.seconds, "busy": phase.busy, "steal": phase.steal,
    }


# --- 2. the upsert alone --------------------------------------------------------------------------------------

def read_pages(conn: Connection, shop: SandboxShop) -> list[list[mapping.Trade]]:
    """Every trade of the shop as the list calls map them, in pages of PAGE_SIZE (read once, not timed)."""
    span = SandboxTrade.objects.filter(shop=shop).aggregate(first=Min("created"), last=Max("created"))
    params = {"start_created": to_top(span["first"]), "end_created": to_top(span["last"]), "type": TRADE_TYPES,
              "use_has_next": "true", "fields": mapping.TRADE_FIELDS, "page_size": PAGE_SIZE}
    client, pages, page_no = TopClient(conn), [], 1
    while True:
        body = client.call_with_retry(SOLD, {**params, "page_no": page_no})
        page = mapping.trades_from_page(body)
        if page:
            pages.append(page)
        if str(body.get("has_next", "false")).lower() != "true" or not page:
            return pages
        page_no += 1


def upsert_alone(conn: Connection, shop: SandboxShop) -> dict:
    pages = read_pages(conn, shop)
    n = sum(len(p) for p in pages)
    print(f"upsert alone: {n:,} trades read in {len(pages)} pages; upserting into a fresh merchant ...", flush=True)
    results = {}
    for label in ("fresh", "again"):
        counts = UpsertCounts()
        with Phase() as phase:
            for page in pages:
                counts.add(orders_upsert_marketplace(connection=conn, trades=page))
        results[label] = {"orders": n, "seconds": phase.seconds, "busy": phase.busy, "steal": phase.steal,
                          "created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged}
    results["stored"] = our_orders(conn.merchant).count()
    return results


# --- 3. full pull (information) -------------------------------------------------------------------------------

def full_pull(conn: Connection, merchant: Merchant, shop: SandboxShop, count: int) -> dict:
    now = timezone.now()
    t0 = time.perf_counter()
    marketplace.trades_generate(shop, count, start=now - timedelta(days=FULL_DAYS) + timedelta(hours=1),
                                end=now - timedelta(hours=1), seed=20269000)
    print(f"full pull: {count:,} trades generated over {FULL_DAYS} days in {time.perf_counter() - t0:.1f} s; "
          f"pulling ...", flush=True)
    with Phase() as phase:
        summary = orders_sync(conn, full=True, trigger="bench")
    stored, distinct, theirs, same = same_orders(merchant, shop)
    return {"orders": theirs, "stored": stored, "distinct": distinct, "same": same, "calls": summary["calls"],
            "windows": summary["windows"], "outcome": summary["outcome"], "seconds": phase.seconds,
            "busy": phase.busy, "steal": phase.steal}


# --- 4 and 5. latency -----------------------------------------------------------------------------------------

def messages_latency(conn: Connection, merchant: Merchant, shop: SandboxShop, rate: float, seconds: float) -> dict:
    marketplace.tmc_permit(shop)  # the shop publishes from now on (the consumer also asks, as it would)
    log = tempfile.NamedTemporaryFile(prefix="bench-sync-consumer-", suffix=".log", delete=False)
    consumer = subprocess.Popen(
        [sys.executable, "manage.py", "messages_consume", "--connection", str(conn.pk), "--idle-sleep", "0.2"],
        cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    try:
        ready, _, _ = select.select([consumer.stdout], [], [], 60)
        if not ready or "consuming" not in (consumer.stdout.readline() or ""):
            raise RuntimeError(f"the consumer did not start within 60 s; see {log.name}")
        live = top_live(shop, merchant, rate, seconds, seed=20265000)
        print(f"message channel: {live.count} trades at {rate:g}/s, `messages_consume` in its own process ...",
              flush=True)
        with Phase() as phase:
            live.start()
            live.creating_done.wait()
            deadline = time.monotonic() + 30
            while not live.all_seen() and time.monotonic() < deadline:
                time.sleep(0.2)
            live.stop()
    finally:
        stop_process(consumer)
        SandboxShop.objects.filter(pk=shop.pk).update(tmc_enabled=False)
    stderr = Path(log.name).read_text(errors="replace").strip()
    os.unlink(log.name)
    result = live.result()
    result.update(calls=calls_between(conn, phase.at0, phase.at1), seconds=phase.seconds, busy=phase.busy,
                  steal=phase.steal, consumer_log=stderr.splitlines()[-3:])
    return result


def top_live(shop: SandboxShop, merchant: Merchant, rate: float, seconds: float, seed: int) -> LiveOrders:
    """Live trades in the sandbox shop (trade_create), watched for in merchant_order."""
    def create(lines):
        trade = marketplace.trade_create(shop, lines=lines)
        return str(trade.tid), trade.created.timestamp()

    return LiveOrders(merchant, rate, seconds, seed, create=create, codes=lambda: list(
        SandboxSku.objects.filter(item__shop=shop).values_list("outer_sku_id", flat=True)))


def polling_alone(conn: Connection, merchant: Merchant, shop: SandboxShop, rate: float, minutes: float) -> dict:
    live = top_live(shop, merchant, rate, minutes * 60, seed=20266000)
    print(f"polling alone: {live.count} trades at {rate:g}/s over {minutes:g} min, orders_sync every "
          f"{POLL_EVERY:.0f} s, no consumer ...", flush=True)
    return polling_latency(conn, live, minutes)


# --- report ---------------------------------------------------------------------------------------------------

def report(args, server, steady, upsert, full, msgs, poll, run_cpu, total_s) -> None:
    print()
    print(f"{'phase':<40}{'orders':>8}{'calls':>7}{'calls/order':>13}{'wall s':>8}{'orders/s':>10}{'busy':>6}"
          f"{'steal':>6}")

    def row(label, orders, calls, seconds, busy, steal):
        per = f"{calls / orders:.5f}" if calls is not None and orders else "-"
        print(f"{label:<40}{orders:>8,}{'-' if calls is None else f'{calls:,}':>7}{per:>13}{seconds:>8.1f}"
              f"{orders / seconds:>10,.0f}{busy:>6.0%}{steal:>6.0%}")

    row(f"steady state, {steady['runs']} incremental runs", steady["orders"], steady["calls"], steady["seconds"],
        steady["busy"], steady["steal"])
    row("upsert alone, fresh merchant", upsert["fresh"]["orders"], None, upsert["fresh"]["seconds"],
        upsert["fresh"]["busy"], upsert["fresh"]["steal"])
    row("upsert alone again, all unchanged", upsert["again"]["orders"], None, upsert["again"]["seconds"],
        upsert["again"]["busy"], upsert["again"]["steal"])
    row(f"full pull, {FULL_DAYS} days (information)", full["orders"], full["calls"], full["seconds"], full["busy"],
        full["steal"])
    row(f"message channel, {args.rate:g}/s for {args.message_seconds:g} s", msgs["orders"], msgs["calls"],
        msgs["seconds"], msgs["busy"], msgs["steal"])
    row(f"polling alone, {args.rate:g}/s for {args.poll_minutes:g} min", poll["orders"], poll["calls"],
        poll["seconds"], poll["busy"], poll["steal"])
    print("  (steady state: wall time of the incremental runs, orders/s end to end through the gateway on this box;"
          " message channel and polling: calls include the idle consume calls and every poll, wall time the whole"
          " phase)")
    print()
    print(f"{'new order -> visible in merchant_order, s':<44}{'n':>6}{'seen':>6}{'p50':>7}{'p95':>7}{'max':>7}"
          f"{'p95 vs sandbox created':>24}")
    for label, r in (("message channel", msgs), (f"polling alone (every {POLL_EVERY:.0f} s)", poll)):
        print(f"{label:<44}{r['orders']:>6}{r['seen']:>6}{r['p50']:>7.2f}{r['p95']:>7.2f}{r['max']:>7.2f}"
              f"{r['sandbox_p95']:>24.2f}")
    print("  (from the bench's clock just before trade_create; the sandbox's created is whole seconds, so the last"
          " column can be up to 1 s more)")

    calls_per_order = steady["calls"] / steady["orders"]
    fresh = upsert["fresh"]
    fresh_rate = fresh["orders"] / fresh["seconds"]
    again_rate = upsert["again"]["orders"] / upsert["again"]["seconds"]
    print()
    print(f"Sync bars on PostgreSQL {server}, {os.cpu_count()} vCPUs:")
    overlap = steady["runs"]
    print(f"  steady-state calls per order {calls_per_order:.5f} <= 1.05 / {PAGE_SIZE} = {CALLS_BAR:.5f}: "
          f"{yes(calls_per_order <= CALLS_BAR)} ({steady['calls']:,} calls for {steady['orders']:,} orders in "
          f"{steady['runs']} runs: {overlap} overlap checks + {steady['calls'] - overlap:,} list pages, "
          f"{math.ceil(steady['orders'] / PAGE_SIZE):,} pages at the least; {steady['fetched']:,} records fetched, "
          f"{steady['failed']} failed calls)")
    print(f"    calls counted: run counters {steady['calls']:,}, ApiCall rows {steady['api_calls']:,}, sandbox call "
          f"log {steady['sandbox_calls']:,}; per run {' '.join(map(str, steady['per_run']))} for orders "
          f"{' '.join(map(str, steady['orders_per_run']))}")
    print(f"  upsert {fresh_rate:,.0f} orders/s >= {UPSERT_BAR:,.0f}: {yes(fresh_rate >= UPSERT_BAR)} "
          f"({fresh['orders']:,} orders in pages of {PAGE_SIZE}, {fresh['seconds']:.2f} s; again, unchanged: "
          f"{again_rate:,.0f} orders/s)")
    upsert_ok = (fresh["created"], upsert["again"]["unchanged"], upsert["stored"]) == (fresh["orders"],) * 3 \
        and fresh["updated"] == upsert["again"]["created"] == upsert["again"]["updated"] == 0
    print(f"    counts: fresh {fresh['created']:,} created / {fresh['updated']:,} updated, again "
          f"{upsert['again']['unchanged']:,} unchanged / {upsert['again']['created'] + upsert['again']['updated']:,}"
          f" other, {upsert['stored']:,} stored: {yes(upsert_ok)}")
    steady_ok = steady["stored"] == steady["distinct"] == steady["orders"] and steady["same"]
    print(f"  steady state stored {steady['stored']:,} orders ({steady['distinct']:,} distinct numbers) = "
          f"{steady['orders']:,} in the sandbox, same numbers and modified times: {yes(steady_ok)} "
          f"({steady['created']:,} created, {steady['updated']:,} updated)")
    print(f"  message channel p95 {msgs['p95']:.2f} s <= {MESSAGE_P95_BAR:.0f} s: "
          f"{yes(msgs['p95'] <= MESSAGE_P95_BAR and msgs['seen'] == msgs['orders'])} (p50 {msgs['p50']:.2f} s, max "
          f"{msgs['max']:.2f} s; {msgs['seen']}/{msgs['orders']} orders seen)")
    print(f"  polling alone p95 {poll['p95']:.1f} s <= {POLL_P95_BAR:.0f} s: "
          f"{yes(poll['p95'] <= POLL_P95_BAR and poll['seen'] == poll['orders'])} (p50 {poll['p50']:.1f} s, max "
          f"{poll['max']:.1f} s; {poll['seen']}/{poll['orders']} orders seen; {poll['polls']} runs, the longest "
          f"{poll['poll_seconds']:.1f} s)")
    full_ok = full["stored"] == full["distinct"] == full["orders"] and full["same"] and full["outcome"] == "ok"
    print(f"  full pull (information): {full['calls'] / full['orders']:.5f} calls per order ({full['calls']:,} calls,"
          f" {full['windows']} day windows), {full['orders'] / full['seconds']:,.0f} orders/s; "
          f"{full['stored']:,} stored = {full['orders']:,} in the sandbox: {yes(full_ok)}")
    for label, problems in (("message channel", msgs["errors"] + msgs["consumer_log"]),
                            ("polling", poll["errors"] + poll["poll_errors"])):
        for problem in problems:
            print(f"  {label}: {problem}")
    print(f"  CPU over the run: {run_cpu[0]:.0%} busy, {run_cpu[1]:.0%} stolen by the hypervisor; "
          f"total run time {total_s / 60:.1f} min")


def arguments():
    parser = argparse.ArgumentParser(description="marketplace sync: calls per order, upsert rate, order latency")
    parser.add_argument("--platform", choices=("top", "douyin"), default="top",
                        help="the sandbox marketplace measured (douyin: bench/sync_douyin.py)")
    parser.add_argument("--orders", type=int, help="orders for the steady state (and TOP's full pull); "
                        "default 20000 for top, 6000 for douyin")
    parser.add_argument("--poll-minutes", type=float, help="live orders for the polling-alone phase; default 3 "
                        "for top, 2 for douyin")
    parser.add_argument("--message-seconds", type=float, help="live orders for the message / push phase; "
                        "default 60")
    parser.add_argument("--rate", type=float, default=2, help="live orders created per second")
    parser.add_argument("--steady-minutes", type=float, help="the steady state's --orders are modified over this "
                        "many minutes (one poll each); default 10 for top, 3 for douyin")
    douyin = parser.add_argument_group("douyin only")
    douyin.add_argument("--fault-orders", type=int, default=2000, help="orders for the correctness phase")
    douyin.add_argument("--fault-minutes", type=float, default=2, help="... modified over this many minutes")
    douyin.add_argument("--push-every", type=float, default=0.5,
                        help="seconds between the bench's deliveries of the sandbox's due push messages")
    douyin.add_argument("--stock-seconds", type=float, default=60, help="stock edits for the stock phase")
    douyin.add_argument("--stock-rate", type=float, default=1, help="stock edits per second")
    args = parser.parse_args()
    if args.platform == "top":
        for name, value in (("orders", 20_000), ("poll_minutes", 3), ("message_seconds", 60),
                            ("steady_minutes", STEADY_SPAN / timedelta(minutes=1))):
            if getattr(args, name) is None:
                setattr(args, name, value)
    return args


def main():
    args = arguments()
    if db.vendor != "postgresql":
        sys.exit(f"The sync bars are measured on PostgreSQL; this database is {db.vendor}. Set "
                 "DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench.")
    from django.core.management import call_command

    started, cpu0 = time.perf_counter(), cpu_times()
    call_command("migrate", verbosity=0)
    with db.cursor() as cur:
        cur.execute("SHOW server_version")
        server = cur.fetchone()[0].split()[0]
    # gunicorn runs in its own session: a SIGTERM to us must still stop it (the finally blocks do)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.platform == "douyin":
        import sync_douyin

        sync_douyin.main(args, server, started, cpu0)
        return
    t0 = time.perf_counter()
    reset()
    merchant, upsert_merchant, full_merchant = (merchant_with_products(c) for c in (CODE, UPSERT_CODE, FULL_CODE))
    shop, full_shop = shop_with_items(APP_KEY, merchant), shop_with_items(FULL_APP_KEY, full_merchant)
    print(f"database: PostgreSQL {server} ({db.settings_dict['NAME']}); bench merchants and shops made afresh with "
          f"{PRODUCTS} products each in {time.perf_counter() - t0:.1f} s", flush=True)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = None
    try:
        gateway = start_gateway(port)
        print(f"gateway: gunicorn (2 workers x 4 threads) at {base}/sandbox/top/router/rest", flush=True)
        conn = connection_to(merchant, APP_KEY, base)
        steady = steady_state(conn, merchant, shop, args.orders, timedelta(minutes=args.steady_minutes))
        upsert = upsert_alone(connection_to(upsert_merchant, APP_KEY, base), shop)
        full = full_pull(connection_to(full_merchant, FULL_APP_KEY, base), full_merchant, full_shop, args.orders)
        msgs = messages_latency(conn, merchant, shop, args.rate, args.message_seconds)
        poll = polling_alone(conn, merchant, shop, args.rate, args.poll_minutes)
    finally:
        stop_process(gateway)
        connections.close_all()
    report(args, server, steady, upsert, full, msgs, poll, busy_and_steal(cpu0, cpu_times()),
           time.perf_counter() - started)


if __name__ == "__main__":
    main()
