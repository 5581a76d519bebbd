"""The scheduler (`manage.py scheduler`): queues each periodic job of config/cron.py once per tick, however many
schedulers run on however many machines. Not to be confused with sync.schedule, the dispatcher it queues.

Each job has a SchedulerTick row holding its next tick. A scheduler dispatches a due tick in one transaction: a
conditional update moves `due_at` on (only one scheduler's update still finds the old value; on PostgreSQL the
others wait for the first one's row lock, on SQLite for its write lock, then find it moved), then the job is
queued under an id naming the tick, which Redis takes only once. A scheduler dying between the two rolls its
transaction back and the next one claims the same tick; if the job reached Redis before the death, the unique id
turns the second enqueue down. So every tick is queued exactly once, no scheduler is a leader, and the ticks of
a dead one are dispatched by the others on their next poll (SCHEDULER_POLL_SECONDS).

Ticks lie on a grid from a job's first tick (first, first + interval, ...). Ticks missed while no scheduler ran
are not queued one by one afterwards: the next claim queues the job once and moves to the first grid point
after now, since every periodic job derives its work from the database and one run catches up.
"""
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

import django_rq
from django.conf import settings
from django.db import Error as DatabaseError, connection, connections, transaction
from django.db.models import Max
from django.utils import timezone
from redis.exceptions import RedisError
from rq.exceptions import DuplicateJobError

from .models import SchedulerTick

log = logging.getLogger(__name__)

# How long PostgreSQL lets a claim's transaction sit idle (waiting on Redis) before ending its session. A claimant
# whose machine vanished mid-claim holds its row lock until then, not until TCP notices (hours); the other
# schedulers wait that long for the row, well inside the shortest interval of config/cron.py (15 s).
CLAIM_IDLE_LIMIT = "10s"


@dataclass(frozen=True)
class Periodic:
    """One periodic job of config/cron.py: `func` queued on `queue` every `every` seconds."""

    func: Callable
    every: float
    queue: str = "default"

    @property
    def name(self) -> str:
        """The job's dotted path: its SchedulerTick row and what `scheduler --only` takes."""
        return f"{self.func.__module__}.{self.func.__qualname__}"

    def interval(self) -> timedelta:
        return timedelta(seconds=settings.SCHEDULER_INTERVAL_SECONDS or self.every)


def periodic_jobs(only: Iterable[str] = ()) -> list[Periodic]:
    """The jobs of config/cron.py, or those of them named in `only` (dotted path or function name).
    Raises ValueError naming any name that is not there."""
    from config.cron import PERIODIC  # config.cron imports this module for Periodic

    only = list(only)
    if not only:
        return list(PERIODIC)
    chosen = [job for job in PERIODIC if job.name in only or job.func.__name__ in only]
    unknown = [name for name in only if not any(name in (job.name, job.func.__name__) for job in chosen)]
    if unknown:
        raise ValueError(f"not in config/cron.py: {', '.join(unknown)}")
    return chosen


