"""A streaming reader of one worksheet's XML, on the standard library's expat parser.

openpyxl's read-only parser builds an ElementTree element per cell and an object per inline string,
which made reading the sheet a third of a 100,000-row import (bench/import.py); expat callbacks on plain
values read it about three times faster. Values follow openpyxl's data-only reading (shared strings,
numbers, booleans, dates by cell style), with two differences the import needs: a formula with no
saved result is NO_CACHED_VALUE rather than blank, and error cells are ErrorValues.

Every row is bounded while it is parsed, before its cells pile up: cells with content (max_cells), <c>
elements of any kind (MAX_ROW_ELEMENTS: a row without r= attributes can hold millions), and characters of text
(max_chars, shared strings included). A row past a bound raises RowTooLarge there, so what one parse holds is
a read buffer, the rows of that buffer and one bounded row, however the file was made.
"""
from xml.parsers import expat

from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import from_excel, from_ISO8601

from .cells import NO_CACHED_VALUE, ErrorValue, shown_number

READ_SIZE = 64 * 1024
MAX_ROW_ELEMENTS = 16384  # Excel's column count (A..XFD): no sheet Excel writes has more cells in a row
# Merged ranges kept for the pipeline (each one in the data area makes its rows invalid): past this many the
# sheet is refused rather than the list growing with the file.
MAX_MERGED_RANGES = 10000


class DeclarationRefused(Exception):
    """The sheet declares a DTD or entities."""


class TooManyMergedRanges(Exception):
    """The sheet has more than MAX_MERGED_RANGES merged ranges."""


class RowTooLarge(Exception):
    """A row passed one of the bounds: .what is "cells", "elements" or "characters", .limit the bound."""

    def __init__(self, row: int, what: str, limit: int):
        super().__init__(f"row {row}: more than {limit} {what}")
        self.row, self.what, self.limit = row, what, limit


def _refuse(*args):
    raise DeclarationRefused("it declares XML entities, which are refused")


class SheetRows:
    """Iterate (row number, {column index: value}) over a sheet part; merged ranges are in .merged after."""

    def __init__(self, source, shared_strings, epoch, date_formats=(), timedelta_formats=(), *,
                 max_cells: int, max_chars: int, shown_formats=None):
        self.source, self.shared = source, shared_strings
        self.shown_formats = shown_formats or {}  # style index -> cells.digits_format shape
        self.epoch, self.date_formats, self.timedelta_formats = epoch, date_formats, timedelta_formats
        self.max_cells, self.max_chars = max_cells, max_chars
        self._elements = 0  # <c> elements in the row so far
        self._chars = 0  # characters of text in the row so far (and one per inline text run)
        self.merged: list[str] = []
        self._columns = {}
        self._done = []
        self._row = {}
        self._row_number = 0
        self._cell = None  # [column, type, style, has formula]
        self._text = None  # the text being collected (<v>, or <t> inside an inline string)
        self._value = None
        self._inline = None
        self._phonetic = False

    def __iter__(self):
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._data
        parser.StartDoctypeDeclHandler = _refuse
        parser.EntityDeclHandler = _refuse
        while chunk := self.source.read(READ_SIZE):
            parser.Parse(chunk, False)
            if self._done:
                yield from self._done
                self._done.clear()
        parser.Parse(b"", True)
        yield from self._done
        self._done.clear()

    def _start(self, name, attrs):
        name = name.rpartition(":")[2]
        if name == "c":
            self._elements += 1
            if self._elements > MAX_ROW_ELEMENTS:
                raise RowTooLarge(self._row_number, "elements", MAX_ROW_ELEMENTS)
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                column = self._columns.get(letters)
                if column is None:
                    column = self._columns[letters] = column_index_from_string(letters)
            else:
                column = (self._cell[0] if self._cell else 0) + 1
            style = attrs.get("s")
            self._cell = [column, attrs.get("t", "n"), int(style) if style else 0, False]
            self._value = None
            self._inline = None
        elif name == "v":
            self._text = []
        elif name == "f":
            self._cell[3] = True
        elif name == "is":
            self._inline = []
        elif name == "t" and self._inline is not None and not self._phonetic:
            self._text = []
        elif name == "rPh":
            self._phonetic = True
        elif name == "row":
            number = attrs.get("r")
            self._row_number = int(number) if number else self._row_number + 1
            self._row = {}
            self._cell = None
            self._elements = self._chars = 0
        elif name == "mergeCell":
            if len(self.merged) >= MAX_MERGED_RANGES:
                raise TooManyMergedRanges()
            self.merged.append(attrs.get("ref", "")[:32])  # A1:XFD1048576 is the longest a ref can be

    def _data(self, text):
        if self._text is not None:
            self._chars += len(text)
            if self._chars > self.max_chars:
                raise RowTooLarge(self._row_number, "characters", self.max_chars)
            self._text.append(text)

    def _end(self, name):
        name = name.rpartition(":")[2]
        if name == "v":
            self._value = "".join(self._text)
            self._text = None
        elif name == "t" and self._text is not None:
            self._inline.append("".join(self._text))
            self._text = None
            self._chars += 1  # so a million empty runs count too
            if self._chars > self.max_chars:
                raise RowTooLarge(self._row_number, "characters", self.max_chars)
        elif name == "rPh":
            self._phonetic = False
        elif name == "c":
            value = self._convert()
            if value is not None:
                row = self._row
                row[self._cell[0]] = value
                if len(row) > self.max_cells:
                    raise RowTooLarge(self._row_number, "cells", self.max_cells)
        elif name == "row":
            self._done.append((self._row_number, self._row))
            self._row = {}
            self._cell = None

    def _convert(self):
        column, kind, style, formula = self._cell
        raw = self._value
        if kind == "inlineStr":
            value = "".join(self._inline or ()) or None
        elif raw is None or raw == "":
            return NO_CACHED_VALUE if formula else None
        elif kind == "s":
            value = self.shared[int(raw)]
            # Held once in the table, but each reference is parsed and stored per row downstream.
            self._chars += len(value)
            if self._chars > self.max_chars:
                raise RowTooLarge(self._row_number, "characters", self.max_chars)
        elif kind == "str":
            value = raw
        elif kind == "b":
            return raw.strip() in ("1", "true")
        elif kind == "e":
            return ErrorValue(raw)
        elif kind == "d":
            return from_ISO8601(raw)
        else:
            number = float(raw) if ("." in raw or "E" in raw or "e" in raw) else int(raw)
            if style in self.date_formats:
                try:
                    return from_excel(number, self.epoch, timedelta=style in self.timedelta_formats)
                except (OverflowError, ValueError):
                    return ErrorValue("#VALUE!")
            if self.shown_formats and style in self.shown_formats:
                return shown_number(number, self.shown_formats[style])
            return number
        if isinstance(value, str) and not value.strip():
            return None
        return value
