"""The customer admin's forms: what staff typed, in the API's field names, written by the API's services.

The customer form and the address formset only read their fields; `CustomerAdminForm.write` sends
them to `customer_create` / `customer_update` (with the version the page was opened at, and the
inline's addresses), so normalisation, defaults, uniqueness, the version check and the one-default
rule are the services' alone. A refusal (ApiError) is shown as errors on the fields it names:
`refusal_of` places each of its entries, and the forms of the page shown again add them in clean().
"""

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from django import forms
from django.forms.models import BaseInlineFormSet

from customers.fields import WRITABLE_MODEL_FIELDS
from customers.metadata import METADATA_FIELDS
from customers.models import Address, Customer
from customers.services.customers import customer_create, customer_update
from customers.validation import ADDRESS_TEXT_FIELDS, TAX_EXEMPTION_CODES
from twc.api.errors import ApiError, ErrorCode

# Form field -> the API's name for it; the others are named alike.
API_NAMES = {"ref": "id"}
FORM_NAMES = {api_name: form_name for form_name, api_name in API_NAMES.items()}
ADDRESS_FORM_NAMES = {"default": "is_default"}
# An empty box sends null: the API then assigns the id or the store's currency, or clears the value.
EMPTY_IS_NULL = frozenset({"ref", "email", "phone", "marketing_opt_in_level", "multipass_identifier", "currency"})

STALE_MESSAGE = (
    "Someone changed this customer while you were editing it. Reload the page to see the changes, then edit again."
)
GONE_MESSAGE = "This customer was deleted while you were editing it."
_ADDRESS_FIELD = re.compile(r"addresses\[(\d+)\](?:\.(\w+))?")


@dataclass
class Refusal:
    """A service's refusal of a save, split by where the page shows each entry."""

    # (form field, or None for the form as a whole, message)
    customer: list[tuple[str | None, str]] = field(default_factory=list)
    # index in the addresses sent -> (address form field, or None, message)
    addresses: dict[int, list[tuple[str | None, str]]] = field(default_factory=dict)
    # about the address list as a whole (at most one default, too many)
    address_list: list[str] = field(default_factory=list)


class WriteRefused(Exception):
    """The service refused the admin's save; nothing was written."""

    def __init__(self, refusal: Refusal):
        self.refusal = refusal
        super().__init__(refusal)


def refusal_of(exc: ApiError) -> Refusal:
    refusal = Refusal()
    for error in exc.errors:
        if error.code == ErrorCode.CONCURRENT_MODIFICATION:
            refusal.customer.append((None, STALE_MESSAGE))
        elif error.code == ErrorCode.RESOURCE_NOT_FOUND:
            refusal.customer.append((None, GONE_MESSAGE))
        elif error.field == "addresses":
            refusal.address_list.append(error.message)
        elif error.field and (match := _ADDRESS_FIELD.fullmatch(error.field)):
            index, name = int(match[1]), match[2]
            name = ADDRESS_FORM_NAMES.get(name, name)
            refusal.addresses.setdefault(index, []).append((name, error.message))
        else:
            name = FORM_NAMES.get(error.field, error.field)
            if name and name.partition(".")[0] in METADATA_FIELDS:
                name = name.partition(".")[0]  # metadata.KEY: shown on the metadata box
            refusal.customer.append((name, error.message))
    return refusal


def show_refusal_on(request, refusal: Refusal) -> None:
    """Have the page that `request` shows again display `refusal` (see CustomerAdmin.changeform_view)."""
    request.customer_write_refusal = refusal


def refusal_shown_on(request) -> Refusal | None:
    return getattr(request, "customer_write_refusal", None)


def with_refusal(form_class: type, refusal: Refusal | None) -> type:
    """`form_class` showing `refusal` as its errors (for the page shown again after a refused save)."""
    if refusal is None:
        return form_class
    return type(form_class.__name__, (form_class,), {"refusal": refusal})


def metadata_edit(before: dict | None, after):
    """What an update sends for a JSON box edited from `before` to `after`: the keys the box keeps or
    sets, and the keys it no longer has as null (the service merges key by key). An empty box is {}."""
    if after is None or after == "":
        after = {}
    if not isinstance(after, dict):
        return after  # the service says why it is refused
    return {**dict.fromkeys(before or {}), **after}


