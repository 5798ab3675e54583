"""The password hashes a store may import (`password_hash` on create, upload and import).

Only the formats whose verification we ship are accepted, so that every imported customer can sign
in: a bare bcrypt hash (`$2a$`, `$2b$`, `$2y$`, stored under the `bcrypt_imported` hasher) and
Django's own `argon2$`, `pbkdf2_sha256$` and `bcrypt_sha256$` (stored as they are).
"""

import re

from accounts.hashers import ALGORITHM as IMPORTED_BCRYPT

_BCRYPT = r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}"
BARE_BCRYPT = re.compile(_BCRYPT)
DJANGO_FORMATS = re.compile(
    r"argon2\$argon2(id|i|d)\$v=\d{1,3}\$m=\d{1,8},t=\d{1,4},p=\d{1,3}\$[A-Za-z0-9+/]{8,128}\$[A-Za-z0-9+/]{16,128}"
    r"|pbkdf2_sha256\$\d{1,8}\$[A-Za-z0-9./+=_-]{1,128}\$[A-Za-z0-9+/]{43}="
    rf"|bcrypt_sha256\${_BCRYPT}"
)
MAX_PASSWORD_HASH_LENGTH = 200
FORMATS_HELP = "a bcrypt hash ($2a$, $2b$, $2y$) or one of Django's (argon2$, pbkdf2_sha256$, bcrypt_sha256$)"


def stored_password_hash(value: str) -> str | None:
    """What the customer's `password` column keeps for an imported hash; None for a format we refuse."""
    if BARE_BCRYPT.fullmatch(value):
        return f"{IMPORTED_BCRYPT}${value}"
    if DJANGO_FORMATS.fullmatch(value):
        return value
    return None
