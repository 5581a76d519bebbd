"""Reading an uploaded file row by row without trusting it.

Before openpyxl sees an xlsx we check it is a zip at all (a password-protected workbook is an OLE
container, as is a legacy .xls), that its declared uncompressed size and compression ratios are sane
(zip bombs), that it holds a workbook, and that no XML part declares a DTD (where entity expansion
attacks live). Rows are streamed: memory does not grow with the row count, and each row is bounded while it
is read (cells with content, cells of any kind, characters of text), so no one row can grow without bound either.
"""
import codecs
import csv
import os
import re
import zipfile
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.styles.numbers import BUILTIN_FORMATS_MAX_SIZE
from openpyxl.utils.cell import column_index_from_string
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from .sheet_xml import (
    MAX_MERGED_RANGES, MAX_ROW_ELEMENTS, DeclarationRefused, RowTooLarge, SheetRows, TooManyMergedRanges,
)
from .cells import digits_format
from .columns import DuplicateColumns
from .template import CARRIERS_SHEET, LISTS_SHEET, NOTES_SHEET

_FULL_DIMENSION = re.compile(r'<(?:\w+:)?dimension\s+ref="([A-Z]+)(\d+):([A-Z]+)(\d+)"')
MAX_WHOLE_PART = 160 * 1024 * 1024  # keeps a shared-strings table within the import's memory bar
_WHOLE_PARTS = ("xl/sharedStrings.xml", "xl/styles.xml")  # openpyxl holds these whole even in read-only mode
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
MAX_SHEET_ROW = 1048576  # Excel's last row
# The template's notes, dropdown-list and carriers sheets are expected beside the data: never worth a warning.
TEMPLATE_SHEETS = {NOTES_SHEET, LISTS_SHEET, CARRIERS_SHEET}


def _head_dimension(worksheet) -> None:
    """Replaces ReadOnlyWorksheet._get_size, which every read-only load runs for every sheet: when a sheet
    has no <dimension> element (streamed writers leave it out) openpyxl's version parses the whole sheet to
    find out. The element, when present, is at the very start."""
    with worksheet._get_source() as source:
        head = source.read(4096).decode("utf-8", "replace")
    match = _FULL_DIMENSION.search(head)
    if match:
        worksheet._min_column, worksheet._min_row = column_index_from_string(match[1]), int(match[2])
        worksheet._max_column, worksheet._max_row = column_index_from_string(match[3]), int(match[4])


ReadOnlyWorksheet._get_size = _head_dimension


class ImportFileError(Exception):
    """The file as a whole cannot be imported; str() is the reason, for the merchant."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_rows: int
    max_uncompressed: int
    max_ratio: int
    max_columns: int = 200  # cells with content in any one row
    max_row_chars: int = 1024 * 1024  # characters of text in any one row
    max_xls_bytes: int = 32 * 1024 * 1024  # a legacy .xls is read whole into memory

    @classmethod
    def from_settings(cls) -> "Limits":
        return cls(
            max_bytes=settings.IMPORT_MAX_BYTES, max_rows=settings.IMPORT_MAX_ROWS,
            max_uncompressed=settings.IMPORT_MAX_UNCOMPRESSED_BYTES, max_ratio=settings.IMPORT_MAX_COMPRESSION_RATIO,
            max_columns=settings.IMPORT_MAX_COLUMNS, max_row_chars=settings.IMPORT_MAX_ROW_CHARS,
            max_xls_bytes=settings.IMPORT_MAX_XLS_BYTES,
        )


def row_too_large(error: RowTooLarge) -> ImportFileError:
    """The refusal of a row past a bound, in the merchant's words."""
    values = {"row": error.row, "max": f"{error.limit:,}"}
    if error.what == "cells":
        return ImportFileError(_("Row %(row)d has more than %(max)s cells with content, the most one row may have. "
                                 "Delete what lies beyond the last column and upload the file again.") % values)
    if error.what == "characters":
        return ImportFileError(_("Row %(row)d holds more than %(max)s characters of text, the most one row may "
                                 "have. Shorten its cells and upload the file again.") % values)
    return ImportFileError(_("Row %(row)d has more than %(max)s cells, more than Excel allows in a row: the "
                             "worksheet is malformed. Save it again in Excel or LibreOffice.") % values)


def _mb(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / 1024 / 1024:,.0f} MB"


