"""The store's sign-in settings for its own staff: Multipass on or off, its secret (shown to them:
they configure their encoder with it) and rotation, and the origins allowed to call /api/me."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import StoreAccountSettings
from accounts.services.store_settings import clean_origins, store_account_settings_update
from tenants.admin_mixins import StoreScopedAdminMixin


class StoreAccountSettingsForm(forms.ModelForm):
    rotate_secret = forms.BooleanField(
        required=False, help_text="A new Multipass secret: tokens made with the old one are refused from now on."
    )

    class Meta:
        model = StoreAccountSettings
        fields = ("store", "multipass_enabled", "cors_allowed_origins")
        help_texts = {"cors_allowed_origins": "One origin a line, such as https://shop.example.com."}

    def clean_cors_allowed_origins(self) -> str:
        try:
            return clean_origins(self.cleaned_data.get("cors_allowed_origins") or "")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None


@admin.register(StoreAccountSettings)
class StoreAccountSettingsAdmin(StoreScopedAdminMixin, admin.ModelAdmin):
    form = StoreAccountSettingsForm
    list_display = ("store", "multipass_enabled", "multipass_rotated_at")
    readonly_fields = ("multipass_secret", "multipass_rotated_at")
    fields = ("store", "multipass_enabled", "multipass_secret", "rotate_secret", "multipass_rotated_at")
    fields += ("cors_allowed_origins",)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return (*self.readonly_fields, "store") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Through the service: turning Multipass on generates the secret, rotating replaces it.
        saved = store_account_settings_update(
            store=obj.store,
            multipass_enabled=form.cleaned_data["multipass_enabled"],
            rotate_secret=form.cleaned_data["rotate_secret"],
            cors_allowed_origins=form.cleaned_data["cors_allowed_origins"],
        )
        obj.pk = saved.pk  # the admin's history and redirect name the saved row
        obj.refresh_from_db()
