"""The admin's add and change forms write through the API's services: a refusal is a form error on
the field it names, never a 500; addresses go with the customer, under the API's rules."""

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from customers.admin.forms import GONE_MESSAGE, STALE_MESSAGE, Refusal, refusal_of
from customers.errors import customer_not_found, customer_version_mismatch
from customers.models import Address, Customer
from customers.services import customer_update, order_create
from tests.admin.test_customer_admin_actions import CHANGELIST, form_data, fresh
from tests.factories import customer_make
from twc.api.errors import ApiError, ErrorCode, FieldError

DUPLICATE = "Another customer of this store already has this {}."


def add_data(store, **fields) -> dict:
    data = {
        "store": store.pk,
        "state": "disabled",
        "addresses-TOTAL_FORMS": 0,
        "addresses-INITIAL_FORMS": 0,
        "addresses-MIN_NUM_FORMS": 0,
        "addresses-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }
    data.update(fields)
    return data


def form_errors(response) -> dict:
    assert response.status_code == 200, response.status_code
    return response.context["adminform"].form.errors


def address_forms(response) -> list:
    (inline,) = response.context["inline_admin_formsets"]
    return inline.formset.forms


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [("email", "A2@example.com", "email"), ("phone", "(613) 555-0102", "phone"), ("ref", "a-2", "id")],
)
def test_a_duplicate_edit_is_an_error_on_its_field(admin_a, shop, store_a, field, value, label):
    first = shop["a"]["first"]
    customer_update(store=store_a, ref="a-2", data={"phone": "+16135550102"})
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", form_data(first, **{field: value}))
    assert form_errors(response) == {field: [DUPLICATE.format(label)]}
    assert fresh(first).version == first.version


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [("email", "a1@EXAMPLE.com", "email"), ("phone", "613.555.0101", "phone"), ("ref", "a-1", "id")],
)
def test_a_duplicate_add_is_an_error_on_its_field(admin_a, shop, store_a, field, value, label):
    customer_update(store=store_a, ref="a-1", data={"phone": "+16135550101"})
    fields = {"email": "someone-new@example.com", field: value}
    response = admin_a.post(f"{CHANGELIST}add/", add_data(store_a, **fields))
    assert form_errors(response) == {field: [DUPLICATE.format(label)]}
    assert Customer.objects.filter(store=store_a).count() == 3


def test_an_edit_over_a_newer_version_is_refused(admin_a, shop, store_a):
    first = shop["a"]["first"]
    page = admin_a.get(f"{CHANGELIST}{first.pk}/change/")
    opened_at = page.context["adminform"].form["loaded_version"].value()
    assert opened_at == first.version
    customer_update(store=store_a, ref="a-1", data={"note": "written by the API meanwhile"})

    data = form_data(first, loaded_version=opened_at, first_name="Staff edit")
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", data)
    assert form_errors(response) == {"__all__": [STALE_MESSAGE]}
    after = fresh(first)
    assert (after.first_name, after.note, after.version) == ("Aann", "written by the API meanwhile", opened_at + 1)
    assert not LogEntry.objects.filter(object_id=str(first.pk)).exists()

    # Reloaded, the same edit goes through.
    reloaded = form_data(after, first_name="Staff edit")
    assert admin_a.post(f"{CHANGELIST}{first.pk}/change/", reloaded).status_code == 302
    assert (fresh(first).first_name, fresh(first).version) == ("Staff edit", opened_at + 2)


def test_an_edit_of_a_customer_deleted_since_the_page_opened_is_not_applied(admin_a, shop):
    first = shop["a"]["first"]
    Customer.objects.filter(pk=first.pk).update(deleted_at=timezone.now())
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", form_data(first, first_name="Too late"))
    assert response.status_code == 302  # a deleted customer's page is read-only: nothing is sent
    assert fresh(first).first_name == "Aann"