class Source:
    """Rows of one sheet: header (column index -> value), then data rows as (row number, {index: value})."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.header_row = 0
        self.header: dict[int, object] = {}
        self.warnings: list[str] = []
        self.merged_ranges: list[str] = []
        self.estimate: int | None = None
        self.sheet_name = ""  # the sheet read
        self.sheet_names: list[str] = []  # the visible sheets, in order

    def _raw_rows(self):
        raise NotImplementedError

    def _sheets(self):
        """(sheet name, rows, estimated last row) of each sheet that may hold the data, in workbook order; a CSV
        file is one sheet without a name."""
        yield "", self._raw_rows(), None

    def open(self, is_header=None) -> "Source":
        """Read up to the header row of the first sheet that has one: the first row with content for which
        is_header(values) holds, among the first few of the sheet (a title row above the header is common). With
        is_header None the first row with content is the header."""
        read = []  # (sheet name, first row with content) of the sheets without a header
        for name, rows, estimate in self._sheets():
            first = None
            try:
                for number, values in rows:
                    if not values:
                        continue
                    first = first or number
                    if is_header is None or self._is_header(is_header, values, name, number):
                        self.header_row, self.header, self.sheet_name = number, values, name
                        self._rows, self.estimate = rows, estimate
                        self._note_sheets(name)
                        return self
                    if number - first >= 20:
                        break
            except ImportFileError as error:
                rows.close()
                raise self._on_sheet(error, name) from None
            except BaseException:
                rows.close()
                raise
            rows.close()
            if first is not None:
                read.append((name, first))
        if not read:
            raise ImportFileError(_("The file is empty: no header row was found."))
        if len(read) == 1 and not read[0][0]:
            raise ImportFileError(_("No header row naming the columns was found (row %(row)d was read as the "
                                    "header). Download the template to see the expected headers.")
                                  % {"row": read[0][1]})
        if len(read) == 1:
            raise ImportFileError(_("No header row naming the columns was found (row %(row)d of sheet %(sheet)s was "
                                    "read as the header). Download the template to see the expected headers.")
                                  % {"row": read[0][1], "sheet": read[0][0]})
        tried = ", ".join(_("%(sheet)s from row %(row)d") % {"sheet": name, "row": row} for name, row in read)
        raise ImportFileError(_("No header row naming the columns was found on any sheet (read: %(sheets)s). Put "
                                "the column names above the data (download the template to see them) and upload "
                                "the file again.") % {"sheets": tried})

    @staticmethod
    def _is_header(is_header, values, sheet: str, row: int) -> bool:
        try:
            return is_header(values)
        except DuplicateColumns as error:
            raise ImportFileError(_("Row %(row)d: ") % {"row": row} + str(error)) from None

    def _on_sheet(self, error: ImportFileError, sheet: str) -> ImportFileError:
        """The refusal naming the sheet it concerns, when the workbook has more than one to tell apart."""
        if len(self.sheet_names) < 2:
            return error
        return ImportFileError(_("Sheet %(sheet)s: %(reason)s") % {"sheet": sheet, "reason": error})

    def _note_sheets(self, chosen: str) -> None:
        """Say which sheet was read when the workbook has others, the template's own sheets aside."""
        others = [name for name in self.sheet_names if name != chosen and name not in TEMPLATE_SHEETS]
        if others:
            self.warnings.append(_("Read sheet %(sheet)s; skipped %(skipped)s.")
                                 % {"sheet": chosen, "skipped": ", ".join(others)})

    def rows(self):
        """Data rows with some content; blank rows anywhere are skipped. Raises ImportFileError past the row
        limit."""
        count, rows = 0, self._rows
        try:
            for number, values in rows:
                if not values:
                    continue
                count += 1
                if count > self.limits.max_rows:
                    raise ImportFileError(_("The file has more than %(max)s data rows, the most one import takes. "
                                            "Split it into several files.") % {"max": f"{self.limits.max_rows:,}"})
                yield number, values
        except ImportFileError as error:
            if count > self.limits.max_rows:
                raise
            raise self._on_sheet(error, self.sheet_name) from None

    def close(self):
        pass


