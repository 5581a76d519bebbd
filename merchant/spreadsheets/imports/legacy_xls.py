"""Reading a legacy .xls workbook (BIFF, an OLE container) with xlrd.

xlrd rather than python-calamine: of the two only xlrd gives each cell's number format (calamine returns
12345678905.0 for a barcode shown as 0012345678905, and no format to pad it with). An .xls holds at most
65,536 rows of 256 columns, and xlrd keeps a sheet whole in memory while it is read, so the file's size is
bounded by Limits.max_xls_bytes (IMPORT_MAX_XLS_BYTES), well below the bound for other files; rows and cells
are bounded as for xlsx.
"""
import os

import xlrd
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from openpyxl.utils import get_column_letter

from .cells import ErrorValue, digits_format, shown_number
from .reader import ImportFileError, Source, TEMPLATE_SHEETS, _mb, row_too_large
from .sheet_xml import RowTooLarge

DAMAGED = gettext_noop("The .xls workbook is damaged or not really an Excel workbook, so it cannot be read. Open it "
                       "in Excel or LibreOffice, save it as .xlsx and upload that.")


class _Quiet:
    """xlrd prints its remarks on odd files to a log file, by default standard output: they go nowhere."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


class XlsSource(Source):
    def __init__(self, path: str, limits):
        super().__init__(limits)
        size = os.path.getsize(path)
        if size > limits.max_xls_bytes:
            raise ImportFileError(_("The .xls workbook is %(size)s, more than the %(max)s an old-format workbook may "
                                    "be. Save it as .xlsx in Excel or LibreOffice and upload that.")
                                  % {"size": _mb(size), "max": _mb(limits.max_xls_bytes)})
        try:
            self._book = xlrd.open_workbook(path, formatting_info=True, on_demand=True, ragged_rows=True,
                                            logfile=_Quiet())
        except xlrd.XLRDError as error:
            if "encrypt" in str(error).lower():
                raise ImportFileError(_("The workbook is password-protected. Remove the password and upload it "
                                        "again.")) from None
            raise ImportFileError(_(DAMAGED)) from None
        except Exception:  # xlrd raises many kinds for damaged or hostile files; their words are not the merchant's
            raise ImportFileError(_(DAMAGED)) from None
        book = self._book
        names = book.sheet_names()
        visible, hidden = [], []
        for index, state in enumerate(book._sheet_visibility):  # from the sheet list, without loading sheets
            (visible if state == 0 else hidden).append(index)
        if not visible:
            raise ImportFileError(_("The workbook has no visible worksheet."))
        self._visible = visible
        self.sheet_names = [names[index] for index in visible]
        hidden = [names[index] for index in hidden if names[index] not in TEMPLATE_SHEETS]
        if hidden:
            self.warnings.append(_("Hidden sheets were not read: %(names)s.") % {"names": ", ".join(hidden)})
        self._shapes = {}  # xf index -> digits_format shape or None

    def _sheets(self):
        for index in self._visible:
            sheet = self._book.sheet_by_index(index)
            yield sheet.name, self._sheet_rows(index, sheet), sheet.nrows

    def _shape(self, xf_index: int):
        if xf_index not in self._shapes:
            book = self._book
            fmt = book.format_map.get(book.xf_list[xf_index].format_key) if xf_index < len(book.xf_list) else None
            self._shapes[xf_index] = digits_format(fmt.format_str) if fmt is not None else None
        return self._shapes[xf_index]

    def _sheet_rows(self, index: int, sheet):
        limits, book = self.limits, self._book
        try:
            for row in range(sheet.nrows):
                values, chars = {}, 0
                for column, (kind, value) in enumerate(zip(sheet.row_types(row), sheet.row_values(row)), start=1):
                    if kind == xlrd.XL_CELL_TEXT:
                        if not value.strip():
                            continue
                        chars += len(value)
                        if chars > limits.max_row_chars:
                            raise RowTooLarge(row + 1, "characters", limits.max_row_chars)
                    elif kind == xlrd.XL_CELL_NUMBER:
                        value = int(value) if value.is_integer() else value
                        shape = self._shape(sheet.cell_xf_index(row, column - 1))
                        if shape:
                            value = shown_number(value, shape)
                    elif kind == xlrd.XL_CELL_DATE:
                        try:
                            value = xlrd.xldate.xldate_as_datetime(value, book.datemode)
                        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
                            value = ErrorValue("#VALUE!")
                    elif kind == xlrd.XL_CELL_BOOLEAN:
                        value = bool(value)
                    elif kind == xlrd.XL_CELL_ERROR:
                        value = ErrorValue(xlrd.error_text_from_code.get(value, "#VALUE!"))
                    else:  # empty or blank
                        continue
                    values[column] = value
                    if len(values) > limits.max_columns:
                        raise RowTooLarge(row + 1, "cells", limits.max_columns)
                yield row + 1, values
        except RowTooLarge as error:
            raise row_too_large(error) from None
        finally:
            self.merged_ranges = [f"{get_column_letter(first_col + 1)}{first_row + 1}:"
                                  f"{get_column_letter(last_col)}{last_row}"
                                  for first_row, last_row, first_col, last_col in sheet.merged_cells]
            book.unload_sheet(index)

    def close(self):
        book = getattr(self, "_book", None)
        if book is not None:
            book.release_resources()
