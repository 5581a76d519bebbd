"""Building import files for the import tests: ordinary workbooks with openpyxl, CSV in several encodings,
and hand-crafted or hostile ones (replaced zip parts, OLE containers, zip bombs, entity expansion)."""
import csv
import io
import zipfile

from django.core.files.base import ContentFile
from openpyxl import Workbook

from merchant.models import ImportJob
from merchant.spreadsheets.imports.columns import KIND_COLUMNS, header_label
from merchant.spreadsheets.imports.reader import OLE_MAGIC

SHEET = "xl/worksheets/sheet1.xml"
SHARED_STRINGS = "xl/sharedStrings.xml"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def template_header(kind: str) -> list[str]:
    """The template's two-line headers (Chinese over English) of every column of kind."""
    return [header_label(column) for column in KIND_COLUMNS[kind]]


def xlsx_bytes(rows, *, above=(), merged=(), hidden_first_sheet=False, extra_sheet=None, styles=None) -> bytes:
    """A workbook whose first visible sheet holds `above` (e.g. a title row) then rows (header first).

    merged: ranges such as "A1:D1" to merge; hidden_first_sheet: put a hidden sheet with junk before it;
    extra_sheet: rows of a second visible sheet; styles: {cell ref: number format}.
    """
    workbook = Workbook()
    sheet = workbook.active
    if hidden_first_sheet:
        junk = sheet
        junk.title = "secret"
        junk.append(["nothing", "to", "see"])
        junk.sheet_state = "hidden"
        sheet = workbook.create_sheet("data")
    for row in [*above, *rows]:
        sheet.append(list(row))
    for ref in merged:
        sheet.merge_cells(ref)
    for ref, number_format in (styles or {}).items():
        sheet[ref].number_format = number_format
    if extra_sheet is not None:
        other = workbook.create_sheet("other")
        for row in extra_sheet:
            other.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def replace_parts(xlsx: bytes, parts: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    """The same workbook with some parts replaced (or added); other parts are copied as they were."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as target:
        for info in source.infolist():
            if info.filename not in parts:
                target.writestr(info.filename, source.read(info.filename))
        for name, content in parts.items():
            target.writestr(name, content)
    return buffer.getvalue()


def cell_xml(ref: str, value=None, *, formula=None, kind=None, style=None) -> str:
    """One <c> element: a number (kind None), inline text (kind "inlineStr"), an error (kind "e") or a
    formula with or without a cached <v>."""
    attributes = f' r="{ref}"'
    if kind:
        attributes += f' t="{kind}"'
    if style is not None:
        attributes += f' s="{style}"'
    inner = ""
    if formula is not None:
        inner += f"<f>{formula}</f>"
    if kind == "inlineStr":
        inner += f"<is><t>{value}</t></is>"
    elif value is not None:
        inner += f"<v>{value}</v>"
    return f"<c{attributes}>{inner}</c>"


def sheet_xml(rows: list[list[str]], *, doctype: str = "", merged=()) -> bytes:
    """Sheet XML from rows of <c> elements (see cell_xml); row numbers are taken from the cells' refs."""
    body = []
    for cells in rows:
        if not cells:
            continue
        number = "".join(ch for ch in cells[0].split('r="')[1].split('"')[0] if ch.isdigit())
        body.append(f'<row r="{number}">{"".join(cells)}</row>')
    merges = ""
    if merged:
        merges = f'<mergeCells count="{len(merged)}">' + "".join(f'<mergeCell ref="{r}"/>' for r in merged) + \
            "</mergeCells>"
    return (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
            f'<worksheet xmlns="{MAIN_NS}"><sheetData>{"".join(body)}</sheetData>{merges}</worksheet>').encode()


def inline_header(labels: list[str], row: int = 1) -> list[str]:
    return [cell_xml(f"{column_letter(i)}{row}", label, kind="inlineStr") for i, label in enumerate(labels, 1)]


def column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def crafted_xlsx(rows: list[list[str]], *, doctype: str = "", merged=(), base: bytes | None = None) -> bytes:
    """An otherwise valid workbook (saved by openpyxl) whose first sheet is the hand-written XML."""
    base = base or xlsx_bytes([["placeholder"]])
    return replace_parts(base, {SHEET: sheet_xml(rows, doctype=doctype, merged=merged)})


def wide_row_xlsx(cells: int, *, header=("erp_product_id", "stock"), cell: str | None = None) -> bytes:
    """A workbook with an ordinary header row and a row 2 of `cells` cells without r= attributes (some writers
    leave them out): by default numbers of random digits, which keep the compression ratio near the issue's 19
    rather than tripping the zip bomb check; or `cell`, the XML of each cell, repeated."""
    import random

    rng = random.Random(2)
    if cell is None:
        row = "".join(f"<c><v>{rng.randrange(10**7, 10**8)}</v></c>" for _ in range(cells))
    else:
        row = cell * cells
    xml = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN_NS}"><sheetData>'
           f'<row r="1">{"".join(inline_header(list(header)))}</row><row r="2">{row}</row></sheetData></worksheet>')
    return replace_parts(xlsx_bytes([["placeholder"]]), {SHEET: xml.encode()})


def wide_row_csv(fields: int, *, field: str = "1") -> bytes:
    """A CSV file with an ordinary header line and a line 2 of `fields` comma-separated fields."""
    return b"erp_product_id,stock\n" + ",".join([field] * fields).encode() + b"\n"


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
)


