"""LOG_FORMAT=json: one JSON object per line, for a log shipper that parses lines rather than reads them."""
import json
import logging
from datetime import datetime, timezone


class JsonFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message (arguments applied), request_id, and the traceback
    under `exc` when there is one. A line never spans lines: json.dumps escapes the newlines."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)
