"""`password_hash` on create, upload and import: the accepted formats, write-only, verified by the
real hashers (the suite's fast MD5 hasher stands only in front of them)."""

from io import StringIO

import bcrypt
import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.core.management import call_command

from customers.models import Customer

BCRYPT_2B = bcrypt.hashpw(b"old-shop-password", bcrypt.gensalt(4)).decode()
REAL_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "accounts.hashers.ImportedBcryptPasswordHasher",
]


def django_hash(algorithm: str, password: str = "old-shop-password") -> str:
    return make_password(password, hasher=algorithm)


def formats() -> dict[str, str]:
    return {
        "bcrypt $2a$": "$2a$" + BCRYPT_2B[4:],
        "bcrypt $2b$": BCRYPT_2B,
        "bcrypt $2y$": "$2y$" + BCRYPT_2B[4:],
        "argon2$": django_hash("argon2"),
        "pbkdf2_sha256$": django_hash("pbkdf2_sha256"),
        "bcrypt_sha256$": django_hash("bcrypt_sha256"),
    }


@pytest.fixture
def real_hashers(settings):
    settings.PASSWORD_HASHERS = REAL_HASHERS


@pytest.mark.parametrize("name", list(formats()))
def test_each_format_is_accepted_verified_and_never_returned(api_a, real_hashers, name):
    value = formats()[name]
    response = api_a.post("/api/customers", {"id": "c-1", "email": "ann@example.com", "password_hash": value})
    assert response.status_code == 201, response.content
    assert "password_hash" not in response.json() and "password" not in response.json()
    assert "password" not in api_a.get("/api/customers/c-1").content.decode()
    stored = Customer.objects.get(ref="c-1").password
    assert check_password("old-shop-password", stored)
    assert not check_password("wrong", stored)


@pytest.mark.parametrize(
    "value",
    [
        "plain-text-password",
        "md5$salt$abc",
        "$2b$04$short",
        "$2x$04$" + BCRYPT_2B[7:],
        "sha1$salt$" + "a" * 40,
        12,
        ["$2b$"],
        "argon2$argon2id$v=19$m=102400,t=2,p=8$" + "x" * 300,
    ],
)
def test_other_formats_are_invalid_field(api_a, value):
    response = api_a.post("/api/customers", {"email": "ann@example.com", "password_hash": value})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "code": "InvalidField",
            "field": "password_hash",
            "message": "'password_hash' must be a bcrypt hash ($2a$, $2b$, $2y$) or one of Django's "
            "(argon2$, pbkdf2_sha256$, bcrypt_sha256$).",
        }
    ]


def test_null_or_empty_means_no_password(api_a):
    for ref, value in (("c-1", None), ("c-2", "")):
        response = api_a.post("/api/customers", {"id": ref, "phone": f"613-555-010{ref[-1]}", "password_hash": value})
        assert response.status_code == 201
        assert Customer.objects.get(ref=ref).password == ""


def test_an_update_refuses_it(api_a, store_a):
    api_a.post("/api/customers", {"id": "c-1", "email": "ann@example.com"})
    response = api_a.put("/api/customers", {"id": "c-1", "password_hash": BCRYPT_2B})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "password_hash"


def test_upload_writes_hashes_in_bulk(api_a, store_b, real_hashers):
    items = [
        {"id": "u-1", "email": "a@example.com", "password_hash": BCRYPT_2B, "state": "enabled"},
        {"id": "u-2", "email": "b@example.com", "password_hash": "nope"},
    ]
    body = api_a.post("/api/upload-customers", items).json()
    assert [r["status"] for r in body["results"]] == ["created", "failed"]
    assert "password" not in str(body["results"][0])
    assert check_password("old-shop-password", Customer.objects.get(ref="u-1").password)


def test_import_reads_a_password_hash_column(store_a, tmp_path, real_hashers):
    path = tmp_path / "customers.csv"
    path.write_text(f"id,email,state,password_hash\nc-1,ann@example.com,enabled,{BCRYPT_2B}\n")
    call_command("import_customers", str(path), "--store", "Store A", "--no-progress", stdout=StringIO())
    assert check_password("old-shop-password", Customer.objects.get(ref="c-1").password)


def test_a_bcrypt_password_longer_than_72_bytes_checks_its_first_72(real_hashers):
    long = "x" * 80
    stored = "bcrypt_imported$" + bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(4)).decode()
    assert check_password(long, stored) and check_password("x" * 72, stored)
