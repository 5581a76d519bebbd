"""Turning spreadsheet cells into typed values, the way merchants actually type them.

Numbers arrive as numbers or as text, with full-width digits (１２３), currency signs or thousands
separators; dates as Excel serial numbers, date-formatted cells or text in the usual Chinese forms.
Each parser returns the value or raises CellError with a reason meant for the merchant.
"""
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _


class CellError(ValueError):
    """A cell whose content cannot be used; str() is the reason."""


class FormulaWithoutValue:
    """A formula cell the file holds no saved result for (written by a program, never opened in Excel)."""

    def __str__(self):
        return "=?"


class ErrorValue(str):
    """An Excel error value such as #N/A or #DIV/0!."""


class ShownNumber(int):
    """A whole number a number format shows otherwise, such as 12345678905 under 0000000000000, shown as
    0012345678905: a number everywhere, and in code columns the text the merchant sees (to_text)."""

    def __new__(cls, value: int, shown: str):
        number = super().__new__(cls, value)
        number.shown = shown
        return number

    def __str__(self):  # also what an error message or the checked workbook repeats of the cell
        return self.shown

    def __reduce__(self):
        return ShownNumber, (int(self), self.shown)


_SHOWN_LITERAL = re.compile(r'"([^"]*)"|\\(.)')


def digits_format(number_format: str):
    """(prefix, digits, suffix) for a format that shows a whole number padded with zeros, with optional literal
    text around it ("0000000000000", "000000", "SKU"0000, \\N0000); None for any other format."""
    section = number_format.split(";", 1)[0]
    parts, position = [], 0
    for match in _SHOWN_LITERAL.finditer(section):
        parts.append(("code", section[position:match.start()]))
        parts.append(("text", match[1] if match[1] is not None else match[2]))
        position = match.end()
    parts.append(("code", section[position:]))
    codes = [text for kind, text in parts if kind == "code" and text]
    if len(codes) != 1 or not re.fullmatch(r"0{2,}", codes[0]):
        return None
    before, after, seen = [], [], False
    for kind, text in parts:
        if kind == "code" and text:
            seen = True
        elif kind == "text":
            (after if seen else before).append(text)
    prefix, suffix = "".join(before), "".join(after)
    if re.search(r"[0-9+-]", prefix + suffix):
        return None
    return prefix, len(codes[0]), suffix


def shown_number(number, shape):
    """number as digits_format's shape shows it, or number unchanged when the shape changes nothing."""
    if number.__class__ is float:
        if not number.is_integer():
            return number
        number = int(number)
    if number < 0:
        return number
    prefix, width, suffix = shape
    shown = f"{prefix}{number:0{width}d}{suffix}"
    return number if shown == str(number) else ShownNumber(number, shown)


NO_CACHED_VALUE = FormulaWithoutValue()
_EXCEL_EPOCH = date(1899, 12, 30)
_MAX_SERIAL = 2958465  # 9999-12-31
_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONEY_NOISE = re.compile(r"[¥￥,，\s]|^CNY|元$", re.IGNORECASE)
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)
_EXACT_FLOAT = 2**53  # integers up to here survive a float; a longer number typed into a cell lost digits


def _check_special(value):
    if value is NO_CACHED_VALUE:
        raise CellError(_("the formula has no saved result: open the file in Excel or LibreOffice and save it, "
                          "or type the value"))
    if isinstance(value, ErrorValue):
        raise CellError(_("the cell holds the error %(error)s") % {"error": value})


def normalise_text(value) -> str:
    """Text as the merchant meant it: full-width letters and digits folded (NFKC), outer spaces removed."""
    return unicodedata.normalize("NFKC", str(value)).strip()


def to_text(value, max_length: int, fold: bool = True) -> str:
    """A text cell; numbers typed into code columns (barcodes) come back without a trailing .0."""
    _check_special(value)
    if value.__class__ is ShownNumber:
        value = value.shown
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, (datetime, date)):
        raise CellError(_("expected text, found a date"))
    text = normalise_text(value) if fold else str(value).strip()
    if len(text) > max_length:
        raise CellError(_("longer than %(max)d characters") % {"max": max_length})
    return text


def to_code(value, max_length: int) -> str:
    """A code that may be all digits (an order or tracking number): kept as text, leading zeros and all. A long
    number the spreadsheet stored as a number has lost its last digits (Excel keeps 15), and one shown as
    1.23457E+18 and saved as text has lost more: both are refused rather than matched to the wrong code."""
    _check_special(value)
    if isinstance(value, float) and value.is_integer() and abs(value) >= _EXACT_FLOAT:
        raise CellError(_("a number this long lost its last digits in the spreadsheet: format the column as text "
                          "and type it again"))
    text = to_text(value, max_length)
    if _SCIENTIFIC.match(text):
        raise CellError(_("the spreadsheet shortened this number to %(text)s: format the column as text and type "
                          "it again") % {"text": text})
    return text


def to_decimal(value) -> Decimal:
    """A number cell or numeric text; raises CellError for anything else (including NaN and infinity)."""
    _check_special(value)
    if isinstance(value, bool) or isinstance(value, (datetime, date)):
        raise CellError(_("not a number"))
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, float):
        # Excel shows and computes with 15 significant digits; a formula's saved result such as =12.3*1.1 is
        # 13.530000000000001 in the file but 13.53 on the merchant's screen. 15 digits also keep 12.3 as 12.3
        # rather than the binary 12.300000000000000710...
        result = Decimal(format(value, ".15g"))
    else:
        text = _MONEY_NOISE.sub("", normalise_text(value))
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise CellError(_("not a number")) from None
    if not result.is_finite():
        raise CellError(_("not a number"))
    return result


def to_int(value) -> int:
    number = to_decimal(value)
    # Size first, by the exponent alone: to_integral_value() and abs() raise decimal.Overflow for text
    # such as 1e999999999, which would stop the whole check instead of failing this cell.
    if number.adjusted() > 9 or abs(number) > 2**31 - 1:
        raise CellError(_("too large"))
    if number != number.to_integral_value():
        raise CellError(_("must be a whole number"))
    return int(number)


def to_date(value) -> date:
    """A date cell, an Excel serial number (1900 date system) or text like 2026-03-01, 2026/3/1,
    2026.3.1, 20260301 (also as a number) or 2026年3月1日."""
    _check_special(value)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        serial = float(value)
        if serial.is_integer() and _COMPACT_DATE.match(str(int(serial))):
            # 20260301 typed into a cell is stored as a number; no serial number is that large (see _MAX_SERIAL).
            return to_date(str(int(serial)))
        if not 1 <= serial <= _MAX_SERIAL:
            raise CellError(_("not a date"))
        return _EXCEL_EPOCH + timedelta(days=int(serial))
    text = normalise_text(value)
    match = _DATE_TEXT.match(text) or _COMPACT_DATE.match(text)
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    elif re.fullmatch(r"\d{1,7}(\.\d+)?", text):  # a serial number stored as text
        return to_date(float(text))
    raise CellError(_("not a date (use a date cell or text such as 2026-03-01)"))
