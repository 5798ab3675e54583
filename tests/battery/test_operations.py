"""Operations: a store's settings are checked the same way wherever a store is made or changed
(create_store, the service, the admin), and the rate-limit state does not grow without bound."""

import math
import time
import uuid
from io import StringIO

import pytest
import redis
from django.core.exceptions import ValidationError
from django.core.management import call_command

from tenants.models import Store
from tenants.services import store_clean, store_create
from tests.admin.conftest import logged_in
from tests.api.conftest import TEST_REDIS_URL, require_redis
from tests.factories import user_make
from twc.api.models import RateLimitBucket
from twc.api.ratelimit import application_limits, idle_buckets_delete, take
from twc.api.shared_state import redis_key

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
    return logged_in(user_make("root-ops", superuser=True))


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


# --- rate-limit state ----------------------------------------------------------------------------


def age_buckets(keys, seconds: float) -> None:
    RateLimitBucket.objects.filter(key__in=keys).update(updated_at=time.time() - seconds)


def test_the_retention_job_deletes_idle_rate_limit_buckets_and_only_those(store_a, settings):
    settings.REDIS_URL = ""
    settings.RATE_LIMIT_PER_SECOND, settings.RATE_LIMIT_BURST = 100.0, 1000
    stranger_keys = [f"token-client:{uuid.uuid4().hex}" for _ in range(500)]  # random client_ids
    for key in stranger_keys:
        take(key, rate=settings.TOKEN_CLIENT_RATE_LIMIT_PER_SECOND, burst=settings.TOKEN_CLIENT_RATE_LIMIT_BURST)
    take("token-client:recent", rate=2, burst=30)
    take("token-ip:10.0.0.1", rate=10, burst=100)
    # A store whose own limit refills slowly (10 a second up to 100,000: 10,000 s): the applications'
    # buckets are kept that long (the token endpoint's are not).
    store_a.rate_limit_per_second, store_a.rate_limit_burst = 10.0, 100_000
    store_a.save()
    take("app:slow", rate=10.0, burst=100_000)
    take("app:default", rate=100.0, burst=1000)
    age_buckets([*stranger_keys, "token-ip:10.0.0.1", "app:slow", "app:default"], 2 * 3600)
    before = RateLimitBucket.objects.count()

    out = StringIO()
    call_command("erase_deleted_customers", "--older-than", "30", stdout=out)
    after = RateLimitBucket.objects.count()
    print(f"\nrate-limit buckets in the database: {before} before the retention job, {after} after")
    assert f"Deleted {len(stranger_keys) + 1} idle rate-limit buckets." in out.getvalue()
    kept = {"token-client:recent", "app:slow", "app:default"}
    assert set(RateLimitBucket.objects.values_list("key", flat=True)) == kept

    age_buckets(["app:slow", "app:default"], 3 * 3600)  # now idle past the slowest refill time
    assert idle_buckets_delete(limits=[application_limits(store_a)]) == 2
    # A deleted bucket is a full one: the client starts again with its whole burst.
    decision = take(stranger_keys[0], rate=2, burst=30)
    assert (decision.allowed, decision.remaining) == (True, 29)


def test_redis_rate_limit_keys_expire_after_the_time_to_refill(settings):
    require_redis()
    settings.REDIS_URL = TEST_REDIS_URL
    settings.REDIS_KEY_PREFIX = f"twc-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        figures = []
        for key, rate, burst in [("token-client:x", 2, 30), ("app:1", 100, 1000), ("app:2", 0.01, 1_000_000)]:
            take(key, rate=rate, burst=burst)
            ttl = client.ttl(redis_key("rl", key))
            figures.append(f"{key} {ttl} s")
            assert 0 < ttl <= math.ceil(burst / rate) + 1
        print(f"\nRedis rate-limit key TTLs: {', '.join(figures)}")
    finally:
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)


def test_a_store_limit_saved_before_the_check_means_the_default(store_a, settings):
    settings.RATE_LIMIT_PER_SECOND, settings.RATE_LIMIT_BURST = 100.0, 1000
    Store.objects.filter(pk=store_a.pk).update(rate_limit_per_second=-1.0, rate_limit_burst=0)
    store_a.refresh_from_db()
    assert application_limits(store_a) == (100.0, 1000)
