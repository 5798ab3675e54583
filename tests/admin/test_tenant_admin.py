"""Superusers manage tenants, stores, staff and OAuth credentials; a new secret is shown once."""

import re

from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from tenants.models import StoreApplication, StoreStaff


def test_superuser_adds_a_store_application_and_sees_the_secret_once(admin_super, store_a):
    response = admin_super.post(
        "/admin/tenants/storeapplication/add/", {"store": store_a.pk, "scopes": "customers:read"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(m) for m in get_messages(response.wsgi_request)] or [str(m) for m in response.context["messages"]]
    shown = next(m for m in messages if "client secret" in m)
    client_id, secret = re.search(r"Client id: (\S+) — client secret: (\S+) —", shown).groups()
    link = StoreApplication.objects.get(application__client_id=client_id)
    assert link.store == store_a
    assert link.scopes == "customers:read"
    assert link.application.client_secret != secret  # stored hashed
    token = APIClient().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        format="multipart",
    )
    assert token.status_code == 200
    assert token.json()["scope"] == "customers:read"
    # Once: the application's page does not show it again.
    page = admin_super.get(f"/admin/tenants/storeapplication/{link.pk}/change/").content.decode()
    assert secret not in page
    assert client_id in page


def test_unknown_scopes_are_refused(admin_super, store_a):
    response = admin_super.post("/admin/tenants/storeapplication/add/", {"store": store_a.pk, "scopes": "admin"})
    assert response.status_code == 200
    assert "Choose among" in response.content.decode()
    assert not StoreApplication.objects.filter(scopes="admin").exists()


def test_deleting_a_store_application_revokes_the_client(admin_super, creds_a):
    link = StoreApplication.objects.get(application__client_id=creds_a.client_id)
    response = admin_super.post(f"/admin/tenants/storeapplication/{link.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    token = APIClient().post(
        "/o/token/",
        {"grant_type": "client_credentials", "client_id": creds_a.client_id, "client_secret": creds_a.client_secret},
        format="multipart",
    )
    assert token.status_code == 401


def test_superuser_adds_staff_to_a_store(admin_super, store_a, staff_a, store_b):
    response = admin_super.post("/admin/tenants/storestaff/add/", {"store": store_b.pk, "user": staff_a.pk})
    assert response.status_code == 302
    assert set(StoreStaff.objects.filter(user=staff_a).values_list("store__name", flat=True)) == {"Store A", "Store B"}


def test_tenant_and_store_pages_render_for_superuser(admin_super, store_a):
    for url in (
        "/admin/",
        "/admin/tenants/tenant/",
        f"/admin/tenants/tenant/{store_a.tenant_id}/change/",
        "/admin/tenants/store/",
        f"/admin/tenants/store/{store_a.pk}/change/",
        "/admin/tenants/storeapplication/",
        "/admin/tenants/storestaff/",
        "/admin/customers/order/",
        "/admin/customers/wishlist/",
        "/admin/customers/address/",
    ):
        assert admin_super.get(url).status_code == 200, url


def test_staff_index_shows_customers_but_not_tenants(admin_a):
    html = admin_a.get("/admin/").content.decode()
    assert "/admin/customers/customer/" in html
    assert "/admin/tenants/" not in html


def test_store_page_cannot_delete_an_application_without_revoking_it(admin_super, creds_a):
    page = admin_super.get(f"/admin/tenants/store/{creds_a.store.pk}/change/").content.decode()
    assert "storeapplication_set-0-DELETE" not in page and "applications-0-DELETE" not in page
    assert creds_a.client_id in page
