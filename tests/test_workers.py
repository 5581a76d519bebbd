"""Background work under load from one tenant: hard time limits on every job, imports on a worker of their
own, and at most MERCHANT_MAX_CONCURRENT_JOBS jobs of one merchant at once across the workers."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import django_rq
import pytest
import rq
from django.core.files.uploadedfile import SimpleUploadedFile
from rq import Retry
from rq.job import Job, JobStatus

from merchant import jobs as merchant_jobs
from merchant.job_slots import merchant_slot, slots_held, slots_key
from merchant.models import ImportJob, ImportStatus
from merchant.permissions import Actor
from merchant.services import imports
from sync import jobs as sync_jobs, schedule
from sync.connection_tests import connection_test_request
from sync.erp.services import erp_connection_create, erp_sync_now
from sync.models import Checkpoint, Connection, RunOutcome, SyncModule, SyncRun
from sync.outbox import push_enqueue
from sync.services import connection_sync_now

from .factories import ProductFactory


@pytest.fixture
def queues():
    """The real queues on the test Redis, empty before and after (job ids repeat between tests)."""
    found = [django_rq.get_queue(name) for name in ("default", "sync", "imports")]
    redis = found[0].connection
    for queue in found:
        queue.empty()
        for job_id in queue.scheduled_job_registry.get_job_ids():
            queue.scheduled_job_registry.remove(job_id, delete_job=True)
    for key in redis.scan_iter("mh:slots:*"):
        redis.delete(key)
    yield {queue.name: queue for queue in found}
    for queue in found:
        queue.empty()


def _work_off(queue):
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)


def _top(merchant):
    return Connection.objects.create(merchant=merchant, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


# Hard time limits

def test_every_sync_job_is_enqueued_with_the_sync_time_limit(settings, queues, merchant_a, owner, product,
                                                            django_capture_on_commit_callbacks):
    settings.SYNC_JOB_TIMEOUT = 123
    top = _top(merchant_a)
    erp = erp_connection_create(merchant=merchant_a, actor=Actor.system(), app_secret="s", name="erp",
                                gateway_url="http://127.0.0.1:9", app_key="k")
    with django_capture_on_commit_callbacks(execute=True):  # django-rq sends jobs on commit
        dispatched = schedule.dispatch()
        manual = [connection_sync_now(connection=top, job="refunds", actor=Actor.for_user(owner)),
                  erp_sync_now(connection=erp, job="erp_pull", actor=Actor.for_user(owner)),
                  push_enqueue(connection_id=top.pk, kind="stock"),
                  f"connection-test-{connection_test_request(connection=top, actor=Actor.for_user(owner)).pk}"]
    assert f"sync-{top.pk}-orders_full" in dispatched and f"sync-{erp.pk}-erp_pull" in dispatched
    redis = queues["sync"].connection
    assert {job_id: Job.fetch(job_id, connection=redis).timeout for job_id in dispatched + manual} == \
        dict.fromkeys(dispatched + manual, 123)


def test_an_import_step_is_enqueued_with_the_import_time_limit(settings, queues, merchant_a, owner,
                                                              django_capture_on_commit_callbacks):
    settings.IMPORT_JOB_TIMEOUT = 77
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.import_upload(merchant=merchant_a, kind="stock", actor=Actor.for_user(owner),
                                    uploaded_file=SimpleUploadedFile("s.csv", b"erp_product_id,stock\nP-1,4\n"))
    rq_job = Job.fetch(imports.step_job_id(job.pk, "check"), connection=queues["imports"].connection)
    assert rq_job.timeout == 77 and rq_job.origin == "imports"


class _Drip(BaseHTTPRequestHandler):
    """An ERP bridge that answers its first call one byte at a time (each within any read timeout), as the
    slow bridge behind "pull now" did; later calls are refused at once, so the test ends either way."""

    calls = 0
    stop = threading.Event()

    def do_GET(self):
        type(self).calls += 1
        if type(self).calls > 1:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _byte in range(60):  # at most 3 s, well past the 1 s limit of the test
            if self.stop.wait(0.05):
                return
            try:
                self.wfile.write(b" ")
                self.wfile.flush()
            except OSError:
                return

    def log_message(self, *args):
        pass


@pytest.fixture
def dripping_bridge():
    _Drip.calls = 0
    _Drip.stop.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Drip.stop.set()
    server.shutdown()
    server.server_close()
    from sync import http

    http.session().close()


@pytest.mark.django_db(transaction=True)
def test_a_pull_past_its_time_limit_is_stopped_and_its_run_closed_as_interrupted(settings, queues, merchant_a, owner,
                                                                               dripping_bridge, english):
    settings.SYNC_JOB_TIMEOUT = 1
    # A local server: allowed as a destination (outbound calls refuse loopback otherwise).
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, dripping_bridge.removeprefix("http://")]
    erp = erp_connection_create(merchant=merchant_a, actor=Actor.system(), app_secret="s", name="slow ERP",
                                gateway_url=dripping_bridge, app_key="k", calls_per_minute=100_000)
    job_id = erp_sync_now(connection=erp, job="erp_pull", actor=Actor.for_user(owner))

    _work_off(queues["sync"])  # a real worker: RQ's death penalty stops the job at the limit

    job = Job.fetch(job_id, connection=queues["sync"].connection)
    assert job.get_status() == JobStatus.FAILED
    assert "JobTimeoutException" in job.latest_result().exc_string
    assert _Drip.calls == 1  # stopped in the middle of the dripping answer
    run = SyncRun.objects.get(connection=erp)
    assert run.outcome == RunOutcome.INTERRUPTED and run.finished_at is not None
    assert "time limit of 1 second;" in " ".join(run.errors)
    checkpoint = Checkpoint.objects.get(connection=erp, module=SyncModule.ERP_PULL)
    assert checkpoint.lease_token == "" and checkpoint.lease_until is None  # the next run may start at once
    assert slots_held(merchant_a.pk) == 0


# Imports on their own worker

def test_make_run_starts_a_worker_of_its_own_for_imports(monkeypatch):
    from config import stack

    started = []

    class Exited:
        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    def start(args, env):
        started.append(args)
        return Exited()

    monkeypatch.setattr(stack, "_start", start)
    monkeypatch.setattr(stack, "_manage", lambda *args, env: None)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")  # nothing is started, so nothing connects
    monkeypatch.setattr(stack.signal, "signal", lambda *args: None)
    stack.run_demo()

    workers = [args[2:] for args in started if args[1] == "rqworker"]
    assert sorted(workers) == [["default", "sync", "--with-scheduler"], ["imports", "--with-scheduler"]]


# One merchant cannot hold every worker

def _upload(merchant, user, capture):
    with capture(execute=True):
        return imports.import_upload(merchant=merchant, kind="stock", actor=Actor.for_user(user),
                                     uploaded_file=SimpleUploadedFile("s.csv", b"erp_product_id,stock\nP-1,4\n"))


def test_a_job_of_a_merchant_whose_slots_are_taken_is_put_back_while_other_merchants_run(
        settings, queues, merchant_a, merchant_b, owner, outsider, django_capture_on_commit_callbacks):
    settings.MERCHANT_MAX_CONCURRENT_JOBS = 1
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    ProductFactory(merchant=merchant_b, erp_product_id="P-1")
    mine = _upload(merchant_a, owner, django_capture_on_commit_callbacks)
    theirs = _upload(merchant_b, outsider, django_capture_on_commit_callbacks)
    queue = queues["imports"]

    with merchant_slot(merchant_a.pk) as held:  # merchant A's one slot: a long job of theirs still runs
        assert held
        _work_off(queue)
        pull = sync_jobs.sync_orders(_top(merchant_a).pk)

    assert ImportJob.objects.get(pk=theirs.pk).status == ImportStatus.PREVIEW  # B's job ran
    assert ImportJob.objects.get(pk=mine.pk).status == ImportStatus.QUEUED  # A's did not run ...
    deferred_id = imports.step_job_id(mine.pk, "check")
    assert Job.fetch(deferred_id, connection=queue.connection).get_status() == JobStatus.SCHEDULED  # ... nor is lost
    assert deferred_id in queue.scheduled_job_registry.get_job_ids()
    assert isinstance(pull, Retry) and not SyncRun.objects.exists()  # a sync job is put back the same way

    queue.scheduled_job_registry.requeue(deferred_id)  # what RQ's scheduler does when its time comes
    _work_off(queue)
    assert ImportJob.objects.get(pk=mine.pk).status == ImportStatus.PREVIEW
    assert slots_held(merchant_a.pk) == 0  # released after the job


def test_the_slot_of_a_dead_worker_frees_itself(settings, queues, merchant_a, owner,
                                                django_capture_on_commit_callbacks):
    settings.MERCHANT_MAX_CONCURRENT_JOBS = 1
    ProductFactory(merchant=merchant_a, erp_product_id="P-1")
    # A worker killed with a job of merchant A: its slot stopped being renewed and has lapsed.
    queues["imports"].connection.zadd(slots_key(merchant_a.pk), {"killed-worker": time.time() - 1})
    job = _upload(merchant_a, owner, django_capture_on_commit_callbacks)
    _work_off(queues["imports"])
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.PREVIEW


def test_a_held_slot_is_kept_alive_by_its_heartbeat_and_released_at_the_end(queues, merchant_a):
    redis = queues["default"].connection
    with merchant_slot(merchant_a.pk) as held:
        heartbeat = held.heartbeat
        assert heartbeat.is_alive()
        (token, lapses), = redis.zrange(slots_key(merchant_a.pk), 0, -1, withscores=True)
        redis.zadd(slots_key(merchant_a.pk), {token: lapses - 30})  # as if it had not been renewed for 30 s
        heartbeat.beat()
        assert redis.zscore(slots_key(merchant_a.pk), token) > lapses - 30
    assert not heartbeat.is_alive() and slots_held(merchant_a.pk) == 0


def test_an_import_step_put_back_leaves_the_import_untouched(queues, merchant_a, owner, settings,
                                                             django_capture_on_commit_callbacks):
    settings.MERCHANT_MAX_CONCURRENT_JOBS = 1
    job = _upload(merchant_a, owner, django_capture_on_commit_callbacks)
    with merchant_slot(merchant_a.pk):
        result = merchant_jobs.import_validate(job.pk)
    assert isinstance(result, Retry) and result.intervals == [settings.MERCHANT_DEFER_SECONDS]
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and job.step_started_at is None and job.lease_token == ""
