"""The message channel (SPEC S3): TMC consume -> fetch the orders named -> store -> confirm.

A message is confirmed only after its order is stored; one that could not be handled now is left
unconfirmed, so the marketplace delivers it again. Message ids already stored are confirmed without
work (deliveries repeat). Polling stays the safety net for anything the channel drops.
"""
import json
import logging

from django.db import transaction
from django.utils import timezone

from merchant.services.marketplace_orders import UpsertCounts, orders_upsert_marketplace

from .marketplaces.top import mapping
from .errors import BusinessError, Retryable
from .models import ProcessedMessage
from .orders import trade_fetch

log = logging.getLogger(__name__)

CONSUME = "taobao.tmc.messages.consume"
CONFIRM = "taobao.tmc.messages.confirm"
PERMIT = "taobao.tmc.user.permit"
CONFIRM_MAX = 200
TOPIC_PREFIXES = ("taobao_trade_", "taobao_refund_")


def messages_permit(client) -> None:
    """Ask the marketplace to deliver this seller's messages to our app."""
    client.call_with_retry(PERMIT, {})


def _order_no(message: dict) -> str:
    try:
        content = json.loads(message.get("content") or "{}")
    except (TypeError, json.JSONDecodeError):
        return ""
    return str(content.get("tid") or "") if isinstance(content, dict) else ""


def messages_consume_once(connection, client, *, quantity: int = 100) -> dict:
    """Handle one batch; returns counts (received, duplicates, fetched, created, updated, unchanged,
    confirmed, left for redelivery, errors)."""
    messages = client.call_with_retry(CONSUME, {"quantity": quantity},
                                      read=lambda body: mapping.unwrap_list(body.get("messages"), "tmc_message"))
    summary = {"received": len(messages), "duplicates": 0, "fetched": 0, "created": 0, "updated": 0,
               "unchanged": 0, "confirmed": 0, "left": 0, "errors": []}
    if not messages:
        return summary
    ids = [int(m["id"]) for m in messages if isinstance(m, dict) and str(m.get("id", "")).isdigit()]
    done = set(ProcessedMessage.objects.filter(connection=connection, message_id__any=ids)
               .values_list("message_id", flat=True))
    to_confirm = [i for i in ids if i in done]
    summary["duplicates"] = len(to_confirm)
    by_order: dict[str, list[dict]] = {}
    for message in messages:
        if not isinstance(message, dict) or not str(message.get("id", "")).isdigit():
            summary["errors"].append("a message without an id was skipped")
            continue
        if int(message["id"]) in done:
            continue
        order_no = _order_no(message)
        if not order_no or not str(message.get("topic", "")).startswith(TOPIC_PREFIXES):
            # Nothing we act on: confirm it so it does not come back for 24 hours.
            to_confirm.append(int(message["id"]))
            continue
        by_order.setdefault(order_no, []).append(message)
    trades, handled = [], []
    for order_no, group in by_order.items():
        try:
            trades.append(trade_fetch(client, order_no))
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
            [ProcessedMessage(connection=connection, message_id=int(m["id"]), topic=str(m.get("topic", ""))[:80],
                              processed_at=now) for m in handled],
            ignore_conflicts=True,
        )
    summary.update(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
    to_confirm += [int(m["id"]) for m in handled]
    for start in range(0, len(to_confirm), CONFIRM_MAX):
        chunk = to_confirm[start:start + CONFIRM_MAX]
        client.call_with_retry(CONFIRM, {"s_message_ids": ",".join(str(i) for i in chunk)})
        summary["confirmed"] += len(chunk)
    return summary