class XlsxSource(Source):
    def __init__(self, path: str, limits: Limits):
        super().__init__(limits)
        check_zip(path, limits, "xl/workbook.xml", (_WHOLE_PARTS))
        try:
            self._workbook = load_workbook(path, read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for damaged or hostile files
            raise ImportFileError(_("The workbook cannot be read (%(error)s). Save it again as .xlsx in Excel "
                                    "or LibreOffice.") % {"error": _describe(error)}) from None
        sheets = self._workbook.worksheets
        visible = [ws for ws in sheets if ws.sheet_state == "visible"]
        if not visible:
            raise ImportFileError(_("The workbook has no visible worksheet."))
        self._visible = visible
        self.sheet_names = [ws.title for ws in visible]
        hidden = [ws.title for ws in sheets if ws.sheet_state != "visible" and ws.title not in TEMPLATE_SHEETS]
        if hidden:
            self.warnings.append(_("Hidden sheets were not read: %(names)s.") % {"names": ", ".join(hidden)})
        self._shown = _shown_formats(self._workbook)

    def _sheets(self):
        for ws in self._visible:
            yield ws.title, self._sheet_rows(ws), getattr(ws, "_max_row", None)  # from <dimension>

    def _sheet_rows(self, ws):
        wb = self._workbook
        source = ws._get_source()
        parser = SheetRows(source, ws._shared_strings, epoch=wb.epoch, date_formats=wb._date_formats,
                           timedelta_formats=wb._timedelta_formats, max_cells=self.limits.max_columns,
                           max_chars=self.limits.max_row_chars, shown_formats=self._shown)
        last = 0
        try:
            for number, cells in parser:
                # Excel writes rows in ascending order up to its last row. A crafted row number (0, negative,
                # repeated, or 2,000,000,000) would upset the bookkeeping by row number downstream.
                if not last < number <= MAX_SHEET_ROW:
                    raise ImportFileError(_("The worksheet is malformed: row %(row)d is out of order or beyond "
                                            "Excel's last row. Save it again in Excel or LibreOffice.")
                                          % {"row": number})
                last = number
                yield number, cells
        except ImportFileError:
            raise
        except RowTooLarge as error:
            raise row_too_large(error) from None
        except TooManyMergedRanges:
            raise ImportFileError(_("The worksheet has more than %(max)s merged ranges. Unmerge the cells (select all, "
                                    "then Merge & Center > Unmerge Cells) and upload it again.")
                                  % {"max": f"{MAX_MERGED_RANGES:,}"}) from None
        except DeclarationRefused:
            raise ImportFileError(_("The worksheet cannot be read (%(error)s).")
                                  % {"error": _("it declares XML entities, which are refused")}) from None
        except Exception as error:
            raise ImportFileError(_("The worksheet cannot be read (%(error)s).") % {"error": _describe(error)}) from None
        finally:
            source.close()
        self.merged_ranges = parser.merged


def _shown_formats(workbook) -> dict:
    """Style index -> cells.digits_format shape, for the styles whose number format pads whole numbers with
    zeros (a barcode 12345678905 under 0000000000000 is shown, and meant, as 0012345678905)."""
    shown = {}
    custom = workbook._number_formats
    for index, style in enumerate(workbook._cell_styles):
        number_id = style.numFmtId
        if number_id >= BUILTIN_FORMATS_MAX_SIZE and number_id - BUILTIN_FORMATS_MAX_SIZE < len(custom):
            shape = digits_format(custom[number_id - BUILTIN_FORMATS_MAX_SIZE])
            if shape:
                shown[index] = shape
    return shown

    def close(self):
        self._workbook.close()


def check_zip(path: str, limits: Limits, required: str, whole_parts=()) -> None:
    """Refuse a zip workbook (xlsx or ods) that lacks its required part, unpacks too large or too abnormally
    compressed, is encrypted or has an XML part declaring a DTD; whole_parts are read whole by the parser and
    bounded by MAX_WHOLE_PART."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(_("The workbook is damaged (not a readable zip archive).")) from None
    names = {info.filename for info in infos}
    if required not in names or len(infos) > 10000:
        raise ImportFileError(_("The file is a zip archive but not an Excel workbook."))
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed:
        raise ImportFileError(_("The workbook unpacks to %(size)s, more than the %(max)s allowed.")
                              % {"size": _mb(total), "max": _mb(limits.max_uncompressed)})
    for info in infos:
        if info.filename in whole_parts and info.file_size > MAX_WHOLE_PART:
            raise ImportFileError(_("The workbook's %(name)s part unpacks to %(size)s, more than the %(max)s "
                                    "that can be read. Save the sheet as CSV and upload that instead.")
                                  % {"name": info.filename, "size": _mb(info.file_size), "max": _mb(MAX_WHOLE_PART)})
        if info.file_size > 1024 * 1024 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ImportFileError(_("The workbook is compressed abnormally (%(name)s unpacks %(ratio)d times "
                                    "larger): refused as a possible zip bomb.")
                                  % {"name": info.filename, "ratio": info.file_size // max(info.compress_size, 1)})
    if any(info.flag_bits & 0x1 for info in infos):
        raise ImportFileError(_("The workbook is encrypted. Remove the password and upload it again."))
    try:
        with zipfile.ZipFile(path) as archive:
            declares = any(_declares_dtd(archive, info) for info in infos
                           if info.filename.endswith((".xml", ".rels")))
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise ImportFileError(_("The worksheet cannot be read (%(error)s).") % {"error": error}) from None
    if declares:
        raise ImportFileError(_("The workbook cannot be read (%(error)s). Save it again as .xlsx in "
                                "Excel or LibreOffice.") % {"error": _("it declares XML entities, which are refused")})


_PROLOG_ITEM = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.S)
PROLOG_LIMIT = 64 * 1024


def _declares_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether an XML part has a document type declaration, the only place entities can be declared
    (billion laughs, external entities): workbooks never need one. A prolog longer than PROLOG_LIMIT counts
    as one. Checking here lets openpyxl parse with the standard library's fast C parser."""
    with archive.open(info) as part:
        head = part.read(PROLOG_LIMIT)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:4]:
        text = head.decode("utf-16", "ignore")
    else:
        text = head.decode("utf-8", "ignore")
    text = text.lstrip("\ufeff")
    position = 0
    while match := _PROLOG_ITEM.match(text, position):
        position = match.end()
    rest = text[position:].lstrip()
    if not rest:
        return len(head) >= PROLOG_LIMIT
    return rest.startswith("<!")


