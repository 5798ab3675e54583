"""python manage.py create_store, as the contract's Operations section says."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import Store, Tenant
from tests.conftest import api_client, fetch_token


def run_create_store(*args) -> str:
    out = StringIO()
    call_command("create_store", *args, stdout=out)
    return out.getvalue()


def test_json_output_gives_working_credentials(db):
    payload = json.loads(
        run_create_store("Shop One", "--tenant", "Acme", "--country", "CA", "--currency", "CAD", "--json")
    )
    assert set(payload) == {"tenant", "store", "client_id", "client_secret"}
    assert payload["tenant"] == "Acme" and payload["store"] == "Shop One"
    store = Store.objects.get(name="Shop One")
    assert (store.country, store.currency) == ("CA", "CAD")
    token = fetch_token(payload["client_id"], payload["client_secret"])
    assert api_client(token).post("/api/customers", {"email": "a@x.com"}).status_code == 201


def test_tenant_is_reused(db):
    run_create_store("Shop One", "--tenant", "Acme", "--json")
    run_create_store("Shop Two", "--tenant", "Acme", "--json")
    assert Tenant.objects.count() == 1
    assert Tenant.objects.get().stores.count() == 2


def test_plain_output_shows_the_secret_once(db):
    text = run_create_store("Shop One", "--tenant", "Acme")
    assert "client_id:" in text and "client_secret:" in text


@pytest.mark.parametrize("args", [["--country", "XX"], ["--currency", "ABC"], ["--timezone", "Mars/Base"]])
def test_bad_codes_are_refused(db, args):
    with pytest.raises(CommandError):
        run_create_store("Shop", "--tenant", "Acme", *args)
    assert not Store.objects.exists()


def test_duplicate_store_name_is_refused(db):
    run_create_store("Shop", "--tenant", "Acme", "--json")
    with pytest.raises(CommandError, match="already exists"):
        run_create_store("Shop", "--tenant", "Acme", "--json")


def test_codes_in_lower_case_are_upper_cased_and_checked(db):
    run_create_store("Shop", "--tenant", "Acme", "--country", "ca", "--currency", "cad", "--json")
    assert Store.objects.values_list("country", "currency").get() == ("CA", "CAD")
    with pytest.raises(CommandError, match=r"--country: 'AQ' has no telephone numbering plan"):
        run_create_store("Shop 2", "--tenant", "Acme", "--country", "aq")
    with pytest.raises(CommandError, match=r"--currency: 'XYZ' is not an ISO 4217 currency code"):
        run_create_store("Shop 2", "--tenant", "Acme", "--currency", "xyz")
