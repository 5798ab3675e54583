"""Customer files as `import_customers` reads them, one row at a time (a file is never loaded whole).

Formats: CSV (our own columns, named as the API's fields; or Shopify's customer CSV in any of its
three layouts), JSON arrays (read incrementally with ijson) and JSON Lines; gzip-compressed or not.
Each reader yields `SourceRow`s: the customer in the API's shape, ready for the shared validation
(customers.validation via customers.services.bulk), or the reason the row could not be read. The
errors file of the rows an import rejected: customers.import_errors.
"""

import csv
import gzip
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import ijson
import orjson

from customers.fields import KNOWN_FIELDS
from customers.import_errors import ERROR_COLUMNS, spreadsheet_unescaped
from customers.metadata import metadata_column, put_metadata_cells
from twc.api.errors import ErrorCode, FieldError
from twc.text import is_row_number

FORMATS = ("csv", "json", "jsonl")

BOOLEAN_WORDS = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False, "y": True, "n": False}
API_BOOLEAN_FIELDS = {"verified_email", "accepts_marketing", "tax_exempt"}

# Shopify's customer CSV, all three layouts, by lower-cased column name: the 20-column export
# (Customer ID, ..., Default Address ..., Total Spent, Total Orders, ...), the 17-column import
# template (the export without Customer ID and the two totals), and the older layout with bare
# Company, Address1, ..., Country Code, Zip columns.
SHOPIFY_CUSTOMER_COLUMNS = {
    "customer id": "id",
    "first name": "first_name",
    "last name": "last_name",
    "email": "email",
    "phone": "phone",
    "accepts email marketing": "accepts_marketing",
    "accepts marketing": "accepts_marketing",
    "note": "note",
    "tax exempt": "tax_exempt",
    "tags": "tags",
    # Not in Shopify's files (Shopify exports no passwords), but a migrating shop may add it.
    "password_hash": "password_hash",
    "password hash": "password_hash",
}
SHOPIFY_ADDRESS_COLUMNS = {
    "default address company": "company",
    "default address address1": "address1",
    "default address address2": "address2",
    "default address city": "city",
    "default address province code": "province_code",
    "default address country code": "country_code",
    "default address zip": "zip",
    "default address phone": "phone",
    "company": "company",
    "address1": "address1",
    "address2": "address2",
    "city": "city",
    "province": "province",
    "province code": "province_code",
    "country": "country",
    "country code": "country_code",
    "zip": "zip",
}
SHOPIFY_BOOLEANS = {"accepts_marketing", "tax_exempt"}
# Shopify prefixes these with "'" so that spreadsheets keep them as text (leading zeros, "+").
QUOTED_FIELDS = {"id", "phone", "zip"}


class ImportFileError(Exception):
    """The file as a whole cannot be read (not a row of it)."""


@dataclass(slots=True)
class SourceRow:
    """One record of the file. `line` is where it starts (in a JSON array: the item's position)."""

    line: int
    item: Any  # the customer in the API's shape; None when the row could not be read
    raw: Any  # the row as it was in the file (for CSV, its cells)
    error: FieldError | None = None
    columns: list[str] | None = None  # a CSV file's header

    @property
    def record(self) -> Any:
        """The row as it was, a CSV row as {column: cell} when it has the header's columns.

        Built only for a rejected row (the errors file): an import reads millions that are not.
        """
        if self.columns is not None and len(self.raw) == len(self.columns):
            return dict(zip(self.columns, self.raw, strict=True))
        return self.raw


def _unquote(value: str) -> str:
    return value[1:] if value.startswith("'") else value


def _boolean(value: str):
    return BOOLEAN_WORDS.get(value.strip().lower(), value)  # anything else: the validation says why


def shopify_layout(header: list[str]) -> str | None:
    names = {name.strip().lower() for name in header}
    if not {"first name", "email"} <= names:
        return None
    if "default address address1" in names:
        return "shopify-export" if "customer id" in names else "shopify-template"
    return "shopify-legacy"


def shopify_ignored_columns(columns: list[str]) -> list[str]:
    """The columns of a Shopify CSV that are not read (order figures, SMS consent, metafields, ...)."""
    known = SHOPIFY_CUSTOMER_COLUMNS.keys() | SHOPIFY_ADDRESS_COLUMNS.keys()
    return [
        column
        for column in columns
        if column.strip() and column.strip().lower() not in known and metadata_column(column, shopify=True) is None
    ]


