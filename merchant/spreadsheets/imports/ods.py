"""Reading an OpenDocument spreadsheet (.ods, LibreOffice's own format) by streaming its content.xml through expat.

An .ods cell keeps its value (office:value) and the text the spreadsheet shows (<text:p>): a barcode
12345678905 under a 0000000000000 format is kept as a cells.ShownNumber showing 0012345678905, read from the
shown text itself, so no format needs interpreting. LibreOffice writes the empty rest of a sheet as one row
repeated a million times and empty cells as one cell repeated 16,000 times: repeats of nothing only move the
position, and repeats of content are bounded like other rows (cells, sheet end, row count downstream).

The zip is checked like an xlsx (unpacked size, ratios, DTD in any XML part), and the parser refuses a DTD too.
"""
import re
import zipfile
from datetime import datetime
from xml.parsers import expat

from django.utils.translation import gettext as _
from openpyxl.utils import get_column_letter

from .cells import NO_CACHED_VALUE, ErrorValue, ShownNumber
from .reader import (
    MAX_SHEET_ROW, TEMPLATE_SHEETS, ImportFileError, Source, _describe, check_zip, row_too_large,
)
from .sheet_xml import MAX_MERGED_RANGES, MAX_ROW_ELEMENTS, READ_SIZE, DeclarationRefused, RowTooLarge, _refuse

_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
_CALCEXT = "urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0"
_SHOWN = re.compile(r"([^\d+\-\s.,]*)(\d+)([^\d+\-\s.,]*)")  # 0012345678905, SKU0012


class _End(Exception):
    """The sheet being read has ended: stop parsing."""