def _describe(error: Exception) -> str:
    # openpyxl wraps what went wrong in a ValueError that names the stored file's path on the server: describe
    # the cause instead.
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)[:200] or type(error).__name__


class CsvSource(Source):
    def __init__(self, path: str, limits: Limits):
        super().__init__(limits)
        self.path = path
        self.encoding = self._detect_encoding(path)

    @staticmethod
    def _detect_encoding(path: str) -> str:
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                return CsvSource._check_utf16(path)
            if head.startswith(codecs.BOM_UTF8):
                encoding = "utf-8-sig"
            else:
                encoding = "utf-8"
            if b"\x00" in head or head.startswith((ZIP_MAGIC, OLE_MAGIC)):
                raise ImportFileError(_("The file is not a CSV text file (it holds binary data)."))
            handle.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            try:
                while chunk := handle.read(1024 * 1024):
                    # Past the head too: the csv module passes NUL through, and PostgreSQL refuses it in text.
                    if b"\x00" in chunk:
                        raise ImportFileError(_("The file is not a CSV text file (it holds binary data)."))
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                encoding = "gb18030"  # a superset of GBK, what Excel on Chinese Windows saves CSV in
        if encoding == "gb18030":
            try:
                with open(path, encoding=encoding) as text:
                    while chunk := text.read(1024 * 1024):
                        if "\x00" in chunk:
                            raise ImportFileError(_("The file is not a CSV text file (it holds binary data)."))
            except UnicodeDecodeError:
                raise ImportFileError(_("The CSV file is neither UTF-8 nor GBK text.")) from None
        return encoding

    @staticmethod
    def _check_utf16(path: str) -> str:
        """Excel's "Unicode text" (tab-separated UTF-16 with a byte order mark)."""
        try:
            with open(path, encoding="utf-16") as text:
                while chunk := text.read(1024 * 1024):
                    if "\x00" in chunk:
                        raise ImportFileError(_("The file is not a CSV text file (it holds binary data)."))
        except UnicodeError:
            raise ImportFileError(_("The file starts like UTF-16 text but is not.")) from None
        return "utf-16"

    def _raw_rows(self):
        limits = self.limits
        with open(self.path, encoding=self.encoding, newline="") as text:
            sample = text.read(16 * 1024)
            text.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
            except csv.Error:
                dialect = csv.excel
            # The row bound is the one that speaks; csv's own per-field limit (131,072 by default) would refuse a
            # long cell in Python's words. Process-wide, so only ever raised.
            csv.field_size_limit(max(csv.field_size_limit(), limits.max_row_chars))
            record = _RecordLines(text, limits.max_row_chars)
            reader = csv.reader(record, dialect)
            try:
                for number, row in enumerate(reader, start=1):
                    record.start_next()
                    if len(row) > MAX_ROW_ELEMENTS:
                        raise RowTooLarge(number, "elements", MAX_ROW_ELEMENTS)
                    values = {index: value for index, value in enumerate(row, start=1) if value.strip()}
                    if len(values) > limits.max_columns:
                        raise RowTooLarge(number, "cells", limits.max_columns)
                    yield number, values
            except RowTooLarge as error:
                raise row_too_large(error) from None
            except csv.Error as error:
                raise ImportFileError(_("The CSV file cannot be read near row %(row)d: %(error)s")
                                      % {"row": reader.line_num, "error": error}) from None


