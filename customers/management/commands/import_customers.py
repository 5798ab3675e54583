"""python manage.py import_customers FILE --store STORE [--format auto|csv|json|jsonl] [--on-conflict error|skip|update]
[--batch-size N] [--jobs N] [--errors FILE.csv|FILE.jsonl] [--dry-run] [--no-progress]

Streams the file in batches through the upload endpoint's own write path (customers.services.bulk):
the same validation, duplicates rules and bulk write. Each batch is its own transaction, so an
interrupted import keeps whole batches, and a re-run with --on-conflict skip finishes the job.
"""

import itertools
import multiprocessing
import multiprocessing.util
import os
import queue
import sys
import threading
from collections import deque
from itertools import islice

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
from tqdm import tqdm

from customers.importers import ERROR_COLUMNS, FORMATS, CustomerFile, ErrorsFile, ImportFileError
from customers.services.bulk import ON_CONFLICT_MODES, clean_items, customers_bulk_write
from tenants.models import Store
from twc.api.errors import ErrorCode
from twc.gc_tuning import tune_for_bulk_work

# Rejected rows listed in the summary; the errors file has them all.
SHOWN_REJECTIONS = 20
LAYOUT_NAMES = {
    "api-fields": "CSV with the API's field names",
    "shopify-export": "Shopify customer export (CSV)",
    "shopify-template": "Shopify customer import template (CSV)",
    "shopify-legacy": "Shopify customer CSV, older layout",
    "json-array": "JSON array",
    "json-lines": "JSON Lines",
}


