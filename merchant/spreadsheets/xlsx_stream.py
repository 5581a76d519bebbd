"""A streamed xlsx writer: the workbook is emitted chunk by chunk while rows are produced.

openpyxl's write-only mode still finishes the whole file before the first byte can be sent, which breaks
the export's first-byte bar on 300,000 rows. A worksheet is one XML part inside a zip, and the standard
library's zipfile writes to an unseekable stream (using data descriptors), so we serialise rows ourselves
and hand over compressed bytes as they come out.
"""
import math
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple
from xml.sax.saxutils import escape

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
# Cell styles (indexes into cellXfs below). 0-2 are the original ones and keep their ids, since rendered cells
# of existing callers refer to them; the rest serve the annotated import workbook (error fill, plain dates).
BOLD, DATETIME, DATE, ERROR_FILL, ERROR_DATE, ERROR_DATETIME, HEADER, ERROR_HEADER, MONEY = range(1, 10)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFFFC7CE"/><bgColor indexed="64"/></patternFill></fill>'
    '</fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="10"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="2" borderId="0" xfId="0" applyFill="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" applyFill="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="2" borderId="0" xfId="0" applyNumberFormat="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" applyAlignment="1">'
    '<alignment vertical="top" wrapText="1"/></xf>'
    # Money: the built-in #,##0.00, which every spreadsheet program shows with two decimals in its own locale.
    '<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_EXCEL_EPOCH = datetime(1899, 12, 30)


def _workbook(sheet_name: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(sheet_name[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )


# XML 1.0 forbids most control characters; they are dropped rather than emit an unreadable file.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Cells(str):
    """Cells already rendered as sheet XML (see render_cells), written as they are: a caller repeating the
    same cells on many rows (an order's columns on each of its items) renders them once."""


def text_cell(value: str | None) -> str:
    """A text cell (an empty one for None or "")."""
    return _text(value) if value else "<c/>"


def number_cell(value) -> str:
    """A number cell (an empty one for None)."""
    return "<c/>" if value is None else f"<c><v>{value}</v></c>"


def money_cell(value) -> str:
    """A number cell shown with two decimals (an empty one for None)."""
    return "<c/>" if value is None else f'<c s="{MONEY}"><v>{value}</v></c>'


def _text(value: str, style: str = "") -> str:
    if _FORBIDDEN.search(value):
        value = _FORBIDDEN.sub("", value)
    return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def _serial(value: datetime) -> str:
    return f"{(value.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400:.10f}"


def _datetime(value: datetime) -> str:
    return f'<c s="2"><v>{_serial(value)}</v></c>'


# Dispatch on the exact type: this runs once per cell, millions of times for a large export.
_BY_TYPE = {
    str: _text,
    int: lambda v: f"<c><v>{v}</v></c>",
    float: lambda v: f"<c><v>{v}</v></c>",
    Decimal: lambda v: f"<c><v>{v}</v></c>",
    bool: lambda v: f'<c t="b"><v>{int(v)}</v></c>',
    datetime: _datetime,
    date: lambda v: f'<c s="2"><v>{(v - _EXCEL_EPOCH.date()).days}</v></c>',
}


def _cell(value) -> str:
    if type(value) is Cells:
        return value
    if value is None or value == "":
        return "<c/>"
    render = _BY_TYPE.get(type(value))
    if render is None:  # subclasses (e.g. lazy translations) are written as text
        return _text(str(value))
    return render(value)


def render_cells(values) -> Cells:
    """Render values as cells once, to be placed among a row's values."""
    return Cells("".join(_cell(v) for v in values))


def styled_cell(value, *, highlight: bool = False) -> Cells:
    """One cell for a value as a spreadsheet holds it: dates as yyyy-mm-dd, datetimes with the time, text as
    inline strings (never evaluated, even when it looks like a formula). highlight gives it the error fill,
    blank cells included, so a missing value is marked too."""
    fill = f' s="{ERROR_FILL}"' if highlight else ""
    if value is None or value == "":
        return Cells(f"<c{fill}/>")
    if isinstance(value, bool):
        return Cells(f'<c t="b"{fill}><v>{int(value)}</v></c>')
    if isinstance(value, datetime):
        return Cells(f'<c s="{ERROR_DATETIME if highlight else DATETIME}"><v>{_serial(value)}</v></c>')
    if isinstance(value, date):
        return Cells(f'<c s="{ERROR_DATE if highlight else DATE}"><v>{(value - _EXCEL_EPOCH.date()).days}</v></c>')
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and math.isfinite(value)):
        return Cells(f"<c{fill}><v>{value}</v></c>")
    return Cells(_text(str(value), fill))


# The classic error values every spreadsheet program reads back as errors.
ERROR_VALUES = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A")


def error_cell(code: str, *, highlight: bool = False) -> Cells:
    """An Excel error value cell (#N/A, #DIV/0! ...); anything else becomes #N/A."""
    fill = f' s="{ERROR_FILL}"' if highlight else ""
    return Cells(f'<c t="e"{fill}><v>{code if code in ERROR_VALUES else "#N/A"}</v></c>')


def header_cell(value, *, highlight: bool = False) -> Cells:
    """A bold header cell whose text wraps (two-line headers stay readable); highlight adds the error fill."""
    if value is None or value == "":
        return Cells("<c/>")
    return Cells(_text(str(value), f' s="{ERROR_HEADER if highlight else HEADER}"'))


class Row(NamedTuple):
    """Row values to be placed at an explicit 1-based row number (numbers must increase through the sheet);
    rows given as plain iterables follow the previous row."""

    number: int
    values: object


class _Sink:
    """A write-only file object whose contents are taken away after each write."""

    def __init__(self):
        self.chunks = []

    def write(self, data):
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self):
        pass

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        return data