class OdsRows:
    """With sheet None: collects .sheets, [(name, hidden)], in order. Otherwise iterates (row number, {column:
    value}) over that sheet, with its merged ranges in .merged after."""

    def __init__(self, archive: zipfile.ZipFile, sheet: str | None, *, max_cells: int, max_chars: int):
        self.archive, self.sheet = archive, sheet
        self.max_cells, self.max_chars = max_cells, max_chars
        self.sheets: list[tuple[str, bool]] = []
        self.merged: list[str] = []
        self._hidden_styles: set[str] = set()
        self._style = None  # the table style being read
        self._inside = False  # within the sheet asked for
        self._row_number = 0
        self._row: dict = {}
        self._row_repeat = 1
        self._column = 0
        self._cell = None  # (value type, value attrs, repeat, has formula)
        self._paragraphs = None  # the cell's <text:p> texts
        self._text = None
        self._annotation = 0  # depth inside a comment, whose text is not the cell's
        self._chars = 0
        self._done = []

    def __iter__(self):
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._data
        parser.StartDoctypeDeclHandler = _refuse
        parser.EntityDeclHandler = _refuse
        with self.archive.open("content.xml") as source:
            try:
                while chunk := source.read(READ_SIZE):
                    parser.Parse(chunk, False)
                    yield from self._expanded()
                parser.Parse(b"", True)
            except _End:
                pass
            yield from self._expanded()

    def _expanded(self):
        done, self._done = self._done, []
        for number, values, repeat in done:
            for offset in range(repeat):
                yield number + offset, dict(values) if offset else values

    def _start(self, name, attrs):
        space, _sep, local = name.rpartition(" ")
        if space == _TABLE:
            if local == "table-cell" or local == "covered-table-cell":
                self._start_cell(local, attrs)
            elif local == "table-row":
                self._row_number += 1
                self._row, self._column, self._chars = {}, 0, 0
                self._row_repeat = int(attrs.get(f"{_TABLE} number-rows-repeated", "1"))
            elif local == "table":
                self._start_table(attrs)
        elif space == _TEXT and self._paragraphs is not None and not self._annotation:
            if local == "p":
                self._text = []
            elif self._text is not None:
                if local == "s":
                    self._add(" " * min(int(attrs.get(f"{_TEXT} c", "1")), self.max_chars + 1))
                elif local == "tab":
                    self._add("\t")
                elif local == "line-break":
                    self._add("\n")
        elif space == _OFFICE and local == "annotation":
            self._annotation += 1
        elif space == _STYLE and local == "style" and attrs.get(f"{_STYLE} family") == "table":
            self._style = attrs.get(f"{_STYLE} name")
        elif space == _STYLE and local == "table-properties" and attrs.get(f"{_TABLE} display") == "false":
            self._hidden_styles.add(self._style)

    def _start_table(self, attrs):
        name = attrs.get(f"{_TABLE} name", "")
        if self.sheet is None:
            self.sheets.append((name, attrs.get(f"{_TABLE} style-name") in self._hidden_styles))
        self._inside = name == self.sheet
        self._row_number = 0

    def _start_cell(self, local, attrs):
        repeat = int(attrs.get(f"{_TABLE} number-columns-repeated", "1"))
        if not self._inside or local == "covered-table-cell":
            self._column += repeat
            self._cell = None
            return
        self._column += 1
        across = int(attrs.get(f"{_TABLE} number-columns-spanned", "1"))
        down = int(attrs.get(f"{_TABLE} number-rows-spanned", "1"))
        if across > 1 or down > 1:
            if len(self.merged) >= MAX_MERGED_RANGES:
                raise TooManyMerged()
            self.merged.append(f"{get_column_letter(self._column)}{self._row_number}:"
                               f"{get_column_letter(min(self._column + across - 1, MAX_ROW_ELEMENTS))}"
                               f"{min(self._row_number + down - 1, MAX_SHEET_ROW)}")
        self._cell = (attrs.get(f"{_OFFICE} value-type"), attrs, repeat, f"{_TABLE} formula" in attrs)
        self._paragraphs = []

    def _add(self, text):
        self._chars += len(text)
        if self._chars > self.max_chars:
            raise RowTooLarge(self._row_number, "characters", self.max_chars)
        self._text.append(text)

    def _data(self, text):
        if self._text is not None and not self._annotation:
            self._add(text)

    def _end(self, name):
        space, _sep, local = name.rpartition(" ")
        if space == _TEXT and local == "p" and self._text is not None:
            self._paragraphs.append("".join(self._text))
            self._text = None
        elif space == _OFFICE and local == "annotation":
            self._annotation -= 1
        elif space != _TABLE or not self._inside:
            return
        elif local == "table-cell" and self._cell is not None:
            self._end_cell()
        elif local == "table-row":
            if self._row:
                if self._row_number + self._row_repeat - 1 > MAX_SHEET_ROW:
                    raise PastLastRow(self._row_number)
                self._done.append((self._row_number, self._row, self._row_repeat))
            self._row_number += self._row_repeat - 1
            self._row = {}
        elif local == "table":
            raise _End()

    def _end_cell(self):
        kind, attrs, repeat, formula = self._cell
        shown = "\n".join(self._paragraphs)
        self._cell, self._paragraphs = None, None
        value = self._value(kind, attrs, shown, formula)
        if value is None or (isinstance(value, str) and not value.strip()):
            self._column += repeat - 1
            return
        if self._column + repeat - 1 > MAX_ROW_ELEMENTS:
            raise RowTooLarge(self._row_number, "elements", MAX_ROW_ELEMENTS)
        row = self._row
        for column in range(self._column, self._column + repeat):
            row[column] = value
        self._column += repeat - 1
        if len(row) > self.max_cells:
            raise RowTooLarge(self._row_number, "cells", self.max_cells)

    @staticmethod
    def _value(kind, attrs, shown, formula):
        if attrs.get(f"{_CALCEXT} value-type") == "error":
            return ErrorValue(shown or "#VALUE!")
        if kind in ("float", "percentage", "currency"):
            raw = attrs.get(f"{_OFFICE} value", "")
            try:
                number = float(raw)
            except ValueError:
                return ErrorValue("#VALUE!")
            if not number.is_integer() or abs(number) >= 2**63:
                return number
            number = int(number)
            match = _SHOWN.fullmatch(shown)
            if kind == "float" and match and shown != str(number) and int(match[2]) == number:
                return ShownNumber(number, shown)
            return number
        if kind == "date":
            try:
                return datetime.fromisoformat(attrs.get(f"{_OFFICE} date-value", ""))
            except ValueError:
                return ErrorValue("#VALUE!")
        if kind == "boolean":
            return attrs.get(f"{_OFFICE} boolean-value") == "true"
        if kind is None:
            return NO_CACHED_VALUE if formula else None
        if f"{_OFFICE} string-value" in attrs:
            return attrs[f"{_OFFICE} string-value"]
        return shown  # string, and time shown as the spreadsheet shows it


