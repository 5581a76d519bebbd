"""The long-running message-channel consumer (SPEC S3): `python manage.py messages_consume`."""
import json
import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from sync.consumer import Consumer, idle_sleep_next

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Consume marketplace messages for every active TOP connection that uses the message channel."

    def add_arguments(self, parser):
        parser.add_argument("--connection", type=int, action="append", help="only this connection id (repeatable)")
        parser.add_argument("--once", action="store_true", help="one batch per connection, print it, stop")
        parser.add_argument("--idle-sleep", type=float, default=0.5,
                            help="seconds to wait after an empty batch; doubles while empty, up to --max-idle-sleep")
        parser.add_argument("--max-idle-sleep", type=float, default=3.0)

    def handle(self, *args, connection=None, once=False, idle_sleep=0.5, max_idle_sleep=3.0, **options):
        consumer = Consumer(only=connection)
        if once:
            self.stdout.write(json.dumps(consumer.poll_all(), ensure_ascii=False, default=str))
            return
        stopping = []
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        signal.signal(signal.SIGINT, lambda *a: stopping.append(1))
        self.stdout.write("consuming messages (Ctrl-C stops)")
        pause = idle_sleep
        while not stopping:
            close_old_connections()
            results = consumer.poll_all()
            pause = idle_sleep_next(pause, any(r.get("received") for r in results.values()),
                                    floor=idle_sleep, ceiling=max_idle_sleep)
            if pause:
                time.sleep(pause)