def _api_value(name: str, value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if name in EMPTY_IS_NULL and not value:
        return None
    return value


class CustomerAdminForm(forms.ModelForm):
    tax_exemptions = forms.MultipleChoiceField(
        choices=[(code, code) for code in sorted(TAX_EXEMPTION_CODES)],
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    # The version the page was opened at: the service refuses a save over a newer one.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    refusal: Refusal | None = None

    class Meta:
        model = Customer
        fields = ("store", *WRITABLE_MODEL_FIELDS)
        widgets = {"tags": forms.TextInput(attrs={"size": 80})}
        help_texts = {
            "phone": "Any dialable format; national numbers are read in the store's country. Stored in E.164.",
            "tags": "Comma-separated; trimmed, duplicates dropped.",
            "metadata": 'A JSON object of string values by key, e.g. {"loyalty.tier": "gold"}.',
            "private_metadata": "Like metadata; never shown to the customer.",
            "ref": "The store's own reference. Left empty on add: the new twc_customer_id.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("ref", "currency"):  # left empty, the service fills them in
            if name in self.fields:
                self.fields[name].required = False
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def clean(self):
        cleaned_data = super().clean()
        if self.refusal is not None:
            for name, message in self.refusal.customer:
                self.add_error(name if name in self.fields else None, message)
        return cleaned_data

    def _post_clean(self):
        # Uniqueness is the service's (the database's constraints, with the API's messages); the
        # model's own constraint check would be a second, racy one ("Constraint ... is violated").
        full_clean = self.instance.full_clean
        self.instance.full_clean = functools.partial(full_clean, validate_constraints=False)
        try:
            super()._post_clean()
        finally:
            del self.instance.full_clean

    def api_data(self, *, changed_only: bool) -> dict:
        """The customer's fields as the API receives them (all of them, or the changed ones)."""
        names = [name for name in WRITABLE_MODEL_FIELDS if name in self.fields]
        if changed_only:
            names = [name for name in names if name in self.changed_data]
        data = {API_NAMES.get(name, name): _api_value(name, self.cleaned_data.get(name)) for name in names}
        if changed_only:
            for name in METADATA_FIELDS:
                if name in data:
                    # The page's value, not the instance's: the form has already set that one.
                    data[name] = metadata_edit(self.initial.get(name), data[name])
        if changed_only and "ref" in names and data["id"] is None:
            data["id"] = ""  # an emptied id box on an edit is refused; the API's null would keep the id
        return data

    def write(self, *, addresses: "AddressFormSet | None") -> None:
        """Create or update the customer with the inline's addresses, through the API's services.

        Afterwards `self.instance` is the customer as saved. Raises ApiError when the service refuses.
        """
        adding = self.instance.pk is None
        sent_addresses = None
        if addresses is not None and (adding or addresses.has_changed()):
            sent_addresses = addresses.api_addresses()
        data = self.api_data(changed_only=not adding)
        if sent_addresses is not None:
            data["addresses"] = sent_addresses
        if adding:
            customer, saved_addresses = customer_create(store=self.cleaned_data["store"], data=data)
        elif self.instance.deleted_at is None:  # a deleted customer's page is read-only
            # Even without a change: a save over a newer version is refused, as the page promised.
            # Named by twc_customer_id, which no edit changes (this very save may rename the id).
            customer, saved_addresses = customer_update(
                store=self.instance.store,
                ref=str(self.instance.twc_customer_id),
                data=data,
                expected_version=self.cleaned_data.get("loaded_version"),
            )
        else:
            customer, saved_addresses = None, []
        if customer is not None:
            for model_field in Customer._meta.concrete_fields:
                setattr(self.instance, model_field.attname, getattr(customer, model_field.attname))
            self.instance._state.adding = False
        if addresses is not None:
            addresses.record_saved(None if sent_addresses is None else saved_addresses)


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = (*ADDRESS_TEXT_FIELDS, "is_default")

    def api_address(self) -> dict:
        """The address as the API receives it; an address already saved keeps its id."""
        address = {name: self.cleaned_data.get(name, "") for name in ADDRESS_TEXT_FIELDS}
        address["default"] = bool(self.cleaned_data.get("is_default"))
        if self.instance.pk is not None:
            address["id"] = self.instance.pk
        return address


class AddressFormSet(BaseInlineFormSet):
    """The customer's addresses, sent whole with the customer (the API's replace, ids kept).

    Never saved by itself: the one-default rule (the first one when none is) is the service's.
    """

    refusal: Refusal | None = None

    def sent_forms(self) -> list[AddressForm]:
        """The forms whose addresses are sent, in order: the kept ones and the filled-in new ones."""
        return [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data")
            and not self._should_delete_form(form)
            and (form.instance.pk is not None or form.has_changed())
        ]

    def api_addresses(self) -> list[dict]:
        return [form.api_address() for form in self.sent_forms()]

    def clean(self):
        super().clean()
        if self.refusal is None or any(self.errors):
            return
        sent = self.sent_forms()
        misplaced = list(self.refusal.address_list)
        for index, errors in self.refusal.addresses.items():
            for name, message in errors:
                if index < len(sent):
                    sent[index].add_error(name if name in sent[index].fields else None, message)
                else:
                    misplaced.append(message)
        if misplaced:
            raise forms.ValidationError(misplaced)

    def record_saved(self, saved: list[Address] | None) -> None:
        """What Django's history message reads from a saved formset (this one's save() never runs).

        `saved` is the customer's addresses after the write, or None when none were sent.
        """
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        if saved is None:
            return
        initial = [form for form in self.initial_forms if form.instance.pk is not None]
        initial_ids = {form.instance.pk for form in initial}
        sent = set(self.sent_forms())
        self.new_objects = [address for address in saved if address.pk not in initial_ids]
        self.changed_objects = [
            (form.instance, form.changed_data) for form in initial if form in sent and form.has_changed()
        ]
        self.deleted_objects = [form.instance for form in initial if form not in sent]
