"""Forms and list filters of the customers admin.

Edits in the admin follow the API's rules: the customer form runs `customers.validation.clean_customer`
on what changed (email, phone to E.164, tags, ...), checks uniqueness in the store like the API, and
refuses a save over a newer version. The address formset keeps the one-default rule as a form error.
"""

import functools

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.forms.models import BaseInlineFormSet
from django.utils import timezone

from customers.models import Address, Customer
from customers.services.customers import apply_marketing_rules
from customers.validation import (
    ADDRESS_TEXT_FIELDS,
    COUNTRY_CODES,
    TAX_EXEMPTION_CODES,
    WRITABLE_MODEL_FIELDS,
    clean_customer,
)
from twc.api.errors import ValidationFailed

# Form field -> the API field that clean_customer knows it as.
API_NAMES = {"ref": "id"}
VALIDATED_FIELDS = WRITABLE_MODEL_FIELDS
UNIQUE_FIELDS = (("ref", "ref", "id"), ("email", "email_key", "email"), ("phone", "phone", "phone"))


class CustomerAdminForm(forms.ModelForm):
    tax_exemptions = forms.MultipleChoiceField(
        choices=[(code, code) for code in sorted(TAX_EXEMPTION_CODES)],
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    # The version the page was opened at: a save over a newer version is refused.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Customer
        fields = ("store", *VALIDATED_FIELDS)
        widgets = {"tags": forms.TextInput(attrs={"size": 80})}
        help_texts = {
            "phone": "Any dialable format; national numbers are read in the store's country. Stored in E.164.",
            "tags": "Comma-separated; trimmed, duplicates dropped.",
            "ref": "The store's own reference. Left empty on add: the new twc_customer_id.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "ref" in self.fields:
            self.fields["ref"].required = False
        if "currency" in self.fields:
            self.fields["currency"].required = False
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version

    def _store(self):
        if self.instance.pk:
            return self.instance.store
        return self.cleaned_data.get("store")

    def _api_data(self, adding: bool) -> dict:
        """The sent fields in the API's form, for clean_customer."""
        names = [name for name in VALIDATED_FIELDS if name in self.fields]
        if not adding:
            names = [name for name in names if name in self.changed_data]
        data = {}
        for name in names:
            value = self.cleaned_data.get(name)
            if name == "accepts_marketing_updated_at" and value is not None:
                value = value.isoformat()
            if name in ("email", "phone", "marketing_opt_in_level", "multipass_identifier", "currency") and not value:
                value = None
            if name == "ref" and not value:
                if not adding:
                    self.add_error("ref", "The id cannot be empty.")
                continue
            data[API_NAMES.get(name, name)] = value
        return data

    def clean(self):
        cleaned_data = super().clean()
        store = self._store()
        if store is None:
            return cleaned_data
        adding = self.instance.pk is None
        if not adding:
            current = Customer.objects.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            loaded = cleaned_data.get("loaded_version")
            if loaded is not None and current != loaded:
                raise forms.ValidationError(
                    f"Someone changed this customer while you were editing it (version {loaded} -> {current}). "
                    "Reload the page to see the changes, then edit again.",
                    code="stale",
                )
        data = self._api_data(adding)
        try:
            values = clean_customer(data, store=store, partial=not adding)
        except ValidationFailed as exc:
            for error in exc.errors:
                field = {"id": "ref"}.get(error.field, error.field)
                self.add_error(field if field in self.fields else None, error.message)
            return cleaned_data
        self.instance.email_key = values.pop("email_key", self.instance.email_key)
        cleaned_data.update(values)
        self._check_unique(store, values)
        marketing = {
            "accepts_marketing": cleaned_data.get("accepts_marketing", False),
            "marketing_opt_in_level": cleaned_data.get("marketing_opt_in_level"),
        }
        apply_marketing_rules(
            marketing,
            previous_accepts=None if adding else self.instance.accepts_marketing,
            sent={k: True for k in values},
            now=timezone.now(),
        )
        cleaned_data.update(marketing)
        if not cleaned_data.get("currency"):
            cleaned_data["currency"] = store.currency
        return cleaned_data

    def _check_unique(self, store, values: dict) -> None:
        others = Customer.objects.for_store(store)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        key_of = {"ref": values.get("ref"), "email_key": self.instance.email_key, "phone": values.get("phone")}
        for form_field, column, label in UNIQUE_FIELDS:
            value = key_of[column]
            if (
                value
                and (form_field in values or self.instance.pk is None)
                and others.filter(**{column: value}).exists()
            ):
                self.add_error(form_field, f"Another customer of this store already has this {label}.")

    def _post_clean(self):
        # The per-store uniqueness is checked in clean() with the API's messages; the model's own
        # constraint check would repeat it as "Constraint ... is violated".
        full_clean = self.instance.full_clean
        self.instance.full_clean = functools.partial(full_clean, validate_constraints=False)
        try:
            super()._post_clean()
        finally:
            del self.instance.full_clean


class AddressForm(forms.ModelForm):
    class Meta:
        model = Address
        fields = (*ADDRESS_TEXT_FIELDS, "is_default")

    def clean_country_code(self):
        code = (self.cleaned_data.get("country_code") or "").strip().upper()
        if code and code not in COUNTRY_CODES:
            raise forms.ValidationError("An ISO 3166-1 alpha-2 code, such as CA.")
        return code


class AddressFormSet(BaseInlineFormSet):
    """At most one default address (a form error, not an IntegrityError); the first one when none is."""

    def _kept_forms(self):
        return [
            form
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        defaults = [form for form in self._kept_forms() if form.cleaned_data.get("is_default")]
        if len(defaults) > 1:
            raise forms.ValidationError("At most one address can be the default.")

    def save(self, commit=True):
        kept = self._kept_forms()
        chosen = next((form for form in kept if form.cleaned_data.get("is_default")), kept[0] if kept else None)
        # Clear every default first, so that moving it between two addresses never holds two at once.
        if self.instance.pk:
            Address.objects.filter(customer=self.instance, is_default=True).update(is_default=False)
        for form in kept:
            form.instance.is_default = False
        saved = super().save(commit=commit)
        if chosen is not None:
            chosen.instance.is_default = True
            if chosen.instance.pk:
                Address.objects.filter(pk=chosen.instance.pk).update(is_default=True)
        return saved


class DeletedFilter(admin.SimpleListFilter):
    """Live customers by default; deleted ones on request (to see or restore them)."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted"), ("all", "Live and deleted")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "yes":
            return queryset.filter(deleted_at__isnull=False)
        if value == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class TagFilter(admin.SimpleListFilter):
    """A text box: the customers having this tag (whole tag, any case)."""

    title = "tag"
    parameter_name = "tag"
    template = "admin/customers/text_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the template renders a text box, not these

    def queryset(self, request, queryset):
        tag = (self.value() or "").strip()
        if not tag:
            return queryset
        return queryset.filter(
            Q(tags__iexact=tag)
            | Q(tags__istartswith=f"{tag}, ")
            | Q(tags__iendswith=f", {tag}")
            | Q(tags__icontains=f", {tag}, ")
        )

    def choices(self, changelist):
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "hidden": [(k, v) for k, v in changelist.params.items() if k != self.parameter_name],
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }
