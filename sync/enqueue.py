"""Putting sync work on the queue: the one name of a (connection, module)'s job, and the one enqueuer of pushes
used both after a change commits (sync.outbox) and by the every-minute dispatcher (sync.schedule).

A push is queued under the job id of its (connection, module): while that job waits, a new change needs no
second one (the job reads the outbox when it runs). While it runs, it may have read the outbox before the
change committed, so one follow-up job is queued behind it under the same id plus FOLLOW_UP (a burst still
makes at most two); it waits for the running one's lease (sync.jobs.sync_push). Redis only carries the
request: whatever a lost job would have pushed is still due in the outbox and the dispatcher queues it again.
"""
import logging

import django_rq
from django.conf import settings
from redis.exceptions import RedisError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from .models import PUSH_MODULES

log = logging.getLogger(__name__)

QUEUE = "sync"
RETRY = Retry(max=3, interval=[15, 60, 240])
WAITING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
FOLLOW_UP = "-next"
PUSH_TTL = 600  # seconds a queued push may wait for a worker; past that the dispatcher derives it again
PUSH_JOB = "sync.jobs.sync_push"


def sync_job_id(connection_id: int, module: str) -> str:
    """The scheduled job of one (connection, module): the dispatcher and the push enqueuer never queue it twice."""
    return f"sync-{connection_id}-{module}"


def push_job_id(connection_id: int, kind: str) -> str:
    """The push job of one outbox kind (stock, price, listing, logistics) for the connection."""
    return sync_job_id(connection_id, PUSH_MODULES[kind])


def _status(job: str, connection):
    try:
        return Job.fetch(job, connection=connection).get_status()
    except NoSuchJobError:
        return None


def push_enqueue(*, connection_id: int, kind: str, ttl: int = PUSH_TTL) -> str | None:
    """Ask a worker to push `kind` for the connection; returns the job id, or None when a queued job will see
    the change anyway. Best effort: when Redis is unreachable the dispatcher finds the row within a minute."""
    main = push_job_id(connection_id, kind)
    try:
        queue = django_rq.get_queue(QUEUE)
        for candidate in (main, main + FOLLOW_UP):
            status = _status(candidate, queue.connection)
            if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                return None
            if status == JobStatus.STARTED:
                continue
            queue.enqueue(PUSH_JOB, connection_id, kind=str(kind), job_id=candidate, retry=RETRY,
                          job_timeout=settings.SYNC_JOB_TIMEOUT, ttl=ttl, result_ttl=3600, failure_ttl=86400)
            return candidate
    except RedisError:
        log.warning("could not queue the %s push of connection %s; the dispatcher will", PUSH_MODULES[kind],
                    connection_id)
    return None
