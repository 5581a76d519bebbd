"""The Redis connection sync uses for shared state that may be lost (call budget, bans, metrics)."""
import django_rq


def connection():
    return django_rq.get_connection("sync")
