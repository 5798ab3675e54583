"""A Django password hasher for bcrypt hashes imported from other platforms.

PHP (`password_hash`), Ruby's bcrypt gem, Node's bcrypt and most shop platforms store a bare
`$2a$`/`$2b$`/`$2y$` hash. Django's own `bcrypt` hasher expects a `bcrypt$` prefix and a password as
is; this one is what `password_hash` on create, upload and import stores such hashes under:
`bcrypt_imported$<the hash as given>`. It only verifies (a new password is hashed with the first
hasher, Argon2id) and always asks for an upgrade, so the first successful sign-in rehashes it.
"""

from typing import Any

import bcrypt
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

ALGORITHM = "bcrypt_imported"


class ImportedBcryptPasswordHasher(BasePasswordHasher):
    algorithm = ALGORITHM

    def salt(self) -> str:
        raise NotImplementedError("bcrypt_imported only verifies imported hashes; new passwords use Argon2id.")

    def encode(self, password: str, salt: str) -> str:
        raise NotImplementedError("bcrypt_imported only verifies imported hashes; new passwords use Argon2id.")

    def verify(self, password: str, encoded: str) -> bool:
        algorithm, data = encoded.split("$", 1)
        if algorithm != self.algorithm or len(data) != 60:
            return False
        # $2a$, $2b$ and $2y$ are the same function for the passwords they were made from; the
        # library computes $2b$. The other implementations use the first 72 bytes of a password
        # (bcrypt 5 refuses longer ones instead).
        salted = b"$2b$" + data[4:].encode("ascii")
        try:
            computed = bcrypt.hashpw(password.encode("utf-8")[:72], salted[:29])
        except ValueError:
            return False
        return constant_time_compare(computed, salted)

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        _algorithm, data = encoded.split("$", 1)
        return {"algorithm": self.algorithm, "variant": data[1:3], "cost": data[4:6], "checksum": mask_hash(data[29:])}

    def must_update(self, encoded: str) -> bool:
        return True

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass
