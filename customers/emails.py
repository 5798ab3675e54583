"""Email addresses: Django's validity rules, the stored form and the case-insensitive key."""

import re

from django.core.validators import EmailValidator


class _EmailValidator(EmailValidator):
    """Django's email rules, its patterns compiled at import: Django compiles them lazily behind a
    proxy object, whose every use costs more than the match itself."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)


validate_email = _EmailValidator()


def normalize_email(raw: str) -> str:
    """Trimmed address; the key used for uniqueness is `email_key(...)`."""
    return raw.strip()


def email_key(email: str | None) -> str | None:
    """Case-insensitive identity of an address (casefold, so SQLite and PostgreSQL agree)."""
    return (email.strip().casefold() or None) if email else None