def scheduler_claimant() -> str:
    """This scheduler's name in `claimed_by`: where to look for it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def tick_job_id(job: Periodic, due_at: datetime) -> str:
    """The RQ job id of one tick of `job`: the same for every scheduler, so Redis takes it once."""
    return f"tick-{job.name.replace('.', '_')}-{due_at.astimezone(dt_timezone.utc):%Y%m%dT%H%M%S%f}"


def next_tick(due_at: datetime, interval: timedelta, now: datetime) -> datetime:
    """The first tick of the grid through `due_at` that is later than `now` (and than `due_at`)."""
    missed = max((now - due_at) // interval, 0)
    return due_at + (missed + 1) * interval


def ticks_ensure(jobs: Iterable[Periodic], *, now: datetime | None = None) -> None:
    """Give every job a row, its first tick due now, and bring forward a tick set under a longer interval."""
    now = now or timezone.now()
    jobs = list(jobs)
    SchedulerTick.objects.bulk_create([SchedulerTick(name=job.name, due_at=now) for job in jobs],
                                      ignore_conflicts=True)
    for job in jobs:
        # Two intervals, not one: the clock of the machine that set `due_at` may run a little ahead of this one's.
        SchedulerTick.objects.filter(name=job.name, due_at__gt=now + 2 * job.interval()).update(due_at=now)


def _bound_idle_claim() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL idle_in_transaction_session_timeout = '{CLAIM_IDLE_LIMIT}'")


def tick_dispatch(job: Periodic, *, due_at: datetime, claimant: str, now: datetime | None = None) -> bool:
    """Claim the tick `due_at` of `job` and queue the job for it.

    Returns True when this scheduler claimed the tick (the job is then queued: by this call, or by a claimant
    that died after queueing it and before its claim committed), False when another scheduler had claimed it.
    Raises RedisError or a database error with the claim rolled back: the tick stays due."""
    now = now or timezone.now()
    with transaction.atomic():
        _bound_idle_claim()
        claimed = SchedulerTick.objects.filter(name=job.name, due_at=due_at).update(
            due_at=next_tick(due_at, job.interval(), now), claimed_by=claimant, claimed_at=now)
        if not claimed:
            return False
        job_id = tick_job_id(job, due_at)
        try:
            # Queued now, inside the transaction ("auto", not django-rq's default of after the commit): a scheduler
            # dying before this line leaves the tick to the next claimant, one dying after it left the job queued.
            django_rq.get_queue(job.queue, commit_mode="auto").enqueue(
                job.func, job_id=job_id, unique=True, meta={"tick": due_at.isoformat(), "scheduler": claimant})
        except DuplicateJobError:
            log.warning("%s was already queued for tick %s by a scheduler that stopped before recording it",
                        job.name, due_at.isoformat())
        else:
            log.info("queued %s for tick %s", job.name, due_at.isoformat())
    return True


def ticks_dispatch(jobs: Iterable[Periodic], *, claimant: str, now: datetime | None = None) -> int:
    """Dispatch every due tick of `jobs`; returns how many this scheduler claimed."""
    now = now or timezone.now()
    jobs = list(jobs)
    due = dict(SchedulerTick.objects.filter(name__in=[job.name for job in jobs], due_at__lte=now)
               .values_list("name", "due_at"))
    return sum(tick_dispatch(job, due_at=due[job.name], claimant=claimant, now=now)
               for job in jobs if job.name in due)


def scheduler_run(jobs: list[Periodic], *, stop: threading.Event, claimant: str | None = None) -> None:
    """Dispatch due ticks every SCHEDULER_POLL_SECONDS until `stop` is set. A database or Redis that cannot be
    reached is logged and tried again on the next poll: the ticks stay due meanwhile."""
    claimant = claimant or scheduler_claimant()
    poll = settings.SCHEDULER_POLL_SECONDS
    ready = failing = False
    while not stop.is_set():
        try:
            if not ready:
                ticks_ensure(jobs)
                ready = True
            ticks_dispatch(jobs, claimant=claimant)
            failing = False
        except (DatabaseError, RedisError) as error:
            # The traceback once, then a line per poll while the outage lasts.
            (log.warning if failing else log.exception)(
                "scheduler %s could not dispatch (%s); trying again in %g s", claimant, error, poll)
            failing = True
            # A broken connection is not reopened by Django outside a request.
            connections.close_all()
        stop.wait(poll)
    connections.close_all()


def scheduler_last_tick() -> datetime | None:
    """When any scheduler last claimed a tick (None before the first): a sign that one runs. While one does, it
    is at most `scheduler_shortest_interval()` plus SCHEDULER_POLL_SECONDS old."""
    return SchedulerTick.objects.aggregate(last=Max("claimed_at"))["last"]


def scheduler_shortest_interval() -> timedelta:
    """The shortest interval of config/cron.py: how often a running scheduler claims a tick at least."""
    return min(job.interval() for job in periodic_jobs())
