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
    if isinstance(value, float) and value.is_integer():
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
