"""Small request bodies that several endpoints share."""

from typing import Any

from twc.api.errors import ValidationFailed, invalid_field, invalid_json_input, unknown_field_entry


def send_email_option(data: Any) -> bool:
    """The optional body of the actions that make a link (send_invite, send_password_reset):
    nothing, or `{"send_email": false}` when the store's systems send the mail themselves."""
    data = data if data not in (None, "") else {}
    if not isinstance(data, dict):
        raise invalid_json_input("The body must be a JSON object.")
    unknown = [key for key in data if key != "send_email"]
    if unknown:
        raise ValidationFailed(unknown_field_entry(unknown[0]))
    send_email = data.get("send_email", True)
    if not isinstance(send_email, bool):
        raise invalid_field("send_email", "'send_email' must be true or false.")
    return send_email
