"""Per-merchant concurrency of background jobs: at most MERCHANT_MAX_CONCURRENT_JOBS jobs of one merchant run
at once across all workers, so one tenant's slow ERP or big imports never hold every worker.

A slot is a member of a Redis sorted set per merchant, scored by when it lapses; the job renews it from a
heartbeat thread while it runs, so a slot whose worker died frees itself after MERCHANT_SLOT_SECONDS (no
clean-up needed). Losing Redis loses only slots: the database stays the truth of the work, and a job lost
with it is derived again by the dispatcher (sync) or the import recovery.
"""
import logging
import threading
import time
import uuid
from contextlib import contextmanager

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Retry

log = logging.getLogger(__name__)

# How many times a job is put back before RQ gives it up (then the dispatcher or the import recovery finds
# its work in the database again); at MERCHANT_DEFER_SECONDS apart, over an hour of waiting.
MAX_DEFERRALS = 1000

# Drop lapsed slots, then take one if fewer than the limit are held: atomic, so two workers starting jobs of
# one merchant at the same moment cannot both take the last slot.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


def slots_key(merchant_id: int) -> str:
    return f"mh:slots:{merchant_id}"


def _redis():
    return django_rq.get_connection("default")


def _lapse(now: float | None = None) -> float:
    return (now or time.time()) + settings.MERCHANT_SLOT_SECONDS


def slots_held(merchant_id: int) -> int:
    """How many of the merchant's slots are held now (lapsed ones not counted)."""
    return _redis().zcount(slots_key(merchant_id), time.time(), "+inf")


class _Heartbeat(threading.Thread):
    """Renews one slot until stopped; dies with the work horse, which is what lets the slot lapse."""

    def __init__(self, key: str, token: str):
        super().__init__(name=f"slot-{token[:8]}", daemon=True)
        self.key, self.token = key, token
        self.stopped = threading.Event()

    def run(self) -> None:
        every = max(settings.MERCHANT_SLOT_SECONDS / 3, 0.5)
        while not self.stopped.wait(every):
            self.beat()

    def beat(self) -> None:
        try:
            # XX: a slot that lapsed and was dropped meanwhile (this process was frozen) is not taken back,
            # which could exceed the limit; the job finishes without one.
            redis = _redis()
            redis.zadd(self.key, {self.token: _lapse()}, xx=True)
            redis.pexpire(self.key, int(settings.MERCHANT_SLOT_SECONDS * 2000))
        except RedisError:
            log.warning("could not renew job slot %s", self.key)


class Slot:
    """What merchant_slot yields: true when the slot is held (then `heartbeat` renews it)."""

    def __init__(self, heartbeat: _Heartbeat | None = None, held: bool = True):
        self.heartbeat, self.held = heartbeat, held

    def __bool__(self) -> bool:
        return self.held


@contextmanager
def merchant_slot(merchant_id: int):
    """Yield a true Slot holding one of the merchant's job slots, or a false one when all are taken (then do
    not run). Without Redis the job runs: the limit is a fairness rule, not a correctness one."""
    key, token = slots_key(merchant_id), uuid.uuid4().hex
    try:
        taken = bool(_redis().eval(_ACQUIRE, 1, key, time.time(), settings.MERCHANT_MAX_CONCURRENT_JOBS,
                                   _lapse(), token, int(settings.MERCHANT_SLOT_SECONDS * 2000)))
    except RedisError:
        log.warning("job slots unavailable; running the job of merchant %s without one", merchant_id)
        yield Slot()
        return
    if not taken:
        yield Slot(held=False)
        return
    heartbeat = _Heartbeat(key, token)
    heartbeat.start()
    try:
        yield Slot(heartbeat)
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
        try:
            _redis().zrem(key, token)
        except RedisError:
            pass  # it lapses by itself


def deferred() -> Retry:
    """What a job returns to be put back: RQ schedules the same job (same id, so the dispatcher sees it
    waiting and queues no second one) MERCHANT_DEFER_SECONDS later, and the worker moves on."""
    return Retry(max=MAX_DEFERRALS, interval=max(settings.MERCHANT_DEFER_SECONDS, 1))
