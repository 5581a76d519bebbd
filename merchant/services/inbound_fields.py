"""JSON items from automatic channels (the Open API, the ERP bridge) as typed bulk Items.

The field names and parsers are the import's columns (merchant/spreadsheets/imports/columns.py), so an
ERP value and a spreadsheet cell go through the same rules; JSON is stricter about types than a cell is:
text must be a string, whole numbers integers, and money a number or a numeric string (read as Decimal,
never float, so 12.345 stays three decimals and is refused).
"""
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from merchant.spreadsheets.imports import cells
from merchant.spreadsheets.imports.columns import KIND_COLUMNS, Column
from merchant.validators import storable_text

from .bulk.common import Item

LISTING = (
    Column("erp_product_id", "", "", KIND_COLUMNS["stock"][0].parse, "always"),
    Column("listed", "", "", None, "always"),
)
KIND_FIELDS = {**{kind: columns for kind, columns in KIND_COLUMNS.items()}, "listing": LISTING}


def json_type(column: Column) -> str:
    """The JSON Schema type of a column's value: string, integer, number (money), date or boolean."""
    if column.key == "listed":
        return "boolean"
    return {cells.to_decimal: "number", cells.to_int: "integer", cells.to_date: "date"}.get(
        column.parse, "string")


def _value(column: Column, raw):
    kind = json_type(column)
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise cells.CellError(_("expected true or false"))
        return raw
    if kind == "integer":
        if isinstance(raw, bool) or not isinstance(raw, (int, Decimal)):
            raise cells.CellError(_("expected a whole number"))
        return cells.to_int(raw)
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, Decimal, str)):
            raise cells.CellError(_("expected a number"))
        return cells.to_decimal(raw)
    if kind == "date":
        if not isinstance(raw, str):
            raise cells.CellError(_("expected a date as text, such as 2026-03-01"))
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise cells.CellError(_("not a date (use YYYY-MM-DD)")) from None
    if not isinstance(raw, str):
        raise cells.CellError(_("expected a string"))
    if not storable_text(raw):
        raise cells.CellError(_("contains a character that text cannot hold (NUL or an unpaired surrogate)"))
    return column.parse(raw)


def item_from_json(kind: str, ref: int, raw) -> Item:
    """One JSON object as an Item: typed values of the fields it gives (null or "" means not given, as a
    blank cell does), and per field the reason a value cannot be used. Unknown fields are errors, so a
    misspelt field name is not silently ignored."""
    if not isinstance(raw, dict):
        return Item(ref, {}, {"": _("expected an object")})
    columns = {column.key: column for column in KIND_FIELDS[kind]}
    values, errors = {}, {}
    for name, value in raw.items():
        column = columns.get(name)
        if column is None:
            # The name is echoed in the answer, which an idempotent write stores: escape what cannot be stored.
            errors[name if storable_text(name) else name.encode("unicode_escape").decode("ascii")] = _("unknown field")
            continue
        if value is None or value == "":
            continue
        try:
            parsed = _value(column, value)
        except cells.CellError as error:
            errors[name] = str(error)
            continue
        # Text that is only spaces or control characters is blank once normalised, and blank means not given (as
        # a blank cell does): a key of "" would otherwise pass as given and match no record without an error.
        if parsed != "":
            values[name] = parsed
    for column in KIND_FIELDS[kind]:
        if column.required == "always" and column.key not in values and column.key not in errors:
            errors[column.key] = _("required")
    if kind == "customer_codes":
        values.pop("customer_name", None)  # for the sender's reference only, as in the import
    return Item(ref, values, errors)


def item_to_json(values: dict) -> dict:
    """Typed values back to JSON-safe ones (held items are stored as JSON)."""
    return {name: (str(value) if isinstance(value, (Decimal, date)) else value) for name, value in values.items()}


def item_from_stored(kind: str, ref: int, stored: dict) -> Item:
    """A held item (stored by item_to_json) as an Item again."""
    columns = {column.key: column for column in KIND_FIELDS[kind]}
    values = {}
    for name, value in stored.items():
        kind_of = json_type(columns[name])
        values[name] = (Decimal(value) if kind_of == "number" else date.fromisoformat(value) if kind_of == "date"
                        else value)
    return Item(ref, values)
