"""python manage.py import_customers: every format and layout, broken rows, errors file, dry run."""

import csv
import gzip
import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from customers.models import Address, Customer
from tests.factories import customer_make

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "customers"


def run_import(path, *args, status=0):
    """The command's output; `status` is the exit status expected of an import that finished: 0 when
    every row landed, 2 with rejected rows (1, could not finish, raises CommandError)."""
    out, err = StringIO(), StringIO()
    try:
        call_command("import_customers", str(path), "--store", "Store A", *args, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        if exc.returncode != 2:
            raise
        code = exc.returncode
    assert code == status, out.getvalue()
    return out.getvalue(), err.getvalue()


def live_customer(ref):
    return Customer.objects.get(ref=ref, deleted_at__isnull=True)


def test_shopify_export_layout(store_a, store_b):
    out, _ = run_import(FIXTURES / "shopify_export.csv", "--no-progress")
    assert out.splitlines()[:2] == [
        f"Read 3 rows from {FIXTURES / 'shopify_export.csv'} (Shopify customer export (CSV)).",
        "created: 3, updated: 0, skipped: 0, failed: 0",
    ]
    ann = live_customer("7012345678901")
    assert (ann.email, ann.email_key, ann.phone) == ("Ann.Smith@Example.com", "ann.smith@example.com", "+16135550100")
    assert (ann.first_name, ann.last_name, ann.accepts_marketing, ann.tax_exempt) == ("Ann", "Smith", True, False)
    assert ann.tags == "vip, newsletter"
    assert ann.note == "Prefers email,\ncalls on Fridays"
    assert ann.orders_count == 0 and ann.version == 1 and ann.currency == "CAD"
    address = Address.objects.get(customer=ann)
    assert (address.company, address.address1, address.address2, address.city) == (
        "Acme",
        "1 Main St",
        "Suite 2",
        "Ottawa",
    )
    assert (address.province_code, address.country_code, address.zip, address.phone) == (
        "ON",
        "CA",
        "K1A 0B1",
        "+16135550101",
    )
    assert address.is_default
    bo = live_customer("7012345678902")
    assert (bo.phone, bo.tax_exempt, bo.tags, bo.accepts_marketing) == ("+16135550102", True, "wholesale", False)
    assert not Address.objects.filter(customer=bo).exists()
    ce = live_customer("7012345678903")
    assert (ce.email, ce.phone, ce.first_name) == (None, "+15145550103", "Cé")
    assert Customer.objects.filter(store=store_b).count() == 0


def test_shopify_import_template_layout(store_a):
    out, _ = run_import(FIXTURES / "shopify_template.csv", "--no-progress")
    assert "(Shopify customer import template (CSV))" in out.splitlines()[0]
    dee = Customer.objects.get(email_key="dee@example.com")
    assert dee.ref == str(dee.twc_customer_id)  # no Customer ID column: the service assigns the id
    assert (dee.phone, dee.tags) == ("+14165550104", "new, Toronto")
    assert Address.objects.get(customer=dee).zip == "M5V 2T6"
    eve = Customer.objects.get(email_key="eve@example.com")
    assert (eve.accepts_marketing, eve.tax_exempt, eve.note) == (True, True, "VIP customer")
    assert Address.objects.get(customer=eve).company == "Stone Ltd"


def test_shopify_legacy_layout(store_a):
    out, _ = run_import(FIXTURES / "shopify_legacy.csv", "--no-progress")
    assert "(Shopify customer CSV, older layout)" in out.splitlines()[0]
    fay = Customer.objects.get(email_key="fay@example.com")
    assert (fay.phone, fay.accepts_marketing, fay.tags) == ("+19025550105", True, "legacy")
    address = Address.objects.get(customer=fay)
    assert (address.company, address.city, address.province, address.province_code) == (
        "North Co",
        "Halifax",
        "Nova Scotia",
        "NS",
    )
    assert (address.country, address.country_code, address.zip) == ("Canada", "CA", "B3H 1A1")
    assert Customer.objects.filter(store=store_a).count() == 2


def test_api_fields_csv(store_a):
    out, _ = run_import(FIXTURES / "api_fields.csv", "--no-progress")
    assert "(CSV with the API's field names)" in out.splitlines()[0]
    hal = live_customer("c-1")
    assert (hal.state, hal.accepts_marketing, hal.marketing_opt_in_level, hal.currency) == (
        "enabled",
        True,
        "confirmed_opt_in",
        "USD",
    )
    assert Address.objects.get(customer=hal).country_code == "CA"
    ivy = live_customer("c-2")
    assert (ivy.tax_exempt, ivy.tax_exemptions, ivy.note, ivy.currency) == (
        True,
        ["CA_STATUS_CARD_EXEMPTION"],
        "hello",
        "CAD",
    )


def test_json_array(store_a):
    out, _ = run_import(FIXTURES / "customers.json", "--no-progress")
    assert "(JSON array)" in out.splitlines()[0]
    assert "created: 2, updated: 0, skipped: 0, failed: 0" in out
    assert live_customer("j-1").phone == "+16135550107" and live_customer("j-1").tags == "x, y"
    assert Address.objects.get(customer=live_customer("j-2")).address1 == "2 Oak Ave"


def test_json_lines_gzipped(store_a, tmp_path):
    path = tmp_path / "customers.jsonl.gz"
    path.write_bytes(gzip.compress((FIXTURES / "customers.jsonl").read_bytes()))
    out, _ = run_import(path, "--no-progress")
    assert "(JSON Lines)" in out.splitlines()[0]
    assert "created: 2, updated: 0, skipped: 0, failed: 0" in out
    assert live_customer("l-2").phone == "+442079460123"


def test_gzipped_shopify_csv(store_a, tmp_path):
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress((FIXTURES / "shopify_export.csv").read_bytes()))
    out, _ = run_import(path, "--no-progress")
    assert "created: 3," in out
    assert live_customer("7012345678901").note == "Prefers email,\ncalls on Fridays"