def test_refusals_name_the_field_or_the_page():
    refusal = refusal_of(
        ApiError(
            [
                FieldError(ErrorCode.DUPLICATE_FIELD, "taken", field="id"),
                FieldError(ErrorCode.INVALID_FIELD, "bad code", field="addresses[1].country_code"),
                FieldError(ErrorCode.INVALID_FIELD, "not a boolean", field="addresses[1].default"),
                FieldError(ErrorCode.INVALID_FIELD, "too many", field="addresses"),
            ]
        )
    )
    assert refusal == Refusal(
        customer=[("ref", "taken")],
        addresses={1: [("country_code", "bad code"), ("is_default", "not a boolean")]},
        address_list=["too many"],
    )
    assert refusal_of(customer_not_found("a-1")).customer == [(None, GONE_MESSAGE)]
    assert refusal_of(customer_version_mismatch(1, 2)).customer == [(None, STALE_MESSAGE)]


def test_a_deleted_customers_page_is_read_only(admin_a, shop):
    gone = shop["a"]["gone"]
    html = admin_a.get(f"{CHANGELIST}{gone.pk}/change/").content.decode()
    assert 'name="email"' not in html and "agone@example.com" in html
    assert "Restore customer" in html
    response = admin_a.post(f"{CHANGELIST}{gone.pk}/change/", form_data(gone, email="changed@example.com"))
    assert response.status_code == 302
    assert fresh(gone).email == "agone@example.com"
    assert fresh(gone).version == gone.version


def test_renaming_the_id(admin_a, shop):
    first = shop["a"]["first"]
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", form_data(first, ref="a-renamed"))
    assert response.status_code == 302
    assert (fresh(first).ref, fresh(first).version) == ("a-renamed", first.version + 1)
    assert LogEntry.objects.get(object_id=str(first.pk)).object_repr == "Customer a-renamed"


def test_an_empty_id_on_edit_is_an_error_on_the_id(admin_a, shop):
    first = shop["a"]["first"]
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", form_data(first, ref=""))
    assert form_errors(response) == {"ref": ["'id' must be a string of 1 to 255 printable characters."]}


def test_marketing_rules_are_the_services(admin_a, shop):
    first = shop["a"]["first"]
    data = form_data(first, accepts_marketing="on", marketing_opt_in_level="single_opt_in")
    assert admin_a.post(f"{CHANGELIST}{first.pk}/change/", data).status_code == 302
    after = fresh(first)
    assert after.accepts_marketing and after.marketing_opt_in_level == "single_opt_in"
    assert after.accepts_marketing_updated_at is not None
    data = form_data(after, accepts_marketing=None)
    assert admin_a.post(f"{CHANGELIST}{first.pk}/change/", data).status_code == 302
    assert (fresh(first).accepts_marketing, fresh(first).marketing_opt_in_level) == (False, None)


def test_an_added_customer_takes_the_orders_placed_with_its_email(admin_a, shop, store_a):
    order_create(store=store_a, data={"name": "#early", "email": "early@example.com", "total_price": 25})
    response = admin_a.post(f"{CHANGELIST}add/", add_data(store_a, email="Early@example.com"))
    assert response.status_code == 302
    created = Customer.objects.get(store=store_a, email_key="early@example.com")
    assert (created.orders_count, str(created.total_spent), created.version) == (1, "25.00", 1)
    entry = LogEntry.objects.get(object_id=str(created.pk))
    assert entry.object_repr == f"Customer {created.ref}" and entry.get_change_message() == "Added."


def test_invalid_address_data_is_refused_with_the_apis_message(admin_a, shop):
    first = shop["a"]["first"]
    address = shop["a"]["address"]
    data = form_data(
        first,
        **{
            "addresses-TOTAL_FORMS": 2,
            "addresses-0-country_code": "ZZ",
            "addresses-1-customer": first.pk,
            "addresses-1-city": "Bell\x07ville",
        },
    )
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", data)
    assert form_errors(response) == {}
    kept, added = address_forms(response)
    assert kept.errors == {"country_code": ["'country_code' must be an ISO 3166-1 alpha-2 code."]}
    assert added.errors == {"city": ["'city' contains control characters."]}
    assert list(Address.objects.filter(customer=first).values_list("pk", "city")) == [(address.pk, "a-city")]
    assert fresh(first).version == first.version


