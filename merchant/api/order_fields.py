"""Reading the objects of the order endpoints: typed values, and per field path (items[2].lines[0].quantity)
the reason a value cannot be used. As in the catalog endpoints, null or "" means not given, and an unknown
field is an error, so a misspelt name is not silently ignored."""
import re
from datetime import UTC, date, datetime

from django.utils.translation import gettext as _

EXAMPLE_MOMENT = "2026-03-01T08:00:00+08:00"
# A "+" left unencoded in a query string arrives as a space: "...T08:00:00 08:00" means "+08:00".
_SPACED_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")


def parse_moment(text: str) -> datetime:
    """An aware datetime from ISO 8601 text; raises ValueError with the reason."""
    if not isinstance(text, str):
        raise ValueError(_("expected an ISO 8601 time with a UTC offset, such as %(example)s") % {
            "example": EXAMPLE_MOMENT})
    try:
        moment = datetime.fromisoformat(_SPACED_OFFSET.sub(r"\1+\2", text.strip().upper()))  # RFC 3339 allows t, z
    except ValueError:
        raise ValueError(_("not an ISO 8601 time with a UTC offset, such as %(example)s") % {
            "example": EXAMPLE_MOMENT}) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(_("the time has no UTC offset; give an ISO 8601 time with a UTC offset, such as "
                           "%(example)s") % {"example": EXAMPLE_MOMENT})
    try:
        # Stored and compared in UTC, and shown in Asia/Shanghai: both must exist (year 1 to 9999).
        moment.astimezone(UTC)
        if not 2 <= moment.year <= 9998:
            raise OverflowError
    except OverflowError:
        raise ValueError(_("the time is out of range")) from None
    # The same instant in UTC: ISO 8601 allows offsets up to 23:59, PostgreSQL only up to 15:59.
    return moment.astimezone(UTC)


class Fields:
    """The values of one JSON object at `path`, read field by field; problems collect in `errors`
    (field path -> message) instead of stopping at the first."""

    def __init__(self, raw, path: str, known: tuple[str, ...], errors: dict | None = None):
        self.path = path
        self.errors = {} if errors is None else errors
        self.is_object = isinstance(raw, dict)
        if not self.is_object:
            self.errors[path] = _("expected an object")
            raw = {}
        for name in raw:
            if name not in known:
                self.errors[self.at(name)] = _("unknown field")
        self.raw = raw

    def at(self, name: str) -> str:
        return f"{self.path}.{name}"

    def error(self, name: str, message: str) -> None:
        """Record the first problem of a field (a value that is not an object has only that one)."""
        if self.is_object:
            self.errors.setdefault(self.at(name) if name else self.path, message)

    def given(self, name: str) -> bool:
        return self.raw.get(name) not in (None, "")

    def _missing(self, name: str, required: bool) -> bool:
        if self.given(name):
            return False
        if required:
            self.error(name, _("required"))
        return True

    def text(self, name: str, max_length: int, required: bool = False) -> str:
        if self._missing(name, required):
            return ""
        value = self.raw[name]
        if not isinstance(value, str):
            self.error(name, _("expected a string"))
            return ""
        value = value.strip()
        if "\x00" in value:  # PostgreSQL text cannot hold it
            self.error(name, _("contains a NUL character"))
            return ""
        if not value and required:
            self.error(name, _("required"))
        if len(value) > max_length:
            self.error(name, _("longer than %(max)s characters") % {"max": max_length})
            return ""
        return value

    def choice(self, name: str, choices, required: bool = False) -> str:
        value = self.text(name, 40, required)
        if value and value not in choices:
            self.error(name, _("expected one of: %(values)s") % {"values": ", ".join(choices)})
            return ""
        return value

    def integer(self, name: str, minimum: int, maximum: int = 2**31 - 1, required: bool = False) -> int | None:
        if self._missing(name, required):
            return None
        value = self.raw[name]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, _("expected a whole number"))
            return None
        if not minimum <= value <= maximum:
            self.error(name, _("expected a whole number from %(min)s to %(max)s") % {"min": minimum, "max": maximum})
            return None
        return value

    def day(self, name: str) -> date | None:
        if self._missing(name, False):
            return None
        value = self.raw[name]
        try:
            if not isinstance(value, str):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            self.error(name, _("not a date (use YYYY-MM-DD)"))
            return None

    def moment(self, name: str) -> datetime | None:
        if self._missing(name, False):
            return None
        try:
            return parse_moment(self.raw[name])
        except ValueError as error:
            self.error(name, str(error))
            return None

    def objects(self, name: str, max_items: int) -> list:
        """A required, non-empty list (of objects, checked by the caller)."""
        if self._missing(name, True):
            return []
        value = self.raw[name]
        if not isinstance(value, list) or not value:
            self.error(name, _("expected a non-empty list of objects"))
            return []
        if len(value) > max_items:
            self.error(name, _("at most %(max)s entries") % {"max": max_items})
            return []
        return value

    def errors_json(self) -> list[dict]:
        return [{"field": field, "message": message} for field, message in self.errors.items()]
