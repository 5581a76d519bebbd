"""Demo follow-ups: a few marketplace parcels of the demo merchant whose carrier trace stalled, in the states a
customer-service desk sees (new, assigned with a note, moving again, resolved). The live demo adds its own as the
sandbox's traces stall (sync.pipelines.trace)."""
from datetime import timedelta

from merchant.models import Order, OrderSource, OrderStatus
from merchant.permissions import Actor
from merchant.services.followups import (
    followup_assign, followup_note, followup_resolve, followup_stalled_open, followup_trace_moved,
)

HOPS = ["【杭州转运中心】已发出", "【上海转运中心】已到达", "【南京市】快件已到达派送网点", "【苏州转运中心】已发出",
        "【无锡市】快递员已揽收", "【广州转运中心】已到达"]
COUNT = 6


def save_followups(merchant, users: dict, now) -> int:
    """Open COUNT follow-ups on the demo merchant's oldest shipped marketplace orders; returns how many."""
    orders = list(Order.objects.filter(merchant=merchant, source=OrderSource.MARKETPLACE, status=OrderStatus.SHIPPED,
                                       shipped_at__lt=now - timedelta(hours=80)).exclude(tracking_no="")
                  .select_related("carrier", "merchant").order_by("shipped_at", "pk")[:COUNT])
    owner = Actor.for_user(users["demo_owner"])
    opened = []
    for i, order in enumerate(orders):
        last = order.shipped_at + timedelta(hours=6 + 3 * i)
        followup = followup_stalled_open(
            order=order, since=last, last_node_at=last, last_node_text=HOPS[i % len(HOPS)],
            carrier_name=order.carrier.name if order.carrier else "", tracking_no=order.tracking_no,
            now=last + timedelta(hours=order.merchant.logistics_stall_hours, minutes=20))
        if followup:
            opened.append(followup)
    if len(opened) > 1:
        followup_assign(followup=opened[1], assignee=users["demo_operator"], actor=owner)
        followup_note(followup=opened[1], text="已联系快递公司，答复包裹在转运中心滞留，明天派送。",
                      actor=Actor.for_user(users["demo_operator"]))
    if len(opened) > 2:
        followup_trace_moved(order=opened[2].order, last_node_at=now - timedelta(hours=5),
                             last_node_text="【南京市】快递员正在派送", delivered=False, now=now - timedelta(hours=4))
    if len(opened) > 3:
        followup_resolve(followup=opened[3], note="买家已收到货，电话确认。", actor=owner,
                         now=now - timedelta(hours=2))
    return len(opened)