def test_addresses_are_normalised_by_the_service_and_keep_their_ids(admin_a, shop, staff_a):
    first = shop["a"]["first"]
    address = shop["a"]["address"]
    data = form_data(
        first,
        **{
            "addresses-TOTAL_FORMS": 2,
            "addresses-0-country_code": "ca",
            "addresses-0-city": "  Ottawa ",
            "addresses-1-customer": first.pk,
            "addresses-1-city": "Toronto",
        },
    )
    assert admin_a.post(f"{CHANGELIST}{first.pk}/change/", data).status_code == 302
    addresses = list(Address.objects.filter(customer=first).values_list("pk", "city", "country_code", "is_default"))
    assert addresses[0] == (address.pk, "Ottawa", "CA", True)
    assert addresses[1][1:] == ("Toronto", "", False)
    assert fresh(first).version == first.version + 1
    message = LogEntry.objects.get(object_id=str(first.pk)).get_change_message()
    assert f"Added address “Address {addresses[1][0]}”." in message
    assert f"Changed City and Country code for address “Address {address.pk}”." in message


def test_deleting_the_default_address_makes_the_next_one_the_default(admin_a, shop, store_a):
    first = shop["a"]["first"]
    customer_update(store=store_a, ref="a-1", data={"addresses": [{"city": "a-city"}, {"city": "second"}]})
    first = fresh(first)
    data = form_data(first, **{"addresses-0-DELETE": "on"})
    assert admin_a.post(f"{CHANGELIST}{first.pk}/change/", data).status_code == 302
    assert list(Address.objects.filter(customer=first).values_list("city", "is_default")) == [("second", True)]
    assert fresh(first).version == first.version + 1
    assert "Deleted address" in LogEntry.objects.get(object_id=str(first.pk)).get_change_message()


def test_an_address_error_and_a_customer_error_show_together(admin_a, shop):
    first = shop["a"]["first"]
    data = form_data(first, email="not an email", **{"addresses-0-country_code": "ZZ"})
    response = admin_a.post(f"{CHANGELIST}{first.pk}/change/", data)
    assert form_errors(response) == {"email": ["'email' is not a valid email address."]}
    assert address_forms(response)[0].errors == {"country_code": ["'country_code' must be an ISO 3166-1 alpha-2 code."]}


def test_adding_with_addresses_through_the_service(admin_a, shop, store_a):
    data = add_data(
        store_a,
        email="with-addresses@example.com",
        **{
            "addresses-TOTAL_FORMS": 3,
            "addresses-0-city": "First",
            "addresses-1-city": "Second",
            "addresses-1-is_default": "on",
            # a third form left empty (the inline's "add another") is not an address
        },
    )
    assert admin_a.post(f"{CHANGELIST}add/", data).status_code == 302
    created = Customer.objects.get(email_key="with-addresses@example.com")
    assert list(created.addresses.values_list("city", "is_default")) == [("First", False), ("Second", True)]
    assert "Added address" in LogEntry.objects.get(object_id=str(created.pk)).get_change_message()


def test_the_tag_filter_is_the_apis(admin_a, shop, store_a):
    customer_make(store=store_a, id="tagged", tags="VIP-gold, Vip")
    listed = {c.ref for c in admin_a.get(CHANGELIST + "?tag=vip").context["cl"].result_list}
    assert listed == {"a-1", "tagged"}
    listed = {c.ref for c in admin_a.get(CHANGELIST + "?tag=vip-GOLD").context["cl"].result_list}
    assert listed == {"tagged"}


def test_save_and_continue_goes_to_the_new_customers_page(admin_a, shop, store_a):
    data = add_data(store_a, email="continued@example.com", _continue="Save and continue editing")
    data.pop("_save")
    response = admin_a.post(f"{CHANGELIST}add/", data)
    created = Customer.objects.get(email_key="continued@example.com")
    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}{created.pk}/change/")
    page = admin_a.get(response["Location"])
    assert page.context["adminform"].form["loaded_version"].value() == 1
