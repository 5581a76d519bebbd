"""The polled message channel (SPEC S3), for marketplaces that queue messages for us to take (TOP's TMC):
take -> fetch the orders named -> store -> confirm.

A message is confirmed only after its order is stored; one that could not be handled now is left
unconfirmed, so the marketplace delivers it again. Message ids already stored are confirmed without
work (deliveries repeat). Polling stays the safety net for anything the channel drops.
"""
import logging

from django.db import transaction
from django.utils import timezone

from merchant.services.marketplace_orders import UpsertCounts, orders_upsert_marketplace

from ..errors import BusinessError, Retryable
from ..models import ProcessedMessage

log = logging.getLogger(__name__)

CONFIRM_MAX = 200


def messages_permit(market) -> None:
    """Ask the marketplace to deliver this seller's messages to our app."""
    market.messages_permit()


def messages_consume_once(connection, market, *, quantity: int = 100) -> dict:
    """Handle one batch; returns counts (received, duplicates, fetched, created, updated, unchanged,
    confirmed, left for redelivery, errors)."""
    messages = market.messages_take(quantity)
    summary = {"received": len(messages), "duplicates": 0, "fetched": 0, "created": 0, "updated": 0,
               "unchanged": 0, "confirmed": 0, "left": 0, "errors": []}
    if not messages:
        return summary
    ids = [m.message_id for m in messages if m.message_id is not None]
    done = set(ProcessedMessage.objects.filter(connection=connection, message_id__any=ids)
               .values_list("message_id", flat=True))
    to_confirm = [i for i in ids if i in done]
    summary["duplicates"] = len(to_confirm)
    by_order: dict[str, list] = {}
    for message in messages:
        if message.message_id is None:
            summary["errors"].append("a message without an id was skipped")
            continue
        if message.message_id in done:
            continue
        if not message.acts:
            # Nothing we act on: confirm it so it does not come back (TMC redelivers for 24 hours).
            to_confirm.append(message.message_id)
            continue
        by_order.setdefault(message.order_no, []).append(message)
    trades, handled = [], []
    for order_no, group in by_order.items():
        try:
            trades.append(market.order_detail(order_no))
        except BusinessError as exc:
            summary["errors"].append(f"order {order_no}: {exc}")
        except Retryable as exc:
            summary["errors"].append(f"order {order_no}: {exc}; left for redelivery")
            summary["left"] += len(group)
            continue
        handled += group
    summary["fetched"] = len(trades)
    with transaction.atomic():
        counts = orders_upsert_marketplace(connection=connection, trades=trades) if trades else UpsertCounts()
        now = timezone.now()
        ProcessedMessage.objects.bulk_create(
            [ProcessedMessage(connection=connection, message_id=m.message_id, topic=m.topic, processed_at=now)
             for m in handled],
            ignore_conflicts=True,
        )
    summary.update(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
    to_confirm += [m.message_id for m in handled]
    for start in range(0, len(to_confirm), CONFIRM_MAX):
        chunk = to_confirm[start:start + CONFIRM_MAX]
        market.messages_confirm(chunk)
        summary["confirmed"] += len(chunk)
    return summary
