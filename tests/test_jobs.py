"""RQ entry points run through a real queue on the Redis server `make test` provides (REDIS_URL)."""
from datetime import timedelta

import django_rq
import pytest
import rq
from django.utils import timezone

from merchant.models import HeldValue, Module, ModuleSwitch, SkuSwitch
from merchant.permissions import Actor
from merchant.services.switches import module_switch_set, sku_switch_set

from .factories import HeldValueFactory, MerchantFactory, ProductFactory


# SimpleWorker runs the job in this process (no fork), so it shares the test's database; transaction=True
# makes the rows really committed and the job's own transactions real ones, as with a production worker.
@pytest.mark.django_db(transaction=True)
def test_switches_resume_expired_job_runs_through_the_queue():
    merchant = MerchantFactory()
    product = ProductFactory(merchant=merchant, stock=10)
    still_paused = ProductFactory(merchant=merchant, stock=10)
    actor = Actor.system()
    until = timezone.now() + timedelta(hours=1)
    sku_switch_set(products=[product, still_paused], kind="stock", enabled=False, until=until, actor=actor)
    module_switch_set(merchant=merchant, module=Module.LISTING, enabled=False, until=until, actor=actor)
    past = timezone.now() - timedelta(minutes=1)
    SkuSwitch.objects.filter(product=product).update(paused_until=past)
    ModuleSwitch.objects.filter(merchant=merchant).update(paused_until=past)
    HeldValueFactory(product=product, field="stock", value=64)
    HeldValueFactory(product=still_paused, field="stock", value=65)

    queue = django_rq.get_queue("default")
    job = queue.enqueue("merchant.jobs.switches_resume_expired")
    rq.SimpleWorker([queue], connection=queue.connection).work(burst=True)

    job.refresh()
    assert job.get_status() == rq.job.JobStatus.FINISHED, job.latest_result() and job.latest_result().exc_string
    assert job.return_value() == 2
    assert SkuSwitch.objects.get(product=product).enabled is True
    assert SkuSwitch.objects.get(product=still_paused).enabled is False
    assert ModuleSwitch.objects.get(merchant=merchant).enabled is True
    product.refresh_from_db()
    still_paused.refresh_from_db()
    assert (product.stock, still_paused.stock) == (64, 10)
    assert list(HeldValue.objects.values_list("product_id", flat=True)) == [still_paused.pk]
