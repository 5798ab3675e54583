"""Operations: a store's settings are checked the same way wherever a store is made or changed
(create_store, the service, the admin), and the rate-limit state does not grow without bound."""

import pytest
from django.core.exceptions import ValidationError

from tenants.models import Store
from tenants.services import store_clean, store_create
from tests.admin.conftest import logged_in, make_user

GOOD = {"country": "CA", "currency": "CAD", "timezone": "America/Toronto"}

# (the settings sent, the field that must be refused)
BAD_SETTINGS = [
    ({"country": "XX"}, "country"),
    ({"country": "CAN"}, "country"),
    ({"country": ""}, "country"),
    ({"country": "AQ"}, "country"),  # a country, but no telephone numbering plan
    ({"currency": "ABC"}, "currency"),
    ({"currency": "CA"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"timezone": "Mars/Base"}, "timezone"),
    ({"rate_limit_per_second": -1.0}, "rate_limit_per_second"),
    ({"rate_limit_per_second": 0.0}, "rate_limit_per_second"),
    ({"rate_limit_per_second": 0.001}, "rate_limit_per_second"),
    ({"rate_limit_per_second": 1e9}, "rate_limit_per_second"),
    ({"rate_limit_per_second": float("nan")}, "rate_limit_per_second"),
    ({"rate_limit_burst": 0}, "rate_limit_burst"),
    ({"rate_limit_burst": -5}, "rate_limit_burst"),
    ({"rate_limit_burst": 10**9}, "rate_limit_burst"),
]


def admin_store_form(**settings) -> dict:
    """The admin's add-store form, with its inlines' management forms."""
    form = {"name": "Shop Z", **GOOD, "rate_limit_per_second": "", "rate_limit_burst": ""}
    form.update({name: "" if value is None else value for name, value in settings.items()})
    for prefix in ("staff", "applications"):
        form.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return form


@pytest.fixture
def root_admin(db, store_a):
    return logged_in(make_user("root-ops", superuser=True))


@pytest.mark.parametrize(("bad", "field"), BAD_SETTINGS)
def test_a_bad_store_setting_is_refused_by_the_service_and_the_admin(root_admin, store_a, bad, field):
    with pytest.raises(ValidationError) as refused:
        store_create(name="Shop Z", tenant_name="T", **(GOOD | bad))
    assert set(refused.value.message_dict) == {field}
    assert not Store.objects.filter(name="Shop Z").exists()

    form = admin_store_form(tenant=store_a.tenant_id, **bad)
    response = root_admin.post("/admin/tenants/store/add/", form)
    assert response.status_code == 200  # the form again, with the refusal
    assert set(response.context["adminform"].form.errors) == {field}
    assert not Store.objects.filter(name="Shop Z").exists()

    response = root_admin.post(f"/admin/tenants/store/{store_a.pk}/change/", form | {"name": store_a.name})
    assert set(response.context["adminform"].form.errors) == {field}
    store_a.refresh_from_db()
    assert (store_a.rate_limit_per_second, store_a.rate_limit_burst) == (None, None)


def test_codes_in_any_case_are_stored_upper_case_by_every_path(root_admin, store_a):
    created = store_create(name="Shop L", tenant_name="T", country=" ca", currency="cad ", timezone="UTC").store
    assert (created.country, created.currency) == ("CA", "CAD")
    form = admin_store_form(tenant=store_a.tenant_id, country="fr", currency="eur", rate_limit_per_second="2.5")
    response = root_admin.post("/admin/tenants/store/add/", form | {"rate_limit_burst": "50"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    made = Store.objects.get(name="Shop Z")
    assert (made.country, made.currency, made.rate_limit_per_second, made.rate_limit_burst) == ("FR", "EUR", 2.5, 50)


def test_the_bounds_themselves_are_accepted():
    for rate, burst in [(0.01, 1), (100_000, 1_000_000), (None, None)]:
        cleaned = store_clean(**GOOD, rate_limit_per_second=rate, rate_limit_burst=burst)
        assert (cleaned["rate_limit_per_second"], cleaned["rate_limit_burst"]) == (rate, burst)
    print(f"\nstore settings: {len(BAD_SETTINGS)} bad values, each refused by store_create and the admin (add, change)")
