"""A streamed xlsx writer: the workbook is emitted chunk by chunk while rows are produced.

openpyxl's write-only mode still finishes the whole file before the first byte can be sent, which breaks
the export's first-byte bar on 300,000 rows. A worksheet is one XML part inside a zip, and the standard
library's zipfile writes to an unseekable stream (using data descriptors), so we serialise rows ourselves
and hand over compressed bytes as they come out.
"""
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
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
# Style 1: a bold header; style 2: yyyy-mm-dd hh:mm for datetimes.
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
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


def _text(value: str, style: str = "") -> str:
    if _FORBIDDEN.search(value):
        value = _FORBIDDEN.sub("", value)
    return f'<c t="inlineStr"{style}><is><t xml:space="preserve">{escape(value)}</t></is></c>'


def _datetime(value: datetime) -> str:
    serial = (value.replace(tzinfo=None) - _EXCEL_EPOCH).total_seconds() / 86400
    return f'<c s="2"><v>{serial:.10f}</v></c>'


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


def stream_xlsx(header: list[str], rows, sheet_name="Sheet1", rows_per_chunk=500):
    """Yield the bytes of an xlsx workbook with one sheet: a bold header row, then rows (iterables of values).

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
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            )
            sheet.write(("<row>" + "".join(_text(str(h), ' s="1"') for h in header) + "</row>").encode())
            buffer = []
            for row in rows:
                buffer.append("<row>" + "".join(_cell(v) for v in row) + "</row>")
                if len(buffer) >= rows_per_chunk:
                    sheet.write("".join(buffer).encode())
                    buffer.clear()
                    yield sink.take()
            sheet.write(("".join(buffer) + "</sheetData></worksheet>").encode())
        yield sink.take()
    yield sink.take()
