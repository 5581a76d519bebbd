"""Filters that keep the server log readable."""
import logging

# Answers the app gives on purpose: a role without the right (403), an id of another merchant or of nothing (404).
EXPECTED_STATUSES = frozenset({403, 404})


class ExpectedRefusalsWithoutTraceback(logging.Filter):
    """Django logs a PermissionDenied with its traceback (django.request, "Forbidden (Permission denied)"):
    many lines for an answer the app means to give. Keep the one line, with the reason the view gave, and
    leave tracebacks to real errors."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) in EXPECTED_STATUSES and record.exc_info:
            reason = str(record.exc_info[1] or "")
            if reason:
                record.msg = f"{record.msg} (%s)"
                record.args = (*(record.args or ()), reason)
            record.exc_info = None
            record.exc_text = None
        return True
