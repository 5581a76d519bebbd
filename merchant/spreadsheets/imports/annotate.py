"""The annotated workbook of a checked import (SPEC M4): the uploaded rows as they were read, each invalid one
with its reasons in a last "错误 Errors" column and its wrong cells filled red, to be corrected and uploaded
again (the importer ignores the Errors column).

Streamed like the orders export: the file is read row by row and merge-joined with the invalid rows, which the
database hands over in row order, so memory stays flat for a million rows.
"""
import os
from datetime import datetime, time

from django.utils.translation import gettext as _

from merchant.models import ImportJob, ImportRow, RowAction
from merchant.spreadsheets.safety import neutralise
from merchant.spreadsheets.xlsx_stream import Row, error_cell, header_cell, stream_xlsx, styled_cell

from .cells import NO_CACHED_VALUE, ErrorValue, ShownNumber
from .columns import ERRORS_HEADER, KIND_COLUMNS, match_header
from .reader import ImportFileError, open_source
from .template import DATA_SHEET, display_width

ERRORS_LABEL = "错误 Errors"


def annotated_workbook(job: ImportJob, only_invalid: bool = False):
    """Bytes of the annotated xlsx, as a generator; with only_invalid, only the rows that have errors (packed
    under the header, their original row number leading the error text).

    Raises ImportFileError at once, before any byte, when the uploaded file is gone or cannot be read.
    """
    path = _uploaded_path(job)
    source = open_source(path, job.file_format, is_header=lambda values: bool(match_header(job.kind, values)[0]))
    return _chunks(job, source, only_invalid)


def _uploaded_path(job: ImportJob) -> str:
    try:
        path = job.file.path if job.file else ""
    except (ValueError, NotImplementedError):  # no file attached, or a storage without local paths
        path = ""
    if not path or not os.path.isfile(path):
        raise ImportFileError(_("The uploaded file of this import is no longer available, so the annotated "
                                "workbook cannot be made. Upload the file again to check it."))
    return path


def _is_errors_header(value) -> bool:
    lines = str(value).strip().lower().splitlines()
    return " ".join(lines) in ERRORS_HEADER or any(line.strip() in ERRORS_HEADER for line in lines)


def _chunks(job: ImportJob, source, only_invalid: bool):
    try:
        header = source.header
        # A corrected workbook uploaded again already has an Errors column: reuse it rather than add another.
        errors_at = next((i for i, v in header.items() if _is_errors_header(v)), None)
        added = errors_at is None
        if added:
            errors_at = max(header) + 1
        index_of = {key: int(index) for index, key in job.columns.items()}
        labels = {column.key: f"{column.zh} {column.en}" for column in KIND_COLUMNS[job.kind]}
        last = max(errors_at, *header)
        head = [header_cell(ERRORS_LABEL, highlight=True) if i == errors_at
                else header_cell(neutralise(header.get(i))) for i in range(1, last + 1)]
        widths = [60 if i == errors_at else _width(header.get(i)) for i in range(1, last + 1)]

        def rows():
            for number, values, errors in _joined(job, source):
                if only_invalid and errors is None:
                    continue
                text = "; ".join(f"{labels.get(e['column'], e['column'])}: {e['reason']}" if e["column"]
                                 else e["reason"] for e in errors or ())
                if only_invalid:
                    text = f"第{number}行 Row {number}: {text}"
                highlighted = {index_of[e["column"]] for e in errors or () if e["column"] in index_of}
                cells = _row_cells(values, errors_at, added, text, highlighted)
                yield cells if only_invalid else Row(number, cells)

        yield from stream_xlsx(head, rows(), sheet_name=DATA_SHEET, freeze_header=True, widths=widths,
                               header_row=1 if only_invalid else source.header_row)
    finally:
        source.close()


def _joined(job: ImportJob, source):
    """(row number, cells, errors or None) for each data row of the file, errors from its invalid ImportRow."""
    invalid = (ImportRow.objects.filter(job=job, action=RowAction.INVALID).order_by("row_number")
               .values_list("row_number", "errors").iterator(chunk_size=2000))
    pending = next(invalid, None)
    for number, values in source.rows():
        while pending is not None and pending[0] < number:
            pending = next(invalid, None)
        yield number, values, (pending[1] if pending is not None and pending[0] == number else None)


def _row_cells(values: dict, errors_at: int, added: bool, text: str, highlighted: set) -> list:
    if added:
        # Cells past the header are kept, one column further right, so the Errors column does not cover them.
        values = {i + 1 if i >= errors_at else i: v for i, v in values.items()}
    values = {**values, errors_at: text}
    return [_cell(values.get(i), i in highlighted) for i in range(1, max(values) + 1)]


def _cell(value, highlight: bool):
    if isinstance(value, ErrorValue):
        return error_cell(value, highlight=highlight)
    if value is NO_CACHED_VALUE:
        # A formula without a saved result: writing it as blank or as text would let the corrected file pass
        # without a value ever being typed, so it stays an error until replaced.
        return error_cell("#N/A", highlight=highlight)
    if type(value) is datetime and value.time() == time(0) and value.tzinfo is None:
        value = value.date()  # openpyxl reads date-formatted cells as datetimes
    elif type(value) is ShownNumber:
        value = value.shown  # as text: the checked workbook has no number formats, and 0012345678905 keeps its zeros
    # Inline strings never run, but the merchant may copy cells into another sheet or save the file as CSV:
    # formula-looking text is prefixed like every export's (the reader takes the prefix off again).
    return styled_cell(neutralise(value), highlight=highlight)


def _width(value) -> int:
    if value is None:
        return 0
    return min(max(max(map(display_width, str(value).splitlines() or [""])) + 2, 10), 40)
