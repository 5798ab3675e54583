"""Import a customer file into a store: the pipeline behind `manage.py import_customers`.

The file streams in batches through the upload endpoint's own write path (customers.services.bulk):
the same validation, duplicates rules and bulk write. Each batch is its own transaction, so an
interrupted import keeps whole batches, and a re-run with on_conflict="skip" finishes the job.
"""

import itertools
import multiprocessing
import multiprocessing.util
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from multiprocessing.pool import AsyncResult
from typing import Any

from django.db import connection, connections

from customers.import_errors import ERROR_COLUMNS, ErrorsFile
from customers.importers import CustomerFile, SourceRow
from customers.services.bulk import CleanedItems, clean_items, customers_bulk_write
from tenants.models import Store
from twc.api.errors import ErrorCode

# Rejected rows kept for the summary; the errors file has them all.
SHOWN_REJECTIONS = 20


@dataclass(frozen=True, slots=True)
class ImportOptions:
    on_conflict: str = "error"  # one of customers.services.bulk.ON_CONFLICT_MODES
    batch_size: int = 5000  # rows per transaction
    jobs: int | None = None  # worker processes writing batches (PostgreSQL); None: one per CPU
    dry_run: bool = False  # judge every row, write nothing
    errors_path: str | None = None  # where the rejected rows go (.csv, else JSON Lines)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    row: SourceRow
    errors: list[dict]  # as in the upload's report


@dataclass(slots=True)
class ImportTally:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0  # rows the file garbled included
    rejected: list[RejectedRow] = field(default_factory=list)  # the first SHOWN_REJECTIONS
    errors_written: int = 0  # rows written to the errors file


@dataclass(frozen=True, slots=True)
class CleanedBatch:
    rows: list[SourceRow]
    readable: list[SourceRow]  # the rows the file did not garble, in order
    cleaned: CleanedItems  # of the readable rows' items


@dataclass(frozen=True, slots=True)
class WrittenBatch:
    rows: list[SourceRow]
    readable: list[SourceRow]
    report: dict  # customers_bulk_write's, one result per readable row


@dataclass(frozen=True, slots=True)
class BatchInFlight:
    rows: list[SourceRow]
    readable: list[SourceRow]
    task: AsyncResult  # write_in_worker's report, when done


def customers_import(
    *,
    source: CustomerFile,
    store: Store,
    options: ImportOptions,
    on_batch: Callable[[int, int], None] | None = None,
) -> ImportTally:
    """Every row of `source` created, updated, skipped or rejected; the tally of it.

    `on_batch(rows, rows_so_far)` is called after each batch (the command's progress bar). The
    errors file is opened at the first rejected row: a clean import leaves none behind.
    """
    tally = ImportTally()
    errors_file: ErrorsFile | None = None
    try:
        batches = batched(source.rows(), options.batch_size)
        for written in written_batches(batches=batches, store=store, options=options):
            report = written.report
            tally.rows += len(written.rows)
            tally.created += report["created"]
            tally.updated += report["updated"]
            tally.skipped += report["skipped"]
            tally.failed += report["failed"] + len(written.rows) - len(written.readable)
            if report["failed"] or len(written.readable) != len(written.rows):
                for rejection in rejected_rows(written):
                    if len(tally.rejected) < SHOWN_REJECTIONS:
                        tally.rejected.append(rejection)
                    if options.errors_path:
                        errors_file = errors_file or _errors_file(source, options.errors_path)
                        errors_file.write(rejection.row, rejection.errors)
                        tally.errors_written += 1
            if on_batch is not None:
                on_batch(len(written.rows), tally.rows)
    finally:
        if errors_file is not None:
            errors_file.close()
    return tally


def rejected_rows(batch: WrittenBatch) -> Iterator[RejectedRow]:
    """Each rejected row of the batch with its errors, in file order."""
    outcomes = {id(row): result for row, result in zip(batch.readable, batch.report["results"], strict=True)}
    for row in batch.rows:
        result = outcomes.get(id(row))
        if result is None:
            assert row.error is not None  # readable_rows leaves out only the rows with an error
            yield RejectedRow(row, [row.error.as_dict()])
        elif result["status"] == "failed":
            yield RejectedRow(row, result["errors"])


