"""/healthz answers while the process is up, without the database; /readyz answers 503 naming what is down
(database, Redis, migrations, a stale scheduler) and never says more than ok / down / unknown."""
import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from config import health


@pytest.fixture(autouse=True)
def fresh_migration_state(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def _ready(client):
    response = client.get("/readyz")
    return response.status_code, json.loads(response.content)


def test_healthz_answers_ok_without_touching_the_database(client):
    # No django_db mark: pytest-django makes any database access in this test raise.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@override_settings(ALLOWED_HOSTS=["hub.example.com"], SECURE_SSL_REDIRECT=True)
def test_probes_answer_a_balancer_calling_the_address_over_plain_http(client, db):
    # A balancer calls the node's address, which is not a public host name, without HTTPS.
    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")
    assert response.status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    # Everything else is still refused or redirected.
    assert client.get("/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400


@pytest.mark.django_db
def test_readyz_is_ok_with_database_redis_and_migrations_and_names_the_unknown_scheduler(client):
    status, body = _ready(client)
    assert status == 200
    assert body == {"status": "ok", "down": [],
                    "checks": {"database": "ok", "redis": "ok", "migrations": "ok", "scheduler": "unknown"}}


@pytest.mark.django_db
def test_readyz_names_redis_when_it_is_unreachable_without_telling_its_address(client):
    with override_settings(REDIS_URL="redis://:s3cret-pass@127.0.0.1:9/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["down"] == ["redis"] and body["checks"]["database"] == "ok"
    assert b"s3cret" not in response.content and b"127.0.0.1" not in response.content


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_is_unreachable(client, monkeypatch):
    def refused():
        raise OSError("connection refused to postgres://user:pw@db")

    monkeypatch.setitem(health.CHECKS, "database", refused)
    status, body = _ready(client)
    assert status == 503
    assert body["down"] == ["database"]
    assert body["checks"]["migrations"] == "unknown"


@pytest.mark.django_db
def test_readyz_names_unapplied_migrations(client, monkeypatch):
    monkeypatch.setattr(health.MigrationExecutor, "migration_plan", lambda self, targets: [("merchant", "0099")])
    status, body = _ready(client)
    assert status == 503 and body["down"] == ["migrations"]


@pytest.mark.django_db
@override_settings(SCHEDULER_TICK_STALE_SECONDS=180)
def test_readyz_names_a_scheduler_whose_last_tick_is_old(client, monkeypatch):
    monkeypatch.setattr(health, "scheduler_last_tick", lambda: timezone.now() - timedelta(seconds=30))
    assert _ready(client) == (200, {"status": "ok", "down": [], "checks": {
        "database": "ok", "redis": "ok", "migrations": "ok", "scheduler": "ok"}})
    monkeypatch.setattr(health, "scheduler_last_tick", lambda: timezone.now() - timedelta(seconds=600))
    status, body = _ready(client)
    assert status == 503 and body["down"] == ["scheduler"]
