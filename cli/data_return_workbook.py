"""The monthly data return as an .xlsx workbook for a spreadsheet (docs/data-return.md): the rows of
the month's two CSV files, one sheet each, every cell typed by its field. A spreadsheet guesses the
type of each CSV value, and guesses wrong: data set version "1.1" becomes the number 1.1 ("1.0"
becomes 1) and period "2026-12" the date 1 December 2026. In the workbook they are text cells, so
nothing is guessed, and a program reading it gets the values the CSV holds."""

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from domain.data_return import DataField, Episode, Month, ReferralRow, Row

DATE_FORMAT = "yyyy-mm-dd"  # as the CSV writes days, whatever the spreadsheet's locale


def workbook_name(period: Month) -> str:
    return f"data-return-{period}.xlsx"


def write_workbook(
    path: Path,
    episodes: tuple[Sequence[DataField[Episode]], Iterable[Episode]],
    referrals: tuple[Sequence[DataField[ReferralRow]], Iterable[ReferralRow]],
) -> None:
    """Sheets "episodes" and "referrals", each a header row of field names, then one row per item."""
    book = Workbook()
    first = book.active  # the sheet a new workbook starts with
    assert isinstance(first, Worksheet)
    first.title = "episodes"
    _fill(first, *episodes)
    _fill(book.create_sheet("referrals"), *referrals)
    book.save(path)


def _fill(sheet: Worksheet, fields: Sequence[DataField[Row]], items: Iterable[Row]) -> None:
    for column, field in enumerate(fields, 1):
        _text(sheet, 1, column, field.name)
    for row, item in enumerate(items, 2):
        for column, field in enumerate(fields, 1):
            value = field.value(item)
            if value == "":  # not known or not applicable: an empty cell, as an empty CSV value
                continue
            if field.type == "integer":
                sheet.cell(row, column, int(value))
            elif field.type == "date":
                sheet.cell(row, column, date.fromisoformat(value)).number_format = DATE_FORMAT
            else:
                _text(sheet, row, column, value)
    sheet.freeze_panes = "A2"  # the field names stay in view


def _text(sheet: Worksheet, row: int, column: int, value: str) -> None:
    # Typed as text after the value is set: openpyxl would otherwise store a value starting with "="
    # as a formula (none of ours does, but the type is the guarantee).
    cell = sheet.cell(row, column, value)
    cell.data_type = "s"