def _errors_file(source: CustomerFile, path: str) -> ErrorsFile:
    if source.format != "csv":
        return ErrorsFile(path, None)
    return ErrorsFile(path, [h for h in source.header or [] if h.strip().lower() not in ERROR_COLUMNS])


def batched(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def readable_rows(rows: list[SourceRow]) -> list[SourceRow]:
    return [row for row in rows if row.error is None]


_DONE = object()


def cleaned_batches(
    *, batches: Iterable[list[SourceRow]], store: Store, on_conflict: str, ahead: int = 2
) -> Iterator[CleanedBatch]:
    """The batches, in file order, with their items cleaned in a thread.

    Validation (phone parsing above all) is most of an import's CPU, and the database's share of
    a batch (COPY, index upkeep, commit) is mostly waiting: a reader thread validates the next
    batches while this one writes, so the two overlap on two cores. The thread never touches the
    database; at most `ahead` batches wait in the queue, so memory stays flat.
    """
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def read_and_clean() -> None:
        try:
            for rows in batches:
                readable = readable_rows(rows)
                cleaned = clean_items(store=store, items=[row.item for row in readable], on_conflict=on_conflict)
                batch = CleanedBatch(rows, readable, cleaned)
                while not stop.is_set():
                    try:
                        ready.put(batch, timeout=0.1)
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
        while (batch := ready.get()) is not _DONE:
            if isinstance(batch, BaseException):
                raise batch
            yield batch
    finally:
        stop.set()
        reader.join(timeout=5)


def _worker_started() -> None:
    # Each worker opens its own connection on first use; close it when the worker ends.
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


def write_in_worker(*, store: Store, items: list[Any], on_conflict: str, dry_run: bool, expect_new: bool) -> dict:
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


def written_batches(
    *, batches: Iterable[list[SourceRow]], store: Store, options: ImportOptions
) -> Iterator[WrittenBatch]:
    """The batches, in file order, each with the report of its write.

    With `jobs` above 1 (PostgreSQL), whole batches are validated and written by that many worker
    processes, each with its own connection, as gunicorn's workers serve uploads; this process only
    reads the file and keeps the tally. Batches in flight at once may collide on a key: the bulk
    write re-plans on the database's unique violation, so the one committed second reports the
    duplicate (not always the later row of the file: docs/bulk-import.md).
    """
    jobs = options.jobs if options.jobs is not None else (os.cpu_count() or 1)
    # Inside a transaction (a caller's atomic block) the workers could not see its writes.
    parallel = (
        jobs > 1
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and "fork" in multiprocessing.get_all_start_methods()
    )
    batches = iter(batches)
    first = next(batches, None)
    second = next(batches, None) if parallel else None
    if second is None:  # one batch (a small file) is written here: no processes to start
        parallel = False
    batches = itertools.chain([b for b in (first, second) if b is not None], batches)
    # New customers are written without looking for existing ones first, until a batch meets one.
    expect_new = True
    if not parallel:
        for batch in cleaned_batches(batches=batches, store=store, on_conflict=options.on_conflict):
            report = customers_bulk_write(
                store=store,
                items=[row.item for row in batch.readable],
                on_conflict=options.on_conflict,
                dry_run=options.dry_run,
                cleaned=batch.cleaned,
                expect_new=expect_new,
            )
            expect_new = expect_new and not met_existing_customers(report)
            yield WrittenBatch(batch.rows, batch.readable, report)
        return
    pending: deque[BatchInFlight] = deque()
    pool = None
    try:
        connections.close_all()  # forked workers must not share this process's connection
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_started)

        def finished() -> WrittenBatch:
            nonlocal expect_new
            done = pending.popleft()
            report = done.task.get()
            expect_new = expect_new and not met_existing_customers(report)
            return WrittenBatch(done.rows, done.readable, report)

        for rows in batches:
            readable = readable_rows(rows)
            task = pool.apply_async(
                write_in_worker,
                kwds={
                    "store": store,
                    "items": [row.item for row in readable],
                    "on_conflict": options.on_conflict,
                    "dry_run": options.dry_run,
                    "expect_new": expect_new,
                },
            )
            pending.append(BatchInFlight(rows, readable, task))
            if len(pending) > jobs:
                yield finished()
        while pending:
            yield finished()
        pool.close()
        pool.join()
    finally:
        if pool is not None:
            pool.terminate()