class TooManyMerged(Exception):
    """The sheet has more than MAX_MERGED_RANGES merged ranges."""


class PastLastRow(Exception):
    """A row with content lies (or repeats) past the last row a sheet may have."""

    def __init__(self, row: int):
        super().__init__(row)
        self.row = row


class OdsSource(Source):
    def __init__(self, path: str, limits):
        super().__init__(limits)
        check_zip(path, limits, "content.xml")
        try:
            self._archive = zipfile.ZipFile(path)
            names = self._archive.namelist()
            manifest = self._archive.read("META-INF/manifest.xml") if "META-INF/manifest.xml" in names else b""
        except (zipfile.BadZipFile, OSError, ValueError):
            raise ImportFileError(_("The workbook is damaged (not a readable zip archive).")) from None
        if b"encryption-data" in manifest:
            self._archive.close()
            raise ImportFileError(_("The workbook is password-protected. Remove the password (File > Properties "
                                    "> Security in LibreOffice) and upload it again."))
        lister = OdsRows(self._archive, None, max_cells=limits.max_columns, max_chars=limits.max_row_chars)
        for _row in self._guard(lister):
            pass
        visible = [name for name, hidden in lister.sheets if not hidden]
        if not visible:
            self._archive.close()
            raise ImportFileError(_("The workbook has no visible worksheet."))
        self.sheet_names = visible
        hidden = [name for name, hidden in lister.sheets if hidden and name not in TEMPLATE_SHEETS]
        if hidden:
            self.warnings.append(_("Hidden sheets were not read: %(names)s.") % {"names": ", ".join(hidden)})

    def _sheets(self):
        for name in self.sheet_names:
            parser = OdsRows(self._archive, name, max_cells=self.limits.max_columns,
                             max_chars=self.limits.max_row_chars)
            yield name, self._rows_of(parser), None

    def _rows_of(self, parser: OdsRows):
        yield from self._guard(parser)
        self.merged_ranges = parser.merged

    @staticmethod
    def _guard(parser: OdsRows):
        """The parser's rows, its failures in the merchant's words."""
        try:
            yield from parser
        except RowTooLarge as error:
            raise row_too_large(error) from None
        except PastLastRow as error:
            raise ImportFileError(_("The worksheet is malformed: row %(row)d repeats beyond the last row a sheet "
                                    "may have (%(max)s). Save it again in LibreOffice.")
                                  % {"row": error.row, "max": f"{MAX_SHEET_ROW:,}"}) from None
        except TooManyMerged:
            raise ImportFileError(_("The worksheet has more than %(max)s merged ranges. Unmerge the cells and upload "
                                    "it again.") % {"max": f"{MAX_MERGED_RANGES:,}"}) from None
        except DeclarationRefused:
            raise ImportFileError(_("The worksheet cannot be read (%(error)s).")
                                  % {"error": _("it declares XML entities, which are refused")}) from None
        except Exception as error:
            raise ImportFileError(_("The worksheet cannot be read (%(error)s).")
                                  % {"error": _describe(error)}) from None

    def close(self):
        archive = getattr(self, "_archive", None)
        if archive is not None:
            archive.close()
