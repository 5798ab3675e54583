"""The one place the admin scopes store data to the stores a staff user belongs to (StoreStaff).

Everything of the admin runs on `get_queryset`: the change list, search, filters, actions (the
selected ids are filtered through it), autocomplete, and the change/delete/history pages. Scoping it
scopes them all; the pages additionally answer 404 for an object outside it (Django's default is a
redirect with a message that tells the object exists elsewhere).

Superusers see every store. A staff user (is_staff) with StoreStaff memberships gets the view,
add and change permissions on the store-scoped models without any Django permission being granted:
membership is the permission.
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model, QuerySet
from django.db.models.fields.related import ForeignKey
from django.forms import ModelChoiceField
from django.http import Http404, HttpRequest, HttpResponse

from tenants.models import Store, StoreStaff
from twc.text import is_row_number


def staff_store_ids(user: User | AnonymousUser) -> set[int] | None:
    """The ids of the stores `user` may manage in the admin; None means every store (superuser)."""
    if not user.is_active:
        return set()
    if user.is_superuser:
        return None
    cached = getattr(user, "_twc_store_ids", None)
    if cached is None:
        cached = (
            set(StoreStaff.objects.filter(user=user).values_list("store_id", flat=True)) if user.is_staff else set()
        )
        user._twc_store_ids = cached  # type: ignore[attr-defined]  # cached on the request's user object
    return cached


def staff_stores(user: User | AnonymousUser) -> QuerySet[Store]:
    ids = staff_store_ids(user)
    stores = Store.objects.order_by("name")
    return stores if ids is None else stores.filter(id__in=ids)


class StoreListFilter(admin.SimpleListFilter):
    """Filter by store, offering only the user's stores (cheaper than a DISTINCT over a big table)."""

    title = "store"
    parameter_name = "store"

    def lookups(self, request: HttpRequest, model_admin: "admin.ModelAdmin[Any]") -> list[tuple[str, str]]:
        return [(str(store.pk), store.name) for store in staff_stores(request.user)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        if not is_row_number(value):
            return queryset.none()
        return queryset.filter(**{model_admin_store_path(self.model_admin): int(value)})

    def __init__(
        self,
        request: HttpRequest,
        params: dict[str, list[str]],
        model: type[Model],
        model_admin: "StoreScopedAdminMixin",
    ):
        self.model_admin = model_admin
        super().__init__(request, params, model, model_admin)


def model_admin_store_path(model_admin: "StoreScopedAdminMixin") -> str:
    return f"{model_admin.store_path}_id" if "__" not in model_admin.store_path else f"{model_admin.store_path}__id"


if TYPE_CHECKING:
    # The ModelAdmin this mixin is always combined with (it calls its methods through super()).
    _ModelAdminBase = admin.ModelAdmin[Any]
else:
    _ModelAdminBase = object


class StoreScopedAdminMixin(_ModelAdminBase):
    """A ModelAdmin of store data, confined to the stores of the requesting staff user.

    `store_path` is the lookup from the model to its Store ("store", or "customer__store").
    """

    store_path = "store"

    # --- what a user sees ---------------------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        ids = staff_store_ids(request.user)
        if ids is None:
            return queryset
        return queryset.filter(**{f"{self.store_path}__in": ids})

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> "ModelChoiceField[Any] | None":
        ids = staff_store_ids(request.user)
        if db_field.related_model is Store:
            kwargs["queryset"] = staff_stores(request.user)
            if ids is not None and len(ids) == 1:
                kwargs["initial"] = next(iter(ids))
        elif ids is not None and hasattr(db_field.related_model, "store"):
            kwargs["queryset"] = db_field.related_model._default_manager.filter(store_id__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # --- what a user may do -------------------------------------------------------------------
    def _is_member(self, request: HttpRequest, obj: Model | None = None) -> bool:
        ids = staff_store_ids(request.user)
        if ids is None:
            return True
        if not ids or not request.user.is_staff:
            return False
        return obj is None or self.store_id_of(obj) in ids

    def store_id_of(self, obj: Model) -> int:
        target = obj
        for part in self.store_path.split("__")[:-1]:
            target = getattr(target, part)
        store_id: int = getattr(target, f"{self.store_path.split('__')[-1]}_id")
        return store_id

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_member(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._is_member(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._is_member(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._is_member(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # store data is soft-deleted through the services, never removed here

    # --- another store's object is not found, on every page of an object ----------------------
    def _require_visible(self, request: HttpRequest, object_id: str | None) -> None:
        if object_id is not None and self.get_object(request, unquote(object_id)) is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)
