"""The filters of GET /api/customers and GET /api/customers/count (django-filter).

Every value is checked strictly: a value that cannot mean anything is `400 InvalidField` naming the
query parameter, never an empty list that hides a client's bug. Values are normalised as on write
(email's case-insensitive key, phone to E.164 in the store's country).
"""

import datetime as dt
import re

import django_filters
from django.db.models import Q, QuerySet

from customers.emails import email_key, is_written_one_way
from customers.errors import lookalike_email_entry, undialable_phone_entry
from customers.models import Customer, CustomerState
from customers.phones import normalize_phone
from customers.selectors import customer_find
from twc.api.errors import ValidationFailed, invalid_field, invalid_field_entry
from twc.text import CONTROL_OR_BREAK, in_utc, parse_iso_datetime

MAX_IDS = 250
MAX_PARAM_LENGTH = 1000
# The list's free-text `q`, and the search endpoint's `query` (whose parser reads these bounds).
MAX_Q_LENGTH = 200
MAX_Q_WORDS = 10
MAX_QUERY_LENGTH = 1000
MAX_QUERY_TERMS = 32
TRUE_VALUES = {"true": True, "1": True, "false": False, "0": False}


def _fail(name: str, message: str):
    raise invalid_field(name, message)


def parse_timestamp(name: str, value: str) -> dt.datetime:
    """ISO 8601 date and time (a date alone means its midnight); no offset means UTC."""
    parsed = parse_iso_datetime(value)
    if parsed is None:
        _fail(name, f"'{name}' must be an ISO 8601 date and time such as 2024-01-31T12:00:00Z.")
    in_range = in_utc(parsed)
    if in_range is None:
        _fail(name, f"'{name}' is out of range.")
    return in_range


def tag_condition(tag: str) -> Q:
    """Customers whose ", "-joined `tags` contain exactly this tag (case-insensitive).

    Plain LIKE patterns so SQLite and PostgreSQL agree (on SQLite only ASCII letters fold case).
    """
    return (
        Q(tags__iexact=tag)
        | Q(tags__istartswith=f"{tag}, ")
        | Q(tags__iendswith=f", {tag}")
        | Q(tags__icontains=f", {tag}, ")
    )


class CustomerFilter(django_filters.FilterSet):
    ids = django_filters.CharFilter(method="filter_ids")
    email = django_filters.CharFilter(method="filter_email")
    phone = django_filters.CharFilter(method="filter_phone")
    state = django_filters.CharFilter(method="filter_state")
    tag = django_filters.CharFilter(method="filter_tag")
    accepts_marketing = django_filters.CharFilter(method="filter_accepts_marketing")
    created_at_min = django_filters.CharFilter(method="filter_timestamp")
    created_at_max = django_filters.CharFilter(method="filter_timestamp")
    updated_at_min = django_filters.CharFilter(method="filter_timestamp")
    updated_at_max = django_filters.CharFilter(method="filter_timestamp")
    since_id = django_filters.CharFilter(method="filter_since_id")
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Customer
        fields: list[str] = []

    @property
    def store(self):
        return self.request.store

    def filter_ids(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        refs = [part.strip() for part in value.split(",") if part.strip()]
        if not refs:
            _fail(name, "'ids' must be a comma-separated list of customer ids.")
        if len(refs) > MAX_IDS:
            _fail(name, f"'ids' names at most {MAX_IDS} customers.")
        return queryset.filter(ref__in=refs)

    def filter_email(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not is_written_one_way(value):
            # No stored address is written so; its key could match the address it imitates.
            raise ValidationFailed(lookalike_email_entry())
        return queryset.filter(email_key=email_key(value))

    def filter_phone(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        try:
            phone = normalize_phone(value, self.store.country)
        except ValueError:
            raise ValidationFailed(undialable_phone_entry())
        return queryset.filter(phone=phone)

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value not in CustomerState.values:
            _fail(name, f"'state' must be one of: {', '.join(CustomerState.values)}.")
        return queryset.filter(state=value)

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        tag = value.strip()
        if not tag or "," in tag:
            _fail(name, "'tag' must be one tag (no comma).")
        return queryset.filter(tag_condition(tag))

    def filter_accepts_marketing(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.lower() not in TRUE_VALUES:
            _fail(name, "'accepts_marketing' must be true or false.")
        return queryset.filter(accepts_marketing=TRUE_VALUES[value.lower()])

    def filter_timestamp(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        field, bound = name.rsplit("_", 1)
        lookup = "gte" if bound == "min" else "lte"
        return queryset.filter(**{f"{field}__{lookup}": parse_timestamp(name, value)})

    def filter_since_id(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Refs are the store's strings and have no order of their own: "since" means created after
        # that customer, by the service's creation sequence.
        customer = customer_find(store=self.store, ref=value)
        if customer is None:
            _fail(name, f"'since_id': no customer '{value[:100]}' in this store.")
        return queryset.filter(seq__gt=customer.seq)

    def filter_q(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Each word is one more LIKE over every name, email and id of the store: bounded, so that
        # one request cannot hold a worker and the database for seconds.
        words = value.split()
        if len(value) > MAX_Q_LENGTH or len(words) > MAX_Q_WORDS:
            _fail(name, f"'q' takes at most {MAX_Q_LENGTH} characters and {MAX_Q_WORDS} words.")
        for word in words:
            condition = (
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email_key__contains=email_key(word))
                | Q(ref__icontains=word)
            )
            digits = re.sub(r"\D", "", word)
            if digits and len(digits) >= 3 and not re.search(r"[^\d\s()+.\-]", word):
                condition |= Q(phone__contains=digits)
            queryset = queryset.filter(condition)
        return queryset


LIST_PARAMS = {"fields", "ordering", "limit", "page_info"}


def check_query_params(query_params, allowed: set[str]) -> None:
    """Unknown parameters (typos) and unreadable values are `400 InvalidField` naming the parameter."""
    errors = []
    for name, values in query_params.lists():
        shown = name[:100]
        if name not in allowed:
            errors.append(invalid_field_entry(shown, f"Unknown query parameter '{shown}'."))
            continue
        if len(values) > 1:
            errors.append(invalid_field_entry(shown, f"'{shown}' may be given once."))
        for value in values:
            if len(value) > MAX_PARAM_LENGTH or CONTROL_OR_BREAK.search(value):
                errors.append(invalid_field_entry(shown, f"'{shown}' is too long or contains control characters."))
    if errors:
        raise ValidationFailed(errors)


def filter_customers(queryset: QuerySet, *, query_params, request) -> QuerySet:
    """The store's customers narrowed by the request's filters (after check_query_params)."""
    data = {key: value for key, value in query_params.items() if key in CustomerFilter.base_filters}
    filterset = CustomerFilter(data=data, queryset=queryset, request=request)
    if not filterset.is_valid():
        raise ValidationFailed(
            [invalid_field_entry(name, str(message)) for name, ms in filterset.errors.items() for message in ms]
        )
    return filterset.qs


FILTER_PARAMS = set(CustomerFilter.base_filters)