def test_format_override(store_a, tmp_path):
    path = tmp_path / "customers.data"
    shutil.copy(FIXTURES / "customers.jsonl", path)
    out, _ = run_import(path, "--format", "jsonl", "--no-progress")
    assert "created: 2," in out
    # As CSV, its first line is no header: the import stops before any row.
    with pytest.raises(CommandError, match="names none of the columns an import reads") as stopped:
        run_import(path, "--format", "csv", "--no-progress", "--on-conflict", "skip")
    assert stopped.value.returncode == 1


def test_broken_rows_summary_and_errors_file(store_a, tmp_path):
    customer_make(store=store_a, id="x-1", email="taken@example.com")
    errors_path = tmp_path / "errors.csv"
    out, _ = run_import(FIXTURES / "broken.csv", "--no-progress", "--errors", str(errors_path), status=2)
    assert out.splitlines() == [
        f"Read 8 rows from {FIXTURES / 'broken.csv'} (CSV with the API's field names).",
        "created: 2, updated: 0, skipped: 0, failed: 6",
        "Rejected rows (line: field: reason):",
        "  line 3: email: 'email' is not a valid email address.",
        "  line 4: phone: 'phone' is not a dialable number (national numbers are read as CA).",
        "  line 5: email: Another customer of this store already has this email.",
        "  line 6: email: Another customer of this store already has this email.",
        "  line 7: -: The row has 2 columns; the header has 4.",
        "  line 8: first_name: The row is not valid UTF-8 (column 'first_name'); save the file as UTF-8.",
        f"The 6 rejected rows are in {errors_path}: fix them and import that file.",
    ]
    assert sorted(Customer.objects.filter(store=store_a).values_list("ref", flat=True)) == ["b-1", "b-8", "x-1"]
    with open(errors_path, encoding="utf-8", errors="surrogateescape", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["error_line", "error_field", "error_code", "error_reason", "id", "email", "phone", "first_name"]
    assert [r[:3] for r in rows[1:]] == [
        ["3", "email", "InvalidField"],
        ["4", "phone", "InvalidField"],
        ["5", "email", "DuplicateField"],
        ["6", "email", "DuplicateField"],
        ["7", "", "InvalidRow"],
        ["8", "first_name", "InvalidEncoding"],
    ]
    assert rows[1][4:] == ["b-2", "not-an-email", "", "Bad email"]
    assert rows[5][4:] == ["b-6", "ok6@example.com"]  # as it was: two cells

    # The shop fixes the rows in the errors file and imports it as it is.
    fixed = [rows[0]]
    fixed.append(rows[1][:4] + ["b-2", "fixed2@example.com", "", "Fixed"])
    fixed.append(rows[2][:4] + ["b-3", "ok3@example.com", "+16135550103", "Fixed"])
    fixed.append(rows[3][:4] + ["b-4", "ok4@example.com", "", "Fixed"])
    fixed.append(rows[5][:4] + ["b-6", "ok6@example.com", "", ""])
    fixed.append(rows[6][:4] + ["b-7", "ok7@example.com", "", "Café"])
    fixed_path = tmp_path / "fixed.csv"
    with open(fixed_path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(fixed)
    out, _ = run_import(fixed_path, "--no-progress")
    assert "created: 5, updated: 0, skipped: 0, failed: 0" in out
    assert live_customer("b-7").first_name == "Café"
    assert live_customer("b-3").phone == "+16135550103"


def test_jsonl_errors_file_reimports(store_a, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "e-1", "email": "bad"}\nnot json\n{"id": "e-2", "email": "fine@example.com"}\n')
    errors_path = tmp_path / "errors.jsonl"
    out, _ = run_import(source, "--no-progress", "--errors", str(errors_path), status=2)
    assert "created: 1, updated: 0, skipped: 0, failed: 2" in out
    entries = [json.loads(line) for line in errors_path.read_text().splitlines()]
    assert [e["line"] for e in entries] == [1, 2]
    assert entries[0]["errors"][0]["field"] == "email"
    assert entries[0]["row"] == {"id": "e-1", "email": "bad"}
    assert entries[1]["errors"][0]["code"] == "InvalidJsonInput" and entries[1]["row"] == "not json"
    entries[0]["row"]["email"] = "good@example.com"
    errors_path.write_text(json.dumps(entries[0]) + "\n")
    out, _ = run_import(errors_path, "--no-progress")
    assert "created: 1," in out
    assert live_customer("e-1").email == "good@example.com"


def test_dry_run_writes_nothing(store_a, tmp_path):
    errors_path = tmp_path / "errors.csv"
    out, _ = run_import(FIXTURES / "broken.csv", "--no-progress", "--dry-run", "--errors", str(errors_path), status=2)
    assert "Would have created: 3, updated: 0, skipped: 0, failed: 5 (dry run: nothing written)" in out
    assert not Customer.objects.exists() and not Address.objects.exists()
    assert len(errors_path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()) == 6


def test_conflict_modes(store_a, tmp_path):
    customer_make(store=store_a, id="c-1", email="old@example.com", note="keep", state="enabled")
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"id": "c-1", "email": "hal@example.com", "first_name": "Hal"}\n{"id": "c-9", "email": "new@example.com"}\n'
    )
    out, _ = run_import(path, "--no-progress", status=2)
    assert "created: 1, updated: 0, skipped: 0, failed: 1" in out
    out, _ = run_import(path, "--no-progress", "--on-conflict", "skip")
    assert "created: 0, updated: 0, skipped: 2, failed: 0" in out
    out, _ = run_import(path, "--no-progress", "--on-conflict", "update")
    assert "created: 0, updated: 2, skipped: 0, failed: 0" in out
    c1 = live_customer("c-1")
    assert (c1.email, c1.first_name, c1.note, c1.state, c1.version) == ("hal@example.com", "Hal", "keep", "enabled", 2)
    assert live_customer("c-9").version == 1  # sent again unchanged: applied as a PUT, nothing to change


