"""Scheduling on several machines (issue 17): a scheduler claims a due tick with a conditional update of its
SchedulerTick row and queues the job under the tick's id, so each tick is queued exactly once however many
schedulers run, and when one dies the others go on dispatching its ticks."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from urllib.parse import quote

import django_rq
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from sync import jobs as sync_jobs
from sync.models import SchedulerTick
from sync.scheduler import (
    Periodic, next_tick, periodic_jobs, scheduler_last_tick, scheduler_run, tick_dispatch, tick_job_id,
    ticks_dispatch, ticks_ensure,
)

ROOT = Path(__file__).resolve().parent.parent
DISPATCH = Periodic(sync_jobs.sync_dispatch, every=60)
PURGE = Periodic(sync_jobs.sync_records_purge, every=86400)
NOW = datetime(2026, 12, 4, 4, 0, 0, 123456, tzinfo=dt_timezone.utc)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def default_queue():
    """The real default queue on the test Redis, empty before and after (tick ids repeat between tests)."""
    queue = django_rq.get_queue("default")
    queue.empty()
    yield queue
    queue.empty()


def _row(job: Periodic) -> SchedulerTick:
    return SchedulerTick.objects.get(name=job.name)


# The claim

@pytest.mark.django_db
def test_a_due_tick_is_queued_once_whichever_scheduler_claims_it_first(default_queue):
    ticks_ensure([DISPATCH], now=NOW)
    assert _row(DISPATCH).due_at == NOW

    assert tick_dispatch(DISPATCH, due_at=NOW, claimant="web-1:101", now=NOW) is True
    # A second scheduler read the same due tick before the first one moved it on.
    assert tick_dispatch(DISPATCH, due_at=NOW, claimant="web-2:202", now=NOW + timedelta(seconds=1)) is False

    assert default_queue.job_ids == [tick_job_id(DISPATCH, NOW)]
    job = default_queue.fetch_job(tick_job_id(DISPATCH, NOW))
    assert job.func_name == "sync.jobs.sync_dispatch"
    assert job.meta == {"tick": NOW.isoformat(), "scheduler": "web-1:101"}
    row = _row(DISPATCH)
    assert (row.due_at, row.claimed_by, row.claimed_at) == (NOW + MINUTE, "web-1:101", NOW)


@pytest.mark.django_db
def test_the_next_tick_is_claimed_by_whoever_finds_it_due(default_queue):
    ticks_ensure([DISPATCH], now=NOW)
    assert tick_dispatch(DISPATCH, due_at=NOW, claimant="web-1:101", now=NOW)
    assert tick_dispatch(DISPATCH, due_at=NOW + MINUTE, claimant="web-2:202", now=NOW + MINUTE)

    assert default_queue.job_ids == [tick_job_id(DISPATCH, NOW), tick_job_id(DISPATCH, NOW + MINUTE)]
    assert _row(DISPATCH).claimed_by == "web-2:202"


@pytest.mark.django_db
def test_a_tick_queued_by_a_scheduler_that_died_before_its_claim_committed_is_not_queued_again(default_queue):
    ticks_ensure([DISPATCH], now=NOW)
    # What a scheduler killed between queueing the job and committing its claim leaves: the job in Redis, the
    # row unchanged (its transaction rolled back).
    default_queue.enqueue(DISPATCH.func, job_id=tick_job_id(DISPATCH, NOW))

    assert tick_dispatch(DISPATCH, due_at=NOW, claimant="web-2:202", now=NOW) is True

    assert default_queue.job_ids == [tick_job_id(DISPATCH, NOW)]
    assert (_row(DISPATCH).due_at, _row(DISPATCH).claimed_by) == (NOW + MINUTE, "web-2:202")


@pytest.mark.django_db
def test_a_claim_is_rolled_back_when_redis_cannot_take_the_job(default_queue, monkeypatch):
    ticks_ensure([DISPATCH], now=NOW)
    # The discard port: refused at once, and no retries.
    nowhere = Redis(host="127.0.0.1", port=9, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))
    with monkeypatch.context() as patch:
        patch.setattr(django_rq, "get_queue", lambda name, **options: Queue(name, connection=nowhere))
        with pytest.raises(RedisError):
            tick_dispatch(DISPATCH, due_at=NOW, claimant="web-1:101", now=NOW)

    assert (_row(DISPATCH).due_at, _row(DISPATCH).claimed_by) == (NOW, "")
    # The tick is still due: the next poll (here, of another scheduler) queues it.
    assert tick_dispatch(DISPATCH, due_at=NOW, claimant="web-2:202", now=NOW + timedelta(seconds=1)) is True
    assert default_queue.job_ids == [tick_job_id(DISPATCH, NOW)]


@pytest.mark.django_db
def test_a_pass_claims_only_the_ticks_that_are_due(default_queue):
    ticks_ensure([DISPATCH, PURGE], now=NOW)
    SchedulerTick.objects.filter(name=PURGE.name).update(due_at=NOW + timedelta(hours=1))

    assert ticks_dispatch([DISPATCH, PURGE], claimant="web-1:101", now=NOW) == 1
    assert ticks_dispatch([DISPATCH, PURGE], claimant="web-2:202", now=NOW + timedelta(seconds=1)) == 0

    assert default_queue.job_ids == [tick_job_id(DISPATCH, NOW)]
    assert _row(PURGE).due_at == NOW + timedelta(hours=1)


class Polls(threading.Event):
    """A stop event that sets itself at the n-th wait between polls, and never sleeps."""

    def __init__(self, polls: int):
        super().__init__()
        self.left = polls

    def wait(self, timeout=None):
        self.left -= 1
        if self.left <= 0:
            self.set()
        return self.is_set()


@pytest.mark.django_db(transaction=True)
def test_the_loop_rides_out_an_unreachable_redis_and_queues_the_tick_once_it_is_back(default_queue, monkeypatch):
    real_get_queue, asked = django_rq.get_queue, []
    nowhere = Redis(host="127.0.0.1", port=9, socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))

    def get_queue(name, **options):
        asked.append(name)
        return Queue(name, connection=nowhere) if len(asked) == 1 else real_get_queue(name, **options)

    monkeypatch.setattr(django_rq, "get_queue", get_queue)
    scheduler_run([DISPATCH], stop=Polls(2), claimant="web-1:101")

    assert len(asked) == 2
    (job_id,) = default_queue.job_ids
    row = _row(DISPATCH)
    assert job_id == tick_job_id(DISPATCH, row.due_at - MINUTE)
    assert row.claimed_by == "web-1:101"


def test_ticks_stay_on_their_grid_and_missed_ones_are_queued_once():
    assert next_tick(NOW, MINUTE, NOW) == NOW + MINUTE
    assert next_tick(NOW, MINUTE, NOW + timedelta(seconds=59)) == NOW + MINUTE
    # Late by exactly one interval: that tick is past too.
    assert next_tick(NOW, MINUTE, NOW + MINUTE) == NOW + 2 * MINUTE
    # After a day with no scheduler, one claim and then the first grid point after now, not 1,440 ticks.
    assert next_tick(NOW, MINUTE, NOW + timedelta(days=1, seconds=30)) == NOW + timedelta(days=1, minutes=1)
    # A claim on a machine whose clock is behind the tick still moves it on.
    assert next_tick(NOW, MINUTE, NOW - timedelta(seconds=5)) == NOW + MINUTE


@pytest.mark.django_db
def test_every_job_gets_a_first_tick_due_at_once_which_a_restart_keeps():
    ticks_ensure([DISPATCH, PURGE], now=NOW)
    ticks_ensure([DISPATCH, PURGE], now=NOW + timedelta(seconds=10))

    assert list(SchedulerTick.objects.values_list("name", "due_at")) == [(DISPATCH.name, NOW), (PURGE.name, NOW)]


@pytest.mark.django_db
def test_a_tick_set_under_a_longer_interval_is_brought_forward():
    SchedulerTick.objects.create(name=DISPATCH.name, due_at=NOW + timedelta(hours=1))  # it ran hourly before
    SchedulerTick.objects.create(name=PURGE.name, due_at=NOW + timedelta(hours=20))

    ticks_ensure([DISPATCH, PURGE], now=NOW)

    assert _row(DISPATCH).due_at == NOW
    assert _row(PURGE).due_at == NOW + timedelta(hours=20)


def test_the_interval_setting_replaces_every_interval(settings):
    assert PURGE.interval() == timedelta(days=1)
    settings.SCHEDULER_INTERVAL_SECONDS = 2
    assert PURGE.interval() == timedelta(seconds=2)


@pytest.mark.django_db
def test_the_last_tick_is_when_a_scheduler_last_claimed_one(default_queue):
    assert scheduler_last_tick() is None
    ticks_ensure([DISPATCH, PURGE], now=NOW)
    assert scheduler_last_tick() is None

    ticks_dispatch([DISPATCH, PURGE], claimant="web-1:101", now=NOW)
    ticks_dispatch([DISPATCH, PURGE], claimant="web-1:101", now=NOW + MINUTE)

    assert scheduler_last_tick() == NOW + MINUTE


def test_config_cron_lists_each_job_once_and_only_picks_the_named_ones():
    names = [job.name for job in periodic_jobs()]
    assert len(names) == len(set(names))
    assert {"sync.jobs.sync_dispatch", "merchant.jobs.imports_recover"} <= set(names)
    assert [job.name for job in periodic_jobs(["sync_dispatch", "merchant.jobs.imports_recover"])] == [
        "sync.jobs.sync_dispatch", "merchant.jobs.imports_recover"]
    with pytest.raises(ValueError, match="no_such_job"):
        periodic_jobs(["sync_dispatch", "no_such_job"])


def test_the_command_refuses_a_job_that_is_not_in_config_cron():
    with pytest.raises(CommandError, match="not in config/cron.py: no_such_job"):
        call_command("scheduler", "--only", "no_such_job")


# Two real schedulers, one killed

# Long enough that a loaded machine stalling the survivor for a moment skips no tick (a stall longer than an
# interval would: ticks stay on their grid).
INTERVAL = timedelta(seconds=5)
WAIT_SECONDS = 90.0


def _wait_for(condition, what: str, processes=()) -> None:
    """Return once condition() holds; fail after WAIT_SECONDS, or as soon as one of `processes` has exited."""
    deadline = time.monotonic() + WAIT_SECONDS
    pause = threading.Event()
    while not condition():
        for process, log in processes:
            if process.poll() is not None:
                pytest.fail(f"a scheduler exited ({process.returncode}) while waiting for {what}:\n"
                            f"{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {WAIT_SECONDS:g} s")
        pause.wait(0.05)


def _database_for_schedulers(tmp_path):
    """A database the scheduler processes share with this test: the test database itself on PostgreSQL; on SQLite
    (an in-memory test database) a file holding the scheduler's table. Returns its URL and a function reading its
    (name, due_at) rows."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        url = (f"postgres://{quote(s['USER'] or '', safe='')}:{quote(s['PASSWORD'] or '', safe='')}"
               f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        return url, lambda: dict(SchedulerTick.objects.values_list("name", "due_at"))
    from django.db.backends.sqlite3.base import DatabaseWrapper

    path = tmp_path / "scheduler.sqlite3"
    wrapper = DatabaseWrapper({**connection.settings_dict, "NAME": str(path)}, alias="schedulers")
    with wrapper.schema_editor(atomic=False) as editor:
        editor.create_model(SchedulerTick)

    def rows():
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT name, due_at FROM sync_schedulertick")
            # Stored as UTC without an offset.
            return {name: parse_datetime(str(due)).replace(tzinfo=dt_timezone.utc) for name, due in cursor.fetchall()}

    return f"sqlite:///{path}", rows