def batched(iterable, size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


_DONE = object()


def cleaned_batches(batches, store, on_conflict: str, *, ahead: int = 2):
    """(batch, readable rows, their clean_items) in file order, read and validated in a thread.

    Validation (phone parsing above all) is most of an import's CPU, and the database's share of
    a batch (COPY, index upkeep, commit) is mostly waiting: a reader thread validates the next
    batches while this one writes, so the two overlap on two cores. The thread never touches the
    database; at most `ahead` batches wait in the queue, so memory stays flat.
    """
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def read_and_clean():
        try:
            for batch in batches:
                readable = [row for row in batch if row.error is None]
                cleaned = clean_items(store=store, items=[row.item for row in readable], on_conflict=on_conflict)
                while not stop.is_set():
                    try:
                        ready.put((batch, readable, cleaned), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the writing thread
            ready.put(exc)

    reader = threading.Thread(target=read_and_clean, name="import-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def _worker_started() -> None:
    # Each worker opens its own connection on first use; close it when the worker ends.
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


def write_in_worker(store, items, on_conflict, dry_run, expect_new):
    """A whole batch (validation and write, in its own transaction) in a worker process."""
    return customers_bulk_write(
        store=store, items=items, on_conflict=on_conflict, dry_run=dry_run, expect_new=expect_new
    )


def met_existing_customers(report: dict) -> bool:
    """Whether a batch found customers already in the store (a re-run, an overlapping file)."""
    if report["skipped"] or report["updated"]:
        return True
    return any(
        error.get("code") == ErrorCode.DUPLICATE_FIELD
        for result in report["results"]
        if result["status"] == "failed"
        for error in result["errors"]
    )


def written_batches(batches, store, options: dict):
    """(batch, readable rows, report) in file order.

    With `--jobs` above 1 (PostgreSQL), whole batches are validated and written by that many worker
    processes, each with its own connection, as gunicorn's workers serve uploads; this process only
    reads the file and keeps the tally. Batches in flight at once may collide on a key: the bulk
    write re-plans on the database's unique violation, so the one committed second reports the
    duplicate (not always the later row of the file: README, "Importing").
    """
    jobs = options["jobs"] if options["jobs"] is not None else (os.cpu_count() or 1)
    # Inside a transaction (a caller's atomic block) the workers could not see its writes.
    parallel = (
        jobs > 1
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and "fork" in multiprocessing.get_all_start_methods()
    )
    args = (options["on_conflict"], options["dry_run"])
    batches = iter(batches)
    first = next(batches, None)
    second = next(batches, None) if parallel else None
    if second is None:  # one batch (a small file) is written here: no processes to start
        parallel = False
    batches = itertools.chain([b for b in (first, second) if b is not None], batches)
    # New customers are written without looking for existing ones first, until a batch meets one.
    expect_new = True
    if not parallel:
        for batch, readable, cleaned in cleaned_batches(batches, store, options["on_conflict"]):
            items = [row.item for row in readable]
            report = customers_bulk_write(
                store=store, items=items, on_conflict=args[0], dry_run=args[1], cleaned=cleaned, expect_new=expect_new
            )
            expect_new = expect_new and not met_existing_customers(report)
            yield batch, readable, report
        return
    pending: deque = deque()
    pool = None
    try:
        connections.close_all()  # forked workers must not share this process's connection
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_started)

        def finished():
            nonlocal expect_new
            done_batch, done_readable, result = pending.popleft()
            report = result.get()
            expect_new = expect_new and not met_existing_customers(report)
            return done_batch, done_readable, report

        for batch in batches:
            readable = [row for row in batch if row.error is None]
            items = [row.item for row in readable]
            task = pool.apply_async(write_in_worker, (store, items, *args, expect_new))
            pending.append((batch, readable, task))
            if len(pending) > jobs:
                yield finished()
        while pending:
            yield finished()
        pool.close()
        pool.join()
    finally:
        if pool is not None:
            pool.terminate()


class Command(BaseCommand):
    help = "Import a customer file (CSV incl. Shopify's layouts, JSON array, JSON Lines; .gz too) into a store."
    # The system checks (URLs, admin, every app) cost half a second before the first row, and an
    # import depends on none of them; `manage.py check` and every server start still run them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file", help="the file to import (.gz is read as it is)")
        parser.add_argument("--store", required=True, help="the store's name")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS], help="default: detected")
        parser.add_argument(
            "--on-conflict",
            default="error",
            choices=ON_CONFLICT_MODES,
            help="a row whose id, email or phone an existing customer holds: fail it (default), skip it, "
            "or update that customer as a PUT would",
        )
        parser.add_argument("--batch-size", type=int, default=5000, help="rows per transaction (default 5000)")
        parser.add_argument("--errors", help="write rejected rows here (.csv, else JSON Lines) to fix and re-import")
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="worker processes validating and writing batches (PostgreSQL; default: one per CPU)",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate everything, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        if self._called_from_command_line:  # its own process: a caller's (call_command) is left as it is
            tune_for_bulk_work()  # before the workers are forked: they inherit it
        store = Store.objects.filter(name=options["store"]).first()
        if store is None:
            raise CommandError(f"no store named {options['store']!r}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        errors = options["errors"]
        if errors and os.path.exists(errors) and os.path.exists(options["file"]):
            if os.path.samefile(errors, options["file"]):  # opening it for writing would empty the input
                raise CommandError("--errors must name another file than the one imported")
        try:
            source = CustomerFile(options["file"], options["format"])
        except FileNotFoundError:
            raise CommandError(f"no such file: {options['file']}")
        except (OSError, ImportFileError) as exc:
            raise CommandError(str(exc))
        try:
            counts, rejected, errors_file = self._import(source, store, options)
        finally:
            source.close()
        self._summary(source, counts, rejected, errors_file, options)
        if source.failure:
            raise CommandError(f"stopped after {counts['rows']} rows: {source.failure}")

    def _import(self, source: CustomerFile, store: Store, options: dict):
        counts = {"rows": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0}
        rejected: list[tuple[int, list[dict]]] = []
        errors_file = None
        bar = tqdm(
            unit=" rows",
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=options["no_progress"],
            dynamic_ncols=True,
        )
        try:
            batches = batched(source.rows(), options["batch_size"])
            for batch, readable, report in written_batches(batches, store, options):
                counts["rows"] += len(batch)
                for status in ("created", "updated", "skipped", "failed"):
                    counts[status] += report[status]
                counts["failed"] += len(batch) - len(readable)  # rows the file itself garbled
                if report["failed"] or len(readable) != len(batch):
                    for row, errors in self._rejections(batch, readable, report):
                        if len(rejected) < SHOWN_REJECTIONS:
                            rejected.append((row.line, errors))
                        if options["errors"]:
                            errors_file = errors_file or self._errors_file(source, options["errors"])
                            errors_file.write(row, errors)
                self._advance(bar, source, len(batch), counts["rows"])
        finally:
            bar.close()
            if errors_file is not None:
                errors_file.close()
        return counts, rejected, errors_file

    @staticmethod
    def _rejections(batch: list, readable: list, report: dict):
        """(row, its errors) for each rejected row of the batch, in file order."""
        outcomes = {id(row): result for row, result in zip(readable, report["results"], strict=True)}
        for row in batch:
            result = outcomes.get(id(row))
            if result is None:
                yield row, [row.error.as_dict()]
            elif result["status"] == "failed":
                yield row, result["errors"]

    @staticmethod
    def _errors_file(source: CustomerFile, path: str) -> ErrorsFile:
        """Opened at the first rejected row: a clean import leaves no errors file behind."""
        if source.format != "csv":
            return ErrorsFile(path, None)
        return ErrorsFile(path, [h for h in source.header or [] if h.strip().lower() not in ERROR_COLUMNS])

    @staticmethod
    def _advance(bar, source: CustomerFile, rows: int, done: int) -> None:
        # The row count is unknown until the end: estimate it from the bytes read so far.
        read = source.position()
        if read:
            bar.total = max(done, int(done * source.size / read))
        bar.update(rows)

    def _summary(self, source: CustomerFile, counts: dict, rejected: list, errors_file, options: dict) -> None:
        layout = LAYOUT_NAMES.get(source.layout, source.format)
        self.stdout.write(f"Read {counts['rows']} rows from {source.path} ({layout}).")
        verb = "Would have" if options["dry_run"] else ""
        line = (
            f"created: {counts['created']}, updated: {counts['updated']}, "
            f"skipped: {counts['skipped']}, failed: {counts['failed']}"
        )
        self.stdout.write(f"{verb + ' ' if verb else ''}{line}" + (" (dry run: nothing written)" if verb else ""))
        if rejected:
            self.stdout.write("Rejected rows (line: field: reason):")
            for line_number, errors in rejected:
                for error in errors:
                    field = error.get("field") or "-"
                    self.stdout.write(f"  line {line_number}: {field}: {error['message']}")
            if counts["failed"] > len(rejected):
                self.stdout.write(f"  ... and {counts['failed'] - len(rejected)} more rejected rows.")
        if errors_file is not None and errors_file.count:
            self.stdout.write(
                f"The {errors_file.count} rejected rows are in {errors_file.path}: fix them and import that file."
            )
