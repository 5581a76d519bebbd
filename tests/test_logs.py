"""Logs a person can read: an expected 403 or 404 is one line without a traceback; the favicon is served, so
browsers' requests for it do not log 404s."""
import logging

import pytest
from django.urls import reverse

from config.log_filters import ExpectedRefusalsWithoutTraceback


def _printed(caplog) -> str:
    """The django.request lines as the console handler prints them (tracebacks included)."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records if r.name == "django.request")


def test_a_refused_role_logs_one_line_with_the_reason(client_viewer, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client_viewer.get(reverse("team")).status_code == 403
    printed = _printed(caplog)
    assert "Forbidden (Permission denied): /team/ (Role viewer may not users.)" in printed
    assert "Traceback" not in printed
    assert len(printed.splitlines()) == 1


def test_another_merchants_product_logs_not_found_without_a_traceback(client_owner, outsider_product, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert client_owner.get(reverse("product_detail", args=[outsider_product.pk])).status_code == 404
    printed = _printed(caplog)
    assert f"Not Found: /products/{outsider_product.pk}/" in printed
    assert "Traceback" not in printed


def _record(status, exc_info):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Refused: %s", ("/x/",), exc_info)
    record.status_code = status
    return record


def _exc_info(exc):
    try:
        raise exc
    except Exception as caught:
        return (type(caught), caught, caught.__traceback__)


@pytest.mark.parametrize("status", [500, 400, None])
def test_other_answers_keep_their_traceback(status):
    record = _record(status, _exc_info(ValueError("boom")))
    assert ExpectedRefusalsWithoutTraceback().filter(record)
    assert "Traceback" in logging.Formatter().format(record)


def test_the_filter_keeps_the_record_and_its_message():
    from django.core.exceptions import PermissionDenied

    record = _record(403, _exc_info(PermissionDenied("No merchant account.")))
    assert ExpectedRefusalsWithoutTraceback().filter(record)
    assert logging.Formatter().format(record) == "Refused: /x/ (No merchant account.)"


def test_favicon_is_served_and_linked(client, client_owner):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")
    assert "max-age" in response["Cache-Control"]
    page = client_owner.get(reverse("dashboard")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert client.get("/static/favicon.svg").status_code == 200