def _start_scheduler(env: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "manage.py", "scheduler"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def _queued_ticks(queue) -> list[tuple[str, datetime, str]]:
    """(job name, tick, claimant) of every job id in the queue, in queue order (a job id queued twice, twice)."""
    ids = queue.job_ids
    found = {job.id: job for job in Job.fetch_many(ids, connection=queue.connection) if job is not None}
    return [(found[i].func_name, parse_datetime(found[i].meta["tick"]), found[i].meta["scheduler"]) for i in ids]


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_queue_every_tick_once_and_the_survivor_takes_over_when_one_is_killed(default_queue,
                                                                                            tmp_path):
    url, rows = _database_for_schedulers(tmp_path)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "DATABASE_URL": url,
           "REDIS_URL": settings.REDIS_URL, "SCHEDULER_INTERVAL_SECONDS": str(INTERVAL.total_seconds()),
           "SCHEDULER_POLL_SECONDS": "0.1"}
    jobs = periodic_jobs()
    logs = tmp_path / "a.log", tmp_path / "b.log"
    a, b = (_start_scheduler(env, log) for log in logs)
    claimant = {process: f"{socket.gethostname()}:{process.pid}" for process in (a, b)}
    try:
        _wait_for(lambda: {c for _, _, c in _queued_ticks(default_queue)} == {claimant[a], claimant[b]},
                  "ticks queued by both schedulers", processes=zip((a, b), logs))
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
        killed_at = timezone.now()

        def survivor_went_on():
            ticks = _queued_ticks(default_queue)
            return all(any(n == job.name and t > killed_at + 2 * INTERVAL for n, t, _ in ticks) for job in jobs)

        _wait_for(survivor_went_on, "ticks of every job queued by the survivor two intervals after the kill",
                  processes=[(b, logs[1])])
        b.send_signal(signal.SIGTERM)
        assert b.wait(timeout=30) == 0, logs[1].read_text()[-3000:]
    finally:
        for process in (a, b):
            if process.poll() is None:
                process.kill()
                process.wait()

    assert "stopped" in logs[1].read_text()
    ids = default_queue.job_ids
    assert len(ids) == len(set(ids)), "a tick was queued twice"
    ticks = _queued_ticks(default_queue)
    due = rows()
    for job in jobs:
        times = sorted(t for n, t, _ in ticks if n == job.name)
        # No tick lost: not at the kill (the survivor took the dead one's ticks within an interval), nor anywhere.
        assert [later - earlier for earlier, later in zip(times, times[1:])] == [INTERVAL] * (len(times) - 1), job.name
        # ... nor claimed and then not queued: the row's next tick is the one after the last queued.
        assert due[job.name] == times[-1] + INTERVAL, job.name
        assert {c for n, t, c in ticks if n == job.name and t > killed_at} == {claimant[b]}, job.name
