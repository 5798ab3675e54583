"""The customer change list's own filters, and change lists that read fewer query parameters."""

from django.contrib import admin

from customers.filters import tag_condition


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
    """A text box: the customers having this tag (whole tag, any case), as the API's `tag` filter."""

    title = "tag"
    parameter_name = "tag"
    template = "admin/customers/text_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the template renders a text box, not these

    def queryset(self, request, queryset):
        tag = (self.value() or "").strip()
        if not tag:
            return queryset
        return queryset.filter(tag_condition(tag))

    def choices(self, changelist):
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "hidden": [(k, v) for k, v in changelist.params.items() if k != self.parameter_name],
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }


def changelist_ignoring(param: str, changelist_class):
    """A ChangeList that leaves `param` to get_queryset instead of reading it as a field lookup."""

    class ChangeList(changelist_class):
        def get_filters_params(self, params=None):
            lookup_params = super().get_filters_params(params)
            lookup_params.pop(param, None)
            return lookup_params

    return ChangeList


def changelist_sorting_only_by(changelist_class):
    """A ChangeList that ignores `?o=` on columns outside sortable_by (Django only hides their links)."""

    class ChangeList(changelist_class):
        def get_ordering_field(self, field_name):
            if field_name not in self.sortable_by:
                return None
            return super().get_ordering_field(field_name)

    return ChangeList
