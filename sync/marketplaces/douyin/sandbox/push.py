"""The platform's side of message push: due messages POSTed to the shop's callback URL.

As Douyin does (douyin-protocol.md, Message push; the Go SDK's message/doudian_message.go reads it): the body is
a JSON array of {"tag", "msg_id", "data": "<JSON text>"}, headers `app-id` and `event-sign`
(md5(app_key + body + app_secret)); only an answer {"code": 0} delivers the batch, anything else (an error,
a timeout, another code) leaves it due again later, up to ATTEMPTS_MAX tries. A share of messages is dropped (push_drop_rate): polling
is the safety net. This plays the platform, so it uses plain `requests`, not the app's outbound layer.
"""
import json
import logging
from datetime import datetime, timedelta

import requests
from django.db.models import F

from sync.marketplaces.douyin.signing import event_sign

from . import faults
from .models import DouyinPushMessage, DouyinShop

log = logging.getLogger(__name__)
BATCH = 50
TIMEOUT = 3.0
# A batch not taken is offered again after 2, 4, 8 ... seconds, at most this long apart.
RETRY_MAX = timedelta(minutes=5)
# The platform stops offering a message after this many failed deliveries (it is then only found by polling).
ATTEMPTS_MAX = 12


def messages_deliver(shop: DouyinShop, now: datetime) -> dict:
    """Send the shop's due messages in batches; returns counts: delivered, failed (left due), dropped."""
    counts = {"delivered": 0, "failed": 0, "dropped": 0}
    if not shop.callback_url:
        return counts
    due = DouyinPushMessage.objects.filter(shop=shop, delivered_at__isnull=True, dropped=False, next_at__lte=now)
    seen: set[int] = set()
    while True:
        batch = list(due.exclude(pk__in=seen).order_by("created_at", "id")[:BATCH])
        if not batch:
            return counts
        seen.update(m.pk for m in batch)
        dropped = [m.pk for m in batch if faults.push_dropped(shop)]
        if dropped:
            DouyinPushMessage.objects.filter(pk__in=dropped).update(dropped=True)
            counts["dropped"] += len(dropped)
        batch = [m for m in batch if m.pk not in set(dropped)]
        if not batch:
            continue
        ids = [m.pk for m in batch]
        if _post(shop, batch):
            DouyinPushMessage.objects.filter(pk__in=ids).update(delivered_at=now, attempts=F("attempts") + 1)
            counts["delivered"] += len(batch)
        else:
            for message in batch:
                wait = min(timedelta(seconds=2 ** (message.attempts + 1)), RETRY_MAX)
                DouyinPushMessage.objects.filter(pk=message.pk).update(
                    attempts=F("attempts") + 1, next_at=now + wait, dropped=message.attempts + 1 >= ATTEMPTS_MAX)
            counts["failed"] += len(batch)


def body_of(messages: list[DouyinPushMessage]) -> bytes:
    return json.dumps([{"tag": m.tag, "msg_id": m.msg_id, "data": m.data} for m in messages],
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _post(shop: DouyinShop, messages: list[DouyinPushMessage]) -> bool:
    body = body_of(messages)
    headers = {"Content-Type": "application/json", "app-id": shop.app_key,
               "event-sign": event_sign(app_key=shop.app_key, secret=shop.app_secret, body=body)}
    try:
        response = requests.post(shop.callback_url, data=body, headers=headers, timeout=TIMEOUT)
        answer = response.json()
    except (requests.RequestException, ValueError) as error:
        log.info("push to %s failed: %s", shop.callback_url, error)
        return False
    return response.status_code == 200 and isinstance(answer, dict) and answer.get("code") == 0