def shared_strings_xlsx(rows, *, doctype: str = "", raw: dict[str, str] | None = None) -> bytes:
    """A workbook whose text cells refer to a shared-strings part, as Excel writes them (openpyxl writes
    text inline). Text values are shared; raw maps a text value to the XML written for it instead (already
    escaped, e.g. an entity reference)."""
    from xml.sax.saxutils import escape

    strings, sheet_rows = [], []
    for number, values in enumerate(rows, start=1):
        cells = []
        for index, value in enumerate(values, start=1):
            ref = f"{column_letter(index)}{number}"
            if isinstance(value, str):
                if value not in strings:
                    strings.append(value)
                cells.append(cell_xml(ref, strings.index(value), kind="s"))
            elif value is not None:
                cells.append(cell_xml(ref, value))
        sheet_rows.append(cells)
    items = "".join(f"<si><t>{(raw or {}).get(text, escape(text))}</t></si>" for text in strings)
    sst = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
           f'<sst xmlns="{MAIN_NS}" count="{len(strings)}" uniqueCount="{len(strings)}">{items}</sst>').encode()
    base = xlsx_bytes([["placeholder"]])
    archive = zipfile.ZipFile(io.BytesIO(base))
    content_types = archive.read("[Content_Types].xml").decode().replace(
        "</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = archive.read("xl/_rels/workbook.xml.rels").decode().replace(
        "</Relationships>", '<Relationship Id="rIdStrings" Type="http://schemas.openxmlformats.org/'
                            'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                            "</Relationships>")
    return replace_parts(base, {"[Content_Types].xml": content_types.encode(), "xl/_rels/workbook.xml.rels":
                                rels.encode(), SHARED_STRINGS: sst, SHEET: sheet_xml(sheet_rows)})


def billion_laughs_shared_strings(rows) -> bytes:
    """A workbook (rows as in shared_strings_xlsx) whose shared strings declare entities expanding to 10^9
    "lol"s; the text "LOL" in rows is written as the entity reference."""
    return shared_strings_xlsx(rows, doctype=BILLION_LAUGHS, raw={"LOL": "&lol9;"})


def billion_laughs_sheet(header: list[str]) -> bytes:
    rows = [inline_header(header), [cell_xml("A2", "&lol9;", kind="inlineStr")]]
    return crafted_xlsx(rows, doctype=BILLION_LAUGHS)


def zip_bomb_xlsx(size: int = 50 * 1024 * 1024) -> bytes:
    """A workbook whose sheet part is `size` bytes of one repeated byte (compresses about 1000x)."""
    base = xlsx_bytes([["erp_product_id", "stock"]])
    source = zipfile.ZipFile(io.BytesIO(base))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != SHEET:
                target.writestr(info.filename, source.read(info.filename))
        with target.open(SHEET, "w", force_zip64=True) as handle:
            chunk = b" " * (1024 * 1024)
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    return buffer.getvalue()


def understated_zip_bomb_xlsx(size: int = 50 * 1024 * 1024, declared: int = 2000) -> bytes:
    """A zip bomb whose central directory claims the sheet unpacks to only `declared` bytes."""
    content = zip_bomb_xlsx(size)
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        for info in target.filelist:
            if info.filename == SHEET:
                info.file_size = declared  # written into the central directory on close
    return buffer.getvalue()


def ole_bytes(encrypted: bool) -> bytes:
    """An OLE compound file as Excel writes for a password-protected workbook (it holds an "EncryptionInfo"
    stream) or for a legacy .xls (without it)."""
    content = OLE_MAGIC + bytes(504)
    if encrypted:
        content += "EncryptionInfo".encode("utf-16-le") + bytes(64) + "EncryptedPackage".encode("utf-16-le")
    else:
        content += "Workbook".encode("utf-16-le")
    return content + bytes(4096)


def png_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def plain_zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


def csv_bytes(rows, encoding: str = "utf-8", bom: bool = False) -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    data = text.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def make_job(merchant, kind: str, content: bytes, name: str = "import.xlsx", file_format: str | None = None,
             uploaded_by=None) -> ImportJob:
    """A saved ImportJob (queued) holding content, as the upload service leaves it."""
    file_format = file_format or ("csv" if name.endswith(".csv") else "xlsx")
    job = ImportJob(merchant=merchant, kind=kind, file_name=name, file_format=file_format,
                    file_size=len(content), uploaded_by=uploaded_by)
    job.file.save(name, ContentFile(content), save=False)
    job.save()
    return job


def validated(merchant, kind: str, rows=None, *, content: bytes | None = None, name: str = "import.xlsx",
              **options) -> ImportJob:
    """A job for rows (header first; written as xlsx, or content as given) checked by the pipeline."""
    from merchant.spreadsheets.imports import pipeline

    if content is None:
        content = csv_bytes(rows) if name.endswith(".csv") else xlsx_bytes(rows, **options)
    job = make_job(merchant, kind, content, name=name)
    pipeline.validate(job)
    job.refresh_from_db()
    return job


def row_errors(job: ImportJob) -> dict[int, dict[str, str]]:
    """Invalid rows of a checked job: {row number: {column: reason}}."""
    from merchant.models import RowAction

    return {row.row_number: {error["column"]: error["reason"] for error in row.errors}
            for row in job.rows.filter(action=RowAction.INVALID).order_by("row_number")}


def actions(job: ImportJob) -> dict[int, str]:
    """Stored rows of a checked job (unchanged ones are only counted): {row number: action}."""
    return dict(job.rows.order_by("row_number").values_list("row_number", "action"))