def shopify_reader(columns: list[str]):
    """A function from a Shopify CSV row's cells (in `columns`' order) to the API's customer, its
    default address as the only address. The header is read here once, not at every row."""
    customer_columns: dict[int, str] = {}  # position in the row: the API field
    address_columns: dict[int, str] = {}
    metadata_columns: dict[int, tuple[str, str]] = {}  # position: (field, key), metafields included
    for position, column in enumerate(columns):
        name = column.strip().lower()
        metadata = metadata_column(column, shopify=True)
        if metadata is not None:
            metadata_columns[position] = metadata
        elif name in SHOPIFY_CUSTOMER_COLUMNS:
            customer_columns[position] = SHOPIFY_CUSTOMER_COLUMNS[name]
        elif name in SHOPIFY_ADDRESS_COLUMNS:
            address_columns[position] = SHOPIFY_ADDRESS_COLUMNS[name]
        # Other columns (Total Spent, Total Orders, Accepts SMS Marketing) are not ours to set.
    customer_pick, address_pick = ColumnPick.of(customer_columns), ColumnPick.of(address_columns)
    # Locals, not attributes, in the function that runs for every row.
    customer_fields, customer_cells = customer_pick.fields, customer_pick.cells
    address_fields, address_cells = address_pick.fields, address_pick.cells
    quoted_fields = [field for field in customer_fields if field in QUOTED_FIELDS]
    boolean_fields = [field for field in customer_fields if field in SHOPIFY_BOOLEANS]
    address_quoted_fields = [field for field in address_fields if field in QUOTED_FIELDS]

    def shopify_item(cells: list[str]) -> dict:
        # {field: stripped cell} without the empty ones (most cells of an export are), all in C:
        # this runs for every row of files with millions.
        item = dict(filter(_SECOND, zip(customer_fields, map(str.strip, customer_cells(cells)), strict=True)))
        address = dict(filter(_SECOND, zip(address_fields, map(str.strip, address_cells(cells)), strict=True)))
        for field in quoted_fields:
            if item.get(field, "").startswith("'"):
                item[field] = item[field][1:]
        for field in boolean_fields:
            if field in item:
                item[field] = BOOLEAN_WORDS.get(item[field].lower(), item[field])  # else the validation says why
        if address:
            for field in address_quoted_fields:
                if address.get(field, "").startswith("'"):
                    address[field] = address[field][1:]
            address["default"] = True
            item["addresses"] = [address]
        if metadata_columns:
            put_metadata_cells(item, metadata_columns, cells)
        return item

    return shopify_item


_SECOND = itemgetter(1)


@dataclass(frozen=True, slots=True)
class ColumnPick:
    """Some columns of a CSV row: the API fields they fill, and a function from a row's cells to theirs."""

    fields: list[str]
    cells: Callable[[list[str]], tuple]  # always a tuple, in the order of `fields`

    @classmethod
    def of(cls, columns: dict[int, str]) -> "ColumnPick":
        """From {position in the row: API field}, in the row's order."""
        positions, fields = list(columns), list(columns.values())
        if not positions:
            return cls(fields, lambda cells: ())
        if len(positions) == 1:
            return cls(fields, lambda cells: (cells[positions[0]],))
        return cls(fields, itemgetter(*positions))


def api_reader(columns: list[str]):
    """A function from a row of our own CSV layout (columns named as the API's fields) to the
    customer; an empty cell sends nothing. `metadata.KEY` columns fill `metadata` (and so for
    `private_metadata`); a `metadata` column holds a JSON object."""
    metadata_columns = {
        position: metadata for position, column in enumerate(columns) if (metadata := metadata_column(column))
    }

    def api_item(cells: list[str]) -> dict:
        item: dict[str, Any] = {}
        for position, (column, cell) in enumerate(zip(columns, cells, strict=True)):
            if cell == "" or position in metadata_columns:
                continue
            value: Any = cell
            if column in QUOTED_FIELDS:
                value = _unquote(cell)
            elif column in API_BOOLEAN_FIELDS:
                value = _boolean(cell)
            elif column in ("addresses", "metadata", "private_metadata"):
                try:
                    value = orjson.loads(cell)  # a depth limit: a cell of [[[[... is a ValueError
                except ValueError:
                    pass  # the validation reports it as not an array of addresses (or an object)
            elif column == "version" and is_row_number(cell):
                value = int(cell)
            item[column] = value
        if metadata_columns:
            put_metadata_cells(item, metadata_columns, cells)
        return item

    return api_item


# Bytes that are not UTF-8 are read as lone surrogates (errors="surrogateescape"), kept for the errors file.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _undecodable_column(cells: list[str], row: str) -> int | None:
    """The index of the first cell holding bytes that were not UTF-8, if any (`row`: the cells
    joined; one regex per row, none for an ASCII row: Python knows that of a string without reading it)."""
    if row.isascii() or not _UNDECODABLE.search(row):
        return None
    return next(i for i, cell in enumerate(cells) if _UNDECODABLE.search(cell))