class _RecordLines:
    """The lines of a CSV file for csv.reader, refusing a record (one row, which quoted line breaks may spread
    over several lines) longer than max_chars before it is read whole. Line breaks count, those inside quotes
    being the cells' own, with room for the CRLF ending the row."""

    def __init__(self, text, max_chars: int):
        self.text, self.max_chars, self.bound = text, max_chars, max_chars + 2
        self.row, self.chars = 1, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.bound + 1)
        if not line:
            raise StopIteration
        self.chars += len(line)
        if self.chars > self.bound:
            raise RowTooLarge(self.row, "characters", self.max_chars)
        return line

    def start_next(self) -> None:
        """csv.reader handed out a row: the lines read so far were all of it."""
        self.row += 1
        self.chars = 0


WORKBOOK_FORMATS = ("xlsx", "xls", "ods")


def open_source(path: str, file_format: str, limits: Limits | None = None, is_header=None) -> Source:
    """Open an upload for reading; raises ImportFileError with the reason it cannot be imported. A workbook is
    read by what its bytes are rather than by its name: ERPs and WPS often save an .xls under .xlsx or back."""
    limits = limits or Limits.from_settings()
    size = os.path.getsize(path)
    if size > limits.max_bytes:
        raise ImportFileError(_("The file is %(size)s, more than the %(max)s allowed.")
                              % {"size": _mb(size), "max": _mb(limits.max_bytes)})
    if size == 0:
        raise ImportFileError(_("The file is empty."))
    if file_format in WORKBOOK_FORMATS:
        source = _workbook_source(path, limits)
    else:
        source = CsvSource(path, limits)
    try:
        return source.open(is_header)
    except BaseException:
        source.close()
        raise


def _workbook_source(path: str, limits: Limits) -> Source:
    from .legacy_xls import XlsSource  # noqa: PLC0415 - these import Source from here
    from .ods import OdsSource  # noqa: PLC0415

    with open(path, "rb") as handle:
        magic = handle.read(8)
        if magic.startswith(OLE_MAGIC):
            if "EncryptionInfo".encode("utf-16-le") in handle.read(4 * 1024 * 1024):
                raise ImportFileError(_("The workbook is password-protected. Remove the password (File > "
                                        "Info > Protect Workbook in Excel) and upload it again."))
            return XlsSource(path, limits)
    if not magic.startswith(ZIP_MAGIC):
        raise ImportFileError(_("The file is not an Excel or LibreOffice workbook (.xlsx, .xls, .ods) even though "
                                "its name says so. Open it in Excel or LibreOffice and save it as .xlsx."))
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ImportFileError(_("The workbook is damaged (not a readable zip archive).")) from None
    if "content.xml" in names and "xl/workbook.xml" not in names:
        return OdsSource(path, limits)
    return XlsxSource(path, limits)


def sniff_format(file_name: str) -> str:
    """xlsx, xls, ods or csv, from the name; raises ImportFileError for other kinds of file."""
    lower = file_name.lower()
    if lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith((".csv", ".txt")):
        return "csv"
    if lower.endswith(".xls"):
        return "xls"
    if lower.endswith(".ods"):
        return "ods"
    raise ImportFileError(_("Upload an Excel or LibreOffice workbook (.xlsx, .xlsm, .xls, .ods) or a CSV file."))
