"""Tenants, stores, their staff and OAuth credentials: for superusers only.

A new store application (OAuth client) is made by tenants.services.store_application_create; its
secret is stored hashed, so the admin shows the plain secret once, in a message after the save.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from tenants.admin_login import ThrottledAdminAuthenticationForm
from tenants.models import ALL_SCOPES, Store, StoreApplication, StoreStaff, Tenant
from tenants.services import store_application_create, store_clean

# Failed staff sign-ins are throttled (tenants.admin_login), whichever route reaches the login view.
admin.site.login_form = ThrottledAdminAuthenticationForm


class SuperuserOnlyMixin:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser


class StoreStaffInline(SuperuserOnlyMixin, admin.TabularInline):
    model = StoreStaff
    extra = 0
    autocomplete_fields = ("user",)


class StoreApplicationInline(SuperuserOnlyMixin, admin.TabularInline):
    model = StoreApplication
    extra = 0
    fields = ("client_id", "scopes", "created_at")
    readonly_fields = ("client_id", "scopes", "created_at")
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # added through the store application page, which shows the secret once

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # deleted through the store application page, which revokes its OAuth client too

    @admin.display(description="client id")
    def client_id(self, obj: StoreApplication) -> str:
        return obj.application.client_id


@admin.register(Tenant)
class TenantAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


class StoreForm(forms.ModelForm):
    """The store's settings through tenants.services.store_clean, as create_store checks them."""

    class Meta:
        model = Store
        fields = ("tenant", "name", "country", "currency", "timezone", "rate_limit_per_second", "rate_limit_burst")
        help_texts = {
            "country": "ISO 3166-1 alpha-2 (CA): the region national phone numbers are read in.",
            "currency": "ISO 4217 (CAD): a new customer's currency unless it says otherwise.",
            "rate_limit_per_second": "Requests a second per OAuth application; empty: the service's default.",
            "rate_limit_burst": "Requests at once per OAuth application; empty: the service's default.",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data is None:  # ModelForm's clean returns cleaned_data; None would mean "keep cleaned_data"
            data = self.cleaned_data
        settings = ("country", "currency", "timezone", "rate_limit_per_second", "rate_limit_burst")
        try:
            data.update(store_clean(**{name: data.get(name) for name in settings}))
        except ValidationError as exc:
            for field, messages_ in exc.message_dict.items():
                if field not in self.errors:  # else the form could not read it, and says so
                    self.add_error(field, messages_)
        return data


@admin.register(Store)
class StoreAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    form = StoreForm
    list_display = ("name", "tenant", "country", "currency", "timezone", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name", "tenant__name")
    inlines = [StoreStaffInline, StoreApplicationInline]


@admin.register(StoreStaff)
class StoreStaffAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ("user", "store", "created_at")
    list_filter = ("store",)
    search_fields = ("user__username", "store__name")
    autocomplete_fields = ("user",)


class StoreApplicationForm(forms.ModelForm):
    scopes = forms.CharField(initial=ALL_SCOPES, help_text=f"Space-separated, among: {ALL_SCOPES}.")

    class Meta:
        model = StoreApplication
        fields = ("store", "scopes")

    def clean_scopes(self) -> str:
        scopes = self.cleaned_data["scopes"].split()
        unknown = [scope for scope in scopes if scope not in ALL_SCOPES.split()]
        if unknown or not scopes:
            raise forms.ValidationError(f"Choose among: {ALL_SCOPES}.")
        return " ".join(dict.fromkeys(scopes))


@admin.register(StoreApplication)
class StoreApplicationAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    form = StoreApplicationForm
    list_display = ("client_id", "store", "scopes", "created_at")
    list_filter = ("store",)
    list_select_related = ("store", "application")
    search_fields = ("application__client_id", "store__name")

    @admin.display(description="client id")
    def client_id(self, obj: StoreApplication) -> str:
        return obj.application.client_id

    def get_readonly_fields(self, request: HttpRequest, obj: StoreApplication | None = None) -> tuple[str, ...]:
        return ("store", "client_id", "created_at") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: StoreApplication | None = None) -> tuple[str, ...]:
        return ("store", "client_id", "scopes", "created_at") if obj is not None else ("store", "scopes")

    def save_model(self, request: HttpRequest, obj: StoreApplication, form: Any, change: bool) -> None:
        if change:
            obj.save()
            return
        credentials = store_application_create(store=obj.store, scopes=obj.scopes)
        link = StoreApplication.objects.get(application__client_id=credentials.client_id)
        obj.pk, obj.application, obj.created_at = link.pk, link.application, link.created_at
        obj._state.adding = False
        messages.warning(
            request,
            f"Client id: {credentials.client_id} — client secret: {credentials.client_secret} — "
            "copy the secret now: it is stored hashed and will not be shown again.",
        )

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: StoreApplication) -> None:
        obj.application.delete()  # revokes the client and its tokens; the link goes with it

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[StoreApplication]) -> None:
        for link in queryset.select_related("application"):
            link.application.delete()