def test_interrupted_import_rerun_with_skip(store_a, tmp_path):
    lines = [json.dumps({"id": f"r-{i}", "email": f"r{i}@example.com"}) for i in range(10)]
    full = tmp_path / "all.jsonl"
    full.write_text("\n".join(lines) + "\n")
    partial = tmp_path / "first.jsonl"
    partial.write_text("\n".join(lines[:4]) + "\n")  # what an interrupted run got through
    run_import(partial, "--no-progress", "--batch-size", "2", "--jobs", "1")
    out, _ = run_import(full, "--no-progress", "--on-conflict", "skip", "--batch-size", "3", "--jobs", "1")
    assert "created: 6, updated: 0, skipped: 4, failed: 0" in out
    assert Customer.objects.filter(store=store_a).count() == 10


def test_progress_bar_on_stderr(store_a):
    _, err = run_import(FIXTURES / "customers.json")
    assert "2 rows" in err.replace("/2", "") or "2/" in err
    assert "rows/s" in err


def test_unknown_store_and_missing_file(store_a, tmp_path):
    with pytest.raises(CommandError, match="no store named 'Nope'"):
        call_command("import_customers", str(FIXTURES / "customers.json"), "--store", "Nope")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_customers", str(tmp_path / "missing.csv"), "--store", "Store A")


