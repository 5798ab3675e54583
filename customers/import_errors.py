"""The errors file of an import: each rejected row with its line, field(s) and reason(s), to fix
and import again. Written for spreadsheet programs: no cell of its CSV starts as a formula would."""

import csv
import gzip
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customers.importers import SourceRow

# The errors file of an import leads with these columns; a re-import skips them.
ERROR_COLUMNS = ("error_line", "error_field", "error_code", "error_reason")

# A spreadsheet program reads a cell starting with one of these as a formula (or as the start of
# one). The errors file puts a "'" before such a cell, and reading a CSV takes off a "'" that
# stands before one of them (only then: "'hello" stays as it is).
FORMULA_STARTS = frozenset("=+-@\t\r")


def spreadsheet_safe(cell: Any) -> Any:
    """The cell as the errors file writes it: text a spreadsheet would run gets a leading "'"."""
    if isinstance(cell, str) and cell[:1] in FORMULA_STARTS:
        return "'" + cell
    return cell


def spreadsheet_unescaped(cells: list[str]) -> list[str]:
    """The cells without the "'" that `spreadsheet_safe` put before a formula character."""
    return [cell[1:] if cell[:1] == "'" and cell[1:2] in FORMULA_STARTS else cell for cell in cells]


class ErrorsFile:
    """Each rejected row with its line, field(s) and reason(s), and the row as it was: fix, re-import.

    CSV (by the file's extension) leads with ERROR_COLUMNS then the source's own columns, so the
    fixed file imports as it is; otherwise JSON Lines: {"line", "errors", "row"}. The CSV is meant
    for spreadsheet programs: no cell of it starts as a formula would (`spreadsheet_safe`).
    """

    def __init__(self, path: str, header: list[str] | None):
        self.path = path
        self.as_csv = path.lower().endswith((".csv", ".csv.gz"))
        # .gz: compressed, as the import reads it back (closed by close())
        opener = gzip.open if path.lower().endswith(".gz") else open
        self._file = opener(path, "wt", encoding="utf-8", errors="surrogateescape", newline="")  # noqa: SIM115
        self._header = header
        self._writer = None
        self.count = 0

    def write(self, row: "SourceRow", errors: list[dict]) -> None:
        self.count += 1
        if not self.as_csv:
            entry = {"line": row.line, "errors": errors, "row": row.record}
            # json, not orjson: a row with bytes that were not UTF-8 holds lone surrogates, which
            # orjson refuses and json writes as \udcXX escapes.
            self._file.write(json.dumps(entry, default=str) + "\n")
            return
        if self._writer is None:
            self._writer = csv.writer(self._file)
            columns = list(self._header) if self._header is not None else ["row"]
            self._writer.writerow(list(map(spreadsheet_safe, [*ERROR_COLUMNS, *columns])))
        fields = "; ".join(e.get("field") or "" for e in errors)
        codes = "; ".join(e["code"] for e in errors)
        reasons = "; ".join(e["message"] for e in errors)
        record = row.record
        if self._header is None:
            cells = [json.dumps(record, default=str, ensure_ascii=False)]  # json: as above
        elif isinstance(record, dict):
            cells = [record.get(name, "") for name in self._header]
        else:
            cells = list(record)
        self._writer.writerow(list(map(spreadsheet_safe, [row.line, fields, codes, reasons, *cells])))

    def close(self) -> None:
        self._file.close()