class CustomerFile:
    """A customer file opened for streaming: format detected (or given), gzip undone on the fly."""

    def __init__(self, path: str, file_format: str = "auto"):
        self.path = path
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.size = os.fstat(self._raw.fileno()).st_size
        stream: io.BufferedIOBase = self._raw
        if self._raw.peek(2)[:2] == b"\x1f\x8b":
            stream = io.BufferedReader(gzip.GzipFile(fileobj=self._raw), buffer_size=1 << 16)
        self._stream = stream
        try:
            self.format = file_format if file_format != "auto" else self._detect()
            if self.format not in FORMATS:
                raise ImportFileError(f"unknown format {self.format!r}; use one of {', '.join(FORMATS)}")
        except ImportFileError:
            self._raw.close()
            raise
        self.layout = {"csv": None, "json": "json-array", "jsonl": "json-lines"}[self.format]
        self.header: list[str] | None = None
        self.ignored_columns: list[str] = []  # of a CSV: its columns that no customer field comes from
        self.failure: str | None = None

    def _detect(self) -> str:
        try:
            head = self._stream.peek(4096)[:4096]
        except (OSError, EOFError) as exc:
            raise ImportFileError(f"cannot read {self.path}: {exc}") from None
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        if head.startswith(b"["):
            return "json"
        if head.startswith(b"{"):
            return "jsonl"
        return "csv"

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for a .gz): for the progress estimate."""
        return self.size if self._raw.closed else self._raw.tell()

    def close(self) -> None:
        self._raw.close()

    def rows(self) -> Iterator[SourceRow]:
        """The records, in order. When the rest of the file cannot be read, they stop and `failure` says why."""
        try:
            yield from {"csv": self._csv_rows, "json": self._json_rows, "jsonl": self._jsonl_rows}[self.format]()
        except ImportFileError as exc:
            self.failure = str(exc)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.failure = f"cannot read {self.path}: {exc}"

    def _csv_rows(self) -> Iterator[SourceRow]:
        text = io.TextIOWrapper(self._stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        try:
            yield from self._csv_records(csv.reader(text))
        finally:
            text.detach()  # the wrapper would close the file when collected

    def _csv_records(self, reader) -> Iterator[SourceRow]:
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFileError(f"the CSV header cannot be read: {exc}") from None
        header = spreadsheet_unescaped(header)
        self.header = header
        keep = [i for i, name in enumerate(header) if name.strip().lower() not in ERROR_COLUMNS]
        layout = shopify_layout([header[i] for i in keep])
        self.layout = layout or "api-fields"
        names = [header[i].strip() for i in keep]
        if layout:
            self.ignored_columns = shopify_ignored_columns(names)
        elif not KNOWN_FIELDS.intersection(names):
            # Most likely a file without a header: its first row of data read as column names would
            # fail every row.
            raise ImportFileError(
                f"the first row of {self.path} ({len(header)} cells) names none of the columns an import reads "
                "(the API's field names, such as id, email, phone, first_name; or a Shopify customer CSV's): "
                "a file needs a header row"
            )
        to_item = shopify_reader(names) if layout else api_reader(names)
        every_column = len(keep) == len(header)
        last_line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                line = last_line + 1
                last_line = reader.line_num
                error = FieldError(ErrorCode.INVALID_ROW, f"The row cannot be read as CSV: {exc}.")
                yield SourceRow(line=line, item=None, raw={}, error=error)
                continue
            line, last_line = last_line + 1, reader.line_num
            if not cells:
                continue  # a blank line
            if len(cells) != len(header):
                error = FieldError(
                    ErrorCode.INVALID_ROW, f"The row has {len(cells)} columns; the header has {len(header)}."
                )
                yield SourceRow(line=line, item=None, raw=cells, error=error, columns=header)
                continue
            row = "".join(cells)
            if "'" in row:
                cells = spreadsheet_unescaped(cells)
            bad = _undecodable_column(cells, row)
            if bad is not None:
                column = header[bad]
                message = f"The row is not valid UTF-8 (column '{column}'); save the file as UTF-8."
                error = FieldError(ErrorCode.INVALID_ENCODING, message, field=column)
                yield SourceRow(line=line, item=None, raw=cells, error=error, columns=header)
                continue
            item = to_item(cells if every_column else [cells[i] for i in keep])
            yield SourceRow(line=line, item=item, raw=cells, columns=header)

    def _json_rows(self) -> Iterator[SourceRow]:
        position = 0
        try:
            for position, item in enumerate(ijson.items(self._stream, "item", use_float=True), start=1):
                yield SourceRow(line=position, item=_unwrap(item), raw=item)
        except ijson.JSONError as exc:
            raise ImportFileError(f"the JSON array cannot be read after item {position}: {exc}") from None

    def _jsonl_rows(self) -> Iterator[SourceRow]:
        for line_number, line in enumerate(self._stream, start=1):
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                raw = line.decode("utf-8", errors="replace").rstrip("\r\n")
                error = FieldError(ErrorCode.INVALID_ENCODING, "The line is not valid UTF-8; save the file as UTF-8.")
                yield SourceRow(line=line_number, item=None, raw=raw, error=error)
                continue
            try:
                item = orjson.loads(text.removeprefix("\ufeff"))
            except orjson.JSONDecodeError as exc:
                error = FieldError(ErrorCode.INVALID_JSON_INPUT, f"The line is not valid JSON: {exc}.")
                yield SourceRow(line=line_number, item=None, raw=text.rstrip("\r\n"), error=error)
                continue
            yield SourceRow(line=line_number, item=_unwrap(item), raw=item)


def _unwrap(item: Any) -> Any:
    """A line of a JSON Lines errors file ({"line", "errors", "row"}) re-imports as its row."""
    if isinstance(item, dict) and set(item) == {"line", "errors", "row"} and isinstance(item["row"], dict):
        return item["row"]
    return item
