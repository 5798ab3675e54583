"""`manage.py setup_demo` (run by `make run`): demo store, admin and store staff logins."""

from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from tenants.management.commands import setup_demo
from tenants.models import StoreStaff


def test_setup_demo_prints_the_admin_and_staff_logins(db, tmp_path, monkeypatch):
    monkeypatch.setattr(setup_demo, "CREDENTIALS_FILE", tmp_path / "creds.json")
    out = StringIO()
    call_command("setup_demo", "--host", "127.0.0.1:8321", stdout=out)
    text = out.getvalue()
    assert "client_secret:" in text
    admin_password = text.split("user: admin  password: ")[1].split()[0]
    staff_password = text.split("user: staff  password: ")[1].split()[0]
    assert authenticate(username="admin", password=admin_password).is_superuser
    staff = authenticate(username="staff", password=staff_password)
    assert staff.is_staff and not staff.is_superuser
    assert list(StoreStaff.objects.filter(user=staff).values_list("store__name", flat=True)) == ["Demo Store"]
    again = StringIO()
    call_command("setup_demo", stdout=again)
    assert f"user: staff  password: {staff_password}" in again.getvalue()
    assert StoreStaff.objects.count() == 1


def test_setup_demo_gives_existing_logins_a_new_password_when_the_saved_one_is_lost(db, tmp_path, monkeypatch):
    credentials = tmp_path / "creds.json"
    monkeypatch.setattr(setup_demo, "CREDENTIALS_FILE", credentials)
    call_command("setup_demo", stdout=StringIO())
    credentials.unlink()
    out = StringIO()
    call_command("setup_demo", stdout=out)
    text = out.getvalue()
    admin_password = text.split("user: admin  password: ")[1].split()[0]
    staff_password = text.split("user: staff  password: ")[1].split()[0]
    assert authenticate(username="admin", password=admin_password).is_superuser
    staff = authenticate(username="staff", password=staff_password)
    assert staff.is_staff and not staff.is_superuser
    assert StoreStaff.objects.count() == 1
