"""What bench/sync.py measures the same way for every marketplace: the gateway process, the bench merchants'
products, a phase's wall time and CPU share, and live orders (made at a rate while a watcher looks for them in
`merchant_order`) with the 60-second poller that must bring them in.

Imported by bench/sync.py (TOP) and bench/sync_douyin.py; Django is set up by the importer first.
"""
import math
import os
import random
import subprocess
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from django.db import connections
from django.utils import timezone

from _setup import busy_and_steal, cpu_times, pct, start_gunicorn
from vocabulary import DRUGS, FORMS
from merchant.models import ListingState, Merchant, Order, OrderSource, Product
from sync.models import ApiCall, Connection
from sync.pipelines import orders_sync

MESSAGE_P95_BAR = 5.0
POLL_P95_BAR = 75.0
POLL_EVERY = 60.0  # the scheduler's cadence for orders (Connection.orders_interval default)
WATCH_EVERY = 0.1
PRODUCTS = 200


# --- gateway -------------------------------------------------------------------------------------------------

def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    env.update({"SANDBOX_ENABLED": "1", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
                "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1",
                "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                # WhiteNoise's note that staticfiles/ was never collected (files are served from the apps)
                "PYTHONWARNINGS": "ignore:No directory at:UserWarning"})
    return env


def start_gateway(port: int) -> subprocess.Popen:
    return start_gunicorn(port, 2, 4, child_env())


# --- set-up --------------------------------------------------------------------------------------------------

def merchant_with_products(code: str) -> Merchant:
    merchant = Merchant.objects.create(code=code, name=f"Bench sync ({code})")
    Product.objects.bulk_create([
        Product(merchant=merchant, erp_product_id=f"SYNC-{i:05d}", name=f"{DRUGS[i % len(DRUGS)]}{FORMS[i % len(FORMS)]}",
                default_price=Decimal(150 + (i * 7919) % 19850).scaleb(-2), stock=50 + (i * 31) % 950,
                listing_state=ListingState.LISTED)
        for i in range(1, PRODUCTS + 1)
    ])
    return merchant


# --- measuring helpers ----------------------------------------------------------------------------------------

class Phase:
    """Wall time and the box's busy / stolen CPU share of one phase."""

    def __enter__(self):
        self.cpu0, self.t0 = cpu_times(), time.perf_counter()
        self.at0 = timezone.now()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.busy, self.steal = busy_and_steal(self.cpu0, cpu_times())
        self.at1 = timezone.now()
        return False


def calls_between(conn: Connection, start, end) -> int:
    return ApiCall.objects.filter(connection=conn, at__gte=start, at__lte=end).count()


def our_orders(merchant: Merchant):
    return Order.objects.filter(merchant=merchant, source=OrderSource.MARKETPLACE)


# --- live orders ----------------------------------------------------------------------------------------------

class LiveOrders:
    """Creates orders on the marketplace at `rate` per second (one thread) and watches `merchant_order` for their
    numbers (another thread). Each thread has its own database connection and closes it when done.

    codes() -> the SKU codes an order may use; create(lines) -> (order number, the marketplace's created time as
    a timestamp) for lines [(code, quantity)]. Both run in the creating thread."""

    def __init__(self, merchant: Merchant, rate: float, seconds: float, seed: int, *,
                 codes: Callable[[], list[str]], create: Callable[[list[tuple[str, int]]], tuple[str, float]]):
        self.merchant_id = merchant.pk
        self.codes, self.create = codes, create
        self.rate, self.count = rate, max(1, round(rate * seconds))
        self.rng = random.Random(seed)
        self.created: dict[str, float] = {}  # order number -> bench clock just before the marketplace's create
        self.sandbox_created: dict[str, float] = {}  # order number -> the sandbox's created (whole seconds)
        self.seen: dict[str, float] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.creating_done = threading.Event()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._create, daemon=True),
                        threading.Thread(target=self._watch, daemon=True)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def all_seen(self) -> bool:
        with self.lock:
            return self.creating_done.is_set() and len(self.seen) == len(self.created)

    def _create(self) -> None:
        try:
            codes = self.codes()
            t0 = time.monotonic()
            for i in range(self.count):
                pause = t0 + i / self.rate - time.monotonic()
                if pause > 0 and self.stopping.wait(pause):
                    break
                lines = [(code, self.rng.randint(1, 3)) for code in self.rng.sample(codes, self.rng.randint(1, 3))]
                at = time.time()
                number, sandbox_created = self.create(lines)
                with self.lock:
                    self.created[number] = at
                    self.sandbox_created[number] = sandbox_created
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"creating orders: {type(exc).__name__}: {exc}")
        finally:
            self.creating_done.set()
            connections.close_all()

    def _watch(self) -> None:
        try:
            while not self.stopping.is_set():
                with self.lock:
                    pending = [no for no in self.created if no not in self.seen]
                if pending:
                    found = list(Order.objects.filter(merchant_id=self.merchant_id, source=OrderSource.MARKETPLACE,
                                                      order_no__any=pending).values_list("order_no", flat=True))
                    # Taken after the query returns: the order may have been visible up to one query earlier,
                    # so this errs on the late side.
                    now = time.time()
                    with self.lock:
                        for no in found:
                            self.seen.setdefault(no, now)
                self.stopping.wait(WATCH_EVERY)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"watching: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    def result(self) -> dict:
        delays = [self.seen[no] - self.created[no] for no in self.seen]
        sandbox = [self.seen[no] - self.sandbox_created[no] for no in self.seen]
        return {"orders": len(self.created), "seen": len(self.seen), "p50": pct(delays, 50), "p95": pct(delays, 95),
                "max": max(delays, default=float("nan")), "sandbox_p95": pct(sandbox, 95), "errors": self.errors}


def polling_latency(conn: Connection, live: LiveOrders, minutes: float) -> dict:
    """`live` running while `orders_sync(connection, trigger="schedule")` runs as the poller would, until every
    order is in."""
    polls = []
    with Phase() as phase:
        live.start()
        t0 = time.monotonic()
        # The first run (at once) catches up with what came since the last phase, as the running poller would
        # have; then every POLL_EVERY seconds on the clock, whatever a run took, until every order is in.
        for i in range(math.ceil(minutes) + 4):
            pause = t0 + i * POLL_EVERY - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            started = time.perf_counter()
            summary = orders_sync(Connection.objects.get(pk=conn.pk), trigger="schedule")
            polls.append((time.perf_counter() - started, summary))
            time.sleep(2 * WATCH_EVERY)  # let the watcher look once more before judging
            if live.all_seen():
                break
        live.stop()
    result = live.result()
    result.update(calls=calls_between(conn, phase.at0, phase.at1), seconds=phase.seconds, busy=phase.busy,
                  steal=phase.steal, polls=len(polls), poll_seconds=max(s for s, _ in polls),
                  poll_errors=[e for _, summary in polls for e in summary["errors"]])
    return result
