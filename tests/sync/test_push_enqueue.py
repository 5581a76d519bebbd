"""One enqueuer for pushes (sync.enqueue): the request after a commit and the every-minute dispatcher queue a
push under the same job id, and while that job runs, each queues one follow-up behind it and no more."""
import django_rq
import pytest
from django.utils import timezone
from rq.job import Job, JobStatus

from sync import schedule
from sync.enqueue import FOLLOW_UP, push_enqueue, push_job_id
from sync.models import Connection, Outbox, OutboxKind
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)  # django-rq sends jobs on commit


@pytest.fixture
def queue():
    q = django_rq.get_queue(schedule.QUEUE)
    q.empty()
    yield q
    q.empty()


@pytest.fixture
def shop(merchant_a):
    return Connection.objects.create(merchant=merchant_a, name="shop", gateway_url="http://127.0.0.1:9/router/rest",
                                     app_key="k")


def pushes(job_ids) -> list[str]:
    return [job_id for job_id in job_ids if "-stock" in job_id]


def started(queue, job_id):
    Job.fetch(job_id, connection=queue.connection).set_status(JobStatus.STARTED)


def test_a_change_while_the_push_runs_queues_one_follow_up_and_no_more(queue, shop):
    main = push_job_id(shop.pk, OutboxKind.STOCK)
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) == main
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) is None  # waiting: it will see the change

    started(queue, main)  # it may have read the outbox before the next change committed
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) == main + FOLLOW_UP
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) is None
    job = Job.fetch(main + FOLLOW_UP, connection=queue.connection)
    assert (job.func_name, job.args, job.kwargs) == ("sync.jobs.sync_push", (shop.pk,), {"kind": "stock"})


def test_the_dispatcher_queues_through_the_same_enqueuer(queue, shop, merchant_a):
    product = ProductFactory(merchant=merchant_a)
    Outbox.objects.create(connection=shop, kind=OutboxKind.STOCK, product=product, due_at=timezone.now(), pending=True)
    main = push_job_id(shop.pk, OutboxKind.STOCK)

    assert pushes(schedule.dispatch()) == [main]
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) is None  # after a commit: already queued
    assert pushes(schedule.dispatch()) == []

    started(queue, main)  # running, before it took the lease: the rows due now get their follow-up
    assert pushes(schedule.dispatch()) == [main + FOLLOW_UP]
    assert pushes(schedule.dispatch()) == []
    assert push_enqueue(connection_id=shop.pk, kind=OutboxKind.STOCK) is None