def test_truncated_json_array_stops_with_summary(store_a, tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[{"id": "t-1", "email": "t1@example.com"}, {"id": "t-2", "em')
    out = StringIO()
    with pytest.raises(CommandError, match="the JSON array cannot be read after item 1"):
        call_command("import_customers", str(path), "--store", "Store A", "--no-progress", stdout=out)
    assert "created: 1," in out.getvalue()
    assert live_customer("t-1").email == "t1@example.com"


def test_batches_validated_ahead_in_a_thread_keep_file_order(store_a, tmp_path):
    lines = [json.dumps({"id": f"w-{i}", "email": f"w{i}@example.com", "phone": f"+1613555{i:04d}"}) for i in range(9)]
    lines.insert(4, json.dumps({"id": "w-bad", "email": "nope"}))
    lines.append(json.dumps({"id": "w-dup", "email": "W1@example.com"}))
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out, _ = run_import(path, "--no-progress", "--batch-size", "3", "--jobs", "1", status=2)
    assert "created: 9, updated: 0, skipped: 0, failed: 2" in out
    assert "  line 5: email: 'email' is not a valid email address." in out
    assert "  line 11: email: Another customer of this store already has this email." in out
    assert live_customer("w-8").phone == "+16135550008"


@pytest.mark.django_db(transaction=True)
def test_parallel_jobs_on_postgresql(store_a, tmp_path):
    """Batches written by worker processes (committed data: the workers have their own connections)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run by CI's PostgreSQL pass)")
    lines = [json.dumps({"id": f"p-{i}", "email": f"p{i}@example.com"}) for i in range(40)]
    lines.append(json.dumps({"id": "p-dup", "email": "P3@example.com"}))  # a row of another batch
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out, _ = run_import(path, "--no-progress", "--batch-size", "4", "--jobs", "2", status=2)
    assert "created: 40, updated: 0, skipped: 0, failed: 1" in out
    assert "  line 41: email: Another customer of this store already has this email." in out
    assert Customer.objects.filter(store=store_a).count() == 40


def test_batches_expect_new_customers_until_one_meets_an_existing(store_a, tmp_path, monkeypatch):
    from customers.services import imports

    customer_make(store=store_a, id="x-4", email="x4@example.com")
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"x-{i}", "email": f"x{i}@example.com"}) for i in range(9)) + "\n")
    seen = []
    real_write = imports.customers_bulk_write

    def recording_write(**kwargs):
        seen.append(kwargs["expect_new"])
        return real_write(**kwargs)

    monkeypatch.setattr(imports, "customers_bulk_write", recording_write)
    out, _ = run_import(path, "--no-progress", "--batch-size", "3", "--jobs", "1", "--on-conflict", "skip")
    assert "created: 8, updated: 0, skipped: 1, failed: 0" in out
    assert seen == [True, True, False]  # the second batch met x-4: the third looks first


def test_an_errors_file_naming_the_input_is_refused_before_anything_is_read(store_a, tmp_path):
    source = tmp_path / "in.csv"
    shutil.copy(FIXTURES / "broken.csv", source)
    before = source.read_bytes()
    with pytest.raises(CommandError, match="--errors must name another file"):
        run_import(source, "--no-progress", "--errors", str(source))
    assert source.read_bytes() == before
    assert not Customer.objects.filter(store=store_a).exists()


def test_a_jsonl_errors_file_keeps_rows_that_are_not_utf8(store_a, tmp_path):
    errors_path = tmp_path / "errors.jsonl"
    out, _ = run_import(FIXTURES / "broken.csv", "--no-progress", "--errors", str(errors_path), status=2)
    assert "failed: 5" in out
    entries = [json.loads(line) for line in errors_path.read_text(encoding="utf-8").splitlines()]
    assert len(entries) == 5
    undecodable = next(e for e in entries if e["errors"][0]["code"] == "InvalidEncoding")
    assert undecodable["line"] == 8
    assert undecodable["row"] == {"id": "b-7", "email": "ok7@example.com", "phone": "", "first_name": "Caf\udce9"}


def test_a_deeply_nested_addresses_cell_fails_its_row_only(store_a, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,email,addresses\nd-1,d1@example.com,"' + "[" * 100_000 + '"\nd-2,d2@example.com,\n')
    out, _ = run_import(source, "--no-progress", status=2)
    assert "created: 1, updated: 0, skipped: 0, failed: 1" in out
    assert "  line 2: addresses: " in out
    assert live_customer("d-2").email == "d2@example.com"


def test_a_gzipped_errors_file_is_compressed_and_reimports(store_a, tmp_path):
    errors_path = tmp_path / "errors.csv.gz"
    run_import(FIXTURES / "broken.csv", "--no-progress", "--errors", str(errors_path), status=2)
    with gzip.open(errors_path, "rt", encoding="utf-8", errors="surrogateescape", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["error_line", "error_field", "error_code", "error_reason"]
    assert len(rows) == 1 + 5
    out, _ = run_import(errors_path, "--no-progress", "--dry-run", status=2)
    assert "Read 5 rows" in out


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)


def test_the_errors_file_is_safe_for_spreadsheets_and_reimports_as_it_was(store_a, tmp_path):
    source = tmp_path / "in.csv"
    write_csv(
        source,
        [
            ["id", "email", "phone", "first_name", "note", "=bad"],
            ["s-1", "nope", "+1 613 555 0100", "@SUM(A1)", "=1+1", ""],
            ["s-2", "nope", "", "-Dash", "'hello", ""],
            ["s-3", "nope", "", "+plus", "\tindented\r\nnote", ""],
            ["s-4", "s4@example.com", "", "", "", "x"],  # fails on the unknown column "=bad"
        ],
    )
    errors_path = tmp_path / "errors.csv"
    run_import(source, "--no-progress", "--errors", str(errors_path), status=2)
    rows = read_csv(errors_path)
    assert rows[0] == [*("error_line", "error_field", "error_code", "error_reason"), *rows[0][4:]]
    assert rows[0][4:] == ["id", "email", "phone", "first_name", "note", "'=bad"]
    assert rows[1][4:] == ["s-1", "nope", "'+1 613 555 0100", "'@SUM(A1)", "'=1+1", ""]
    assert rows[2][4:] == ["s-2", "nope", "", "'-Dash", "'hello", ""]  # "'hello" stays as it was
    assert rows[3][4:] == ["s-3", "nope", "", "'+plus", "'\tindented\r\nnote", ""]
    assert rows[4][1] == "'=bad"  # the errors file's own error_field cell
    assert not [cell for row in rows for cell in row if cell[:1] in "=+-@\t\r" and cell]

    # Fixed in a text editor (the "'"s still there), the file imports as the source meant it.
    for row in rows[1:4]:
        row[5] = f"{row[4]}@example.com"
    write_csv(errors_path, [[cell for i, cell in enumerate(row) if i != 9] for row in rows[:4]])
    out, _ = run_import(errors_path, "--no-progress")
    assert "created: 3, updated: 0, skipped: 0, failed: 0" in out
    s1, s2, s3 = (live_customer(ref) for ref in ("s-1", "s-2", "s-3"))
    assert (s1.phone, s1.first_name, s1.note) == ("+16135550100", "@SUM(A1)", "=1+1")
    assert (s2.first_name, s2.note) == ("-Dash", "'hello")
    assert (s3.first_name, s3.note) == ("+plus", "\tindented\r\nnote")


def test_exit_status_0_2_1(store_a, tmp_path):
    good, mixed, cut = tmp_path / "good.jsonl", tmp_path / "mixed.jsonl", tmp_path / "cut.json"
    good.write_text('{"id": "x-1", "email": "x1@example.com"}\n')
    mixed.write_text('{"id": "x-2", "email": "x2@example.com"}\n{"id": "x-3", "email": "bad"}\n')
    cut.write_text('[{"id": "x-4", "email": "x4@example.com"}, {"id"')
    run_import(good, "--no-progress", status=0)
    run_import(mixed, "--no-progress", status=2)
    run_import(mixed, "--no-progress", "--on-conflict", "skip", status=2)  # x-2 skipped, x-3 still rejected
    with pytest.raises(CommandError) as stopped:
        run_import(cut, "--no-progress")
    assert stopped.value.returncode == 1
    with pytest.raises(CommandError, match="rows were rejected") as rejected:
        call_command("import_customers", str(mixed), "--store", "Store A", "--on-conflict", "skip", stdout=StringIO())
    assert rejected.value.returncode == 2 and str(rejected.value) == "1 of 2 rows were rejected (listed above)"


def test_a_file_without_a_header_stops_before_any_row(store_a, tmp_path):
    source = tmp_path / "no-header.csv"
    write_csv(source, [["h-1", "h1@example.com", "+16135550101"], ["h-2", "h2@example.com", ""]])
    out = StringIO()
    with pytest.raises(CommandError) as stopped:
        call_command("import_customers", str(source), "--store", "Store A", "--no-progress", stdout=out)
    assert stopped.value.returncode == 1
    assert f"the first row of {source} (3 cells) names none of the columns an import reads" in str(stopped.value)
    assert "a file needs a header row" in str(stopped.value)
    assert "Read 0 rows" in out.getvalue()
    assert not Customer.objects.filter(store=store_a).exists()


def test_the_summary_names_the_columns_a_shopify_export_has_beyond_ours(store_a, tmp_path):
    source = tmp_path / "export.csv"
    rows = read_csv(FIXTURES / "shopify_export.csv")
    # Metafield columns are imported (into metadata): the summary does not list them.
    metafields = [f"Metafield: custom.field_{i} [single_line_text_field]" for i in range(3)]
    extra = [f"Loyalty Column {i}" for i in range(11)] + ["WhatsApp Phone"]
    write_csv(
        source, [rows[0] + metafields + extra] + [row + [""] * (len(metafields) + len(extra)) for row in rows[1:]]
    )
    out, _ = run_import(source, "--no-progress")
    lines = out.splitlines()
    assert lines[1] == "created: 3, updated: 0, skipped: 0, failed: 0"
    assert lines[2] == (
        "Columns not imported (no customer field comes from them): Accepts SMS Marketing, Total Spent, Total Orders, "
        + ", ".join(extra[:7])
        + " and 5 more."
    )


def test_a_version_in_odd_digits_is_a_rejected_row_not_a_crash(store_a, tmp_path):
    customer_make(store=store_a, id="c-1", email="a@example.com")
    path = tmp_path / "versions.csv"
    path.write_text("id,email,version\nc-1,a@example.com,²\n", encoding="utf-8")
    out, _ = run_import(path, "--no-progress", "--on-conflict", "update", status=2)
    assert "version" in out
