"""python manage.py import_customers FILE --store STORE [--format auto|csv|json|jsonl] [--on-conflict error|skip|update]
[--batch-size N] [--jobs N] [--errors FILE.csv|FILE.jsonl] [--dry-run] [--no-progress]

The pipeline is customers.services.imports (the upload endpoint's own write path, in batches);
this command reads its arguments, shows the progress and prints the summary. Exit status: 0 when
every row landed (created, updated or skipped), 2 when the import finished with rejected rows, 1
when it could not finish (or start).
"""

import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.importers import FORMATS, CustomerFile, ImportFileError
from customers.services.bulk import ON_CONFLICT_MODES
from customers.services.imports import ImportOptions, ImportTally, customers_import
from tenants.models import Store
from twc.gc_tuning import tune_for_bulk_work

# Exit status of an import that read the whole file but rejected rows (1 is "could not finish").
EXIT_REJECTED_ROWS = 2
# Ignored columns named in the summary; a Shopify export can have dozens of metafields.
IGNORED_COLUMNS_SHOWN = 10

LAYOUT_NAMES = {
    "api-fields": "CSV with the API's field names",
    "shopify-export": "Shopify customer export (CSV)",
    "shopify-template": "Shopify customer import template (CSV)",
    "shopify-legacy": "Shopify customer CSV, older layout",
    "json-array": "JSON array",
    "json-lines": "JSON Lines",
}


class Command(BaseCommand):
    help = "Import a customer file (CSV incl. Shopify's layouts, JSON array, JSON Lines; .gz too) into a store."
    # The system checks (URLs, admin, every app) delay the first row, and an import depends on
    # none of them; `manage.py check` and every server start still run them.
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
        import_options = ImportOptions(
            on_conflict=options["on_conflict"],
            batch_size=options["batch_size"],
            jobs=options["jobs"],
            dry_run=options["dry_run"],
            errors_path=errors,
        )
        try:
            source = CustomerFile(options["file"], options["format"])
        except FileNotFoundError:
            raise CommandError(f"no such file: {options['file']}")
        except (OSError, ImportFileError) as exc:
            raise CommandError(str(exc))
        try:
            tally = self._import(source, store, import_options, show_progress=not options["no_progress"])
        finally:
            source.close()
        self._summary(source, tally, import_options)
        if source.failure:
            raise CommandError(f"stopped after {tally.rows} rows: {source.failure}")
        if tally.failed:
            raise CommandError(
                f"{tally.failed} of {tally.rows} rows were rejected (listed above)", returncode=EXIT_REJECTED_ROWS
            )

    def _import(self, source: CustomerFile, store: Store, options: ImportOptions, *, show_progress: bool):
        bar = tqdm(
            unit=" rows",
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=not show_progress,
            dynamic_ncols=True,
        )

        def advance(rows: int, done: int) -> None:
            # The row count is unknown until the end: estimate it from the bytes read so far.
            read = source.position()
            if read:
                bar.total = max(done, int(done * source.size / read))
            bar.update(rows)

        try:
            return customers_import(source=source, store=store, options=options, on_batch=advance)
        finally:
            bar.close()

    def _summary(self, source: CustomerFile, tally: ImportTally, options: ImportOptions) -> None:
        layout = LAYOUT_NAMES.get(source.layout, source.format)
        self.stdout.write(f"Read {tally.rows} rows from {source.path} ({layout}).")
        verb = "Would have" if options.dry_run else ""
        line = f"created: {tally.created}, updated: {tally.updated}, skipped: {tally.skipped}, failed: {tally.failed}"
        self.stdout.write(f"{verb + ' ' if verb else ''}{line}" + (" (dry run: nothing written)" if verb else ""))
        if source.ignored_columns:
            ignored = source.ignored_columns
            shown = ", ".join(ignored[:IGNORED_COLUMNS_SHOWN])
            more = f" and {len(ignored) - IGNORED_COLUMNS_SHOWN} more" if len(ignored) > IGNORED_COLUMNS_SHOWN else ""
            self.stdout.write(f"Columns not imported (no customer field comes from them): {shown}{more}.")
        if tally.rejected:
            self.stdout.write("Rejected rows (line: field: reason):")
            for rejection in tally.rejected:
                for error in rejection.errors:
                    field = error.get("field") or "-"
                    self.stdout.write(f"  line {rejection.row.line}: {field}: {error['message']}")
            if tally.failed > len(tally.rejected):
                self.stdout.write(f"  ... and {tally.failed - len(tally.rejected)} more rejected rows.")
        if tally.errors_written:
            self.stdout.write(
                f"The {tally.errors_written} rejected rows are in {options.errors_path}: fix them and import that file."
            )
