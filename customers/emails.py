"""Email addresses: the validity rules, the stored form and the case-insensitive key.

An address must be written one way only. Compatibility normalisation (NFKC) would change `ſara`
into `sara` and the Kelvin sign into `K`, and format characters (zero-width, soft hyphen, bidi
controls) are invisible: such an address looks like another one and is refused, so that it can
neither collide with that other address nor take over its orders. Internationalised addresses
(RFC 6531) written in NFC with letters, marks and digits are accepted. A decomposed `é` (NFD) is
changed by NFKC too, so it is refused rather than silently recomposed: clients send NFC.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

# The code of the ValidationError for an address that is not written one way (customers.errors
# words it for clients).
LOOKALIKE_CODE = "lookalike"

# Letters and marks that render as nothing (combining grapheme joiner, Hangul fillers, Khmer
# inherent vowels, Mongolian and other variation selectors); the other default-ignorable code points
# are format (Cf) or unassigned characters.
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\ufe00-\ufe0f\U000e0100-\U000e01ef]")

# RFC 6531 adds every non-ASCII character to the local part's atext and qtext; the characters
# refused above never reach these patterns.
_NON_ASCII = "\u00a1-\U0010ffff"


class _EmailValidator(EmailValidator):
    """Django's email rules with internationalised local parts, its patterns compiled at import:
    Django compiles them lazily behind a proxy object, whose every use costs more than the match."""

    user_regex = re.compile(
        # dot-atom
        rf"(^[-!#$%&'*+/=?^_`{{}}|~0-9A-Z{_NON_ASCII}]+(\.[-!#$%&'*+/=?^_`{{}}|~0-9A-Z{_NON_ASCII}]+)*\Z"
        # quoted-string
        rf'|^"([\001-\010\013\014\016-\037!#-\[\]-\177{_NON_ASCII}]|\\[\001-\011\013\014\016-\177])*"\Z)',
        re.IGNORECASE,
    )
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


_validate_syntax = _EmailValidator()


def is_written_one_way(email: str) -> bool:
    """False for an address that NFKC changes, or that holds a control, format or invisible
    character, or beyond ASCII anything but a letter, a mark or a digit (no symbols, punctuation,
    separators, private-use or unassigned characters: `。` is a dot to IDNA, emoji are no letters).

    ASCII is its own NFKC form: printable ASCII needs no Unicode tables (the bulk import's path).
    """
    if email.isascii():
        return email.isprintable()
    return (
        email.isprintable()
        and all(unicodedata.category(char)[0] in "LMN" for char in email if not char.isascii())
        and unicodedata.is_normalized("NFKC", email)
        and not _INVISIBLE.search(email)
    )


def validate_email(email: str) -> None:
    """Raise Django's ValidationError for an invalid address or one that is not written one way."""
    if not is_written_one_way(email):
        raise ValidationError(_validate_syntax.message, code=LOOKALIKE_CODE)
    _validate_syntax(email)


def normalize_email(raw: str) -> str:
    """Trimmed address; the key used for uniqueness is `email_key(...)`."""
    return raw.strip()


def email_key(email: str | None) -> str | None:
    """Case-insensitive identity of an address, computed in Python so SQLite and PostgreSQL agree.

    `lower()`, not `casefold()`: on an address written one way casefold would still merge distinct
    ones (`straße@x.de` with `strasse@x.de`, different domains under IDNA 2008). Merging two people's
    addresses hands one the other's orders; telling two spellings of one address apart only lets a
    duplicate customer exist. Every address in ASCII keys the same either way.
    """
    return (email.strip().lower() or None) if email else None