def _sheet_head(header_row: int, freeze_header: bool, widths) -> bytes:
    # Element order is fixed by the schema: sheetViews, then cols, then sheetData.
    head = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
    if freeze_header:
        head += (f'<sheetViews><sheetView workbookViewId="0"><pane ySplit="{header_row}" '
                 f'topLeftCell="A{header_row + 1}" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>')
    cols = "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                   for i, w in enumerate(widths or (), start=1) if w)
    if cols:  # an empty <cols> is invalid
        head += f"<cols>{cols}</cols>"
    return (head + "<sheetData>").encode()


def _row(row) -> str:
    if type(row) is Row:
        return f'<row r="{row.number}">' + "".join(_cell(v) for v in row.values) + "</row>"
    return "<row>" + "".join(_cell(v) for v in row) + "</row>"


def stream_xlsx(header: list[str], rows, sheet_name="Sheet1", rows_per_chunk=500, *, header_row: int = 1,
                freeze_header: bool = False, widths=None):
    """Yield the bytes of an xlsx workbook with one sheet: a bold header row, then rows (iterables of values, or
    Row to place one at a given row number).

    Header items that are Cells (see header_cell) are written as they are. header_row puts the header lower
    (rows above it stay empty); freeze_header keeps it in view while scrolling; widths are column widths in
    characters (None or 0 leaves a column's default).
    Datetimes must already be in the time zone the reader should see (naive values are written as-is).
    """
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as zf:
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _ROOT_RELS),
                           ("xl/workbook.xml", _workbook(sheet_name)), ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/styles.xml", _STYLES)):
            zf.writestr(name, text)
        yield sink.take()
        with zf.open("xl/worksheets/sheet1.xml", mode="w", force_zip64=True) as sheet:
            sheet.write(_sheet_head(header_row, freeze_header, widths))
            cells = "".join(h if type(h) is Cells else _text(str(h), ' s="1"') for h in header)
            sheet.write(_row(Row(header_row, [Cells(cells)]) if header_row != 1 else [Cells(cells)]).encode())
            buffer = []
            for row in rows:
                buffer.append(_row(row))
                if len(buffer) >= rows_per_chunk:
                    sheet.write("".join(buffer).encode())
                    buffer.clear()
                    yield sink.take()
            sheet.write(("".join(buffer) + "</sheetData></worksheet>").encode())
        yield sink.take()
    yield sink.take()
