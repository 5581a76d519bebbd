"""No false alarms: the sandbox marketplace answers as TOP does, so a full pull followed by incremental polls over
real HTTP raises no unusual answer once the shapes are learned, and a gateway that starts answering an HTML
page is raised without losing an order."""
import pytest

from merchant.models import Order
from sync.models import AnomalyKind, AnswerAnomaly, AnswerShape, Checkpoint, SyncModule
from sync.marketplaces.top.sandbox import faults as sandbox_faults
from sync.marketplaces.top.sandbox import marketplace

from .conftest import ago, faults
from .test_order_pull import pull

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def short_learning(settings):
    settings.ANOMALY_LEARN_ANSWERS = 3


def test_the_sandboxs_answers_raise_nothing_once_learned(top, shop):
    marketplace.trades_generate(shop, 120, start=ago(days=20), end=ago(minutes=30), seed=3)
    assert pull(top)["outcome"] == "ok"
    Checkpoint.objects.filter(connection=top, module=SyncModule.ORDERS).update(position=ago(minutes=20))
    for minutes in (15, 12, 9):
        marketplace.trade_create(shop, lines=[("ERP-1", 1)], created=ago(minutes=minutes))
        assert pull(top)["outcome"] == "ok"
    learned = AnswerShape.objects.filter(connection=top, learned_at__isnull=False)
    assert learned.filter(method="taobao.trades.sold.get").exists()
    assert list(AnswerAnomaly.objects.values_list("method", "kind", "subject")) == []
    assert Order.objects.count() >= 120


def test_truncated_answers_are_raised_as_one_group_and_no_order_is_lost(top, shop):
    marketplace.trades_generate(shop, 60, start=ago(days=5), end=ago(minutes=30), seed=4)
    # Drawn from a seed: at 30% over the ~90 calls of a first pull, six truncated answers in a row (a call given up)
    # would otherwise come about once in fifteen runs.
    sandbox_faults.seed(11)
    faults(shop, malformed_rate=0.3)
    assert pull(top)["outcome"] == "ok"
    groups = list(AnswerAnomaly.objects.filter(connection=top).values_list("kind", "subject"))
    assert groups and set(groups) <= {(AnomalyKind.NOT_JSON, "broken")}
    assert Order.objects.count() == 60
