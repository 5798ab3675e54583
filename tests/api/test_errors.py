"""The error vocabulary: every code of the contract, one return type per kind of helper, and each
error message written once."""

import ast
import inspect
import typing
from pathlib import Path

import pytest

import customers.errors
from twc.api import errors
from twc.api.errors import ApiError, ErrorCode, FieldError
from twc.api.renderers import dumps

ROOT = Path(__file__).resolve().parents[2]

# The codes of the contract's error table, and of its Part 2 (sign-in, Multipass, rate limits).
CONTRACT_CODES = {
    "InvalidJsonInput",
    "InvalidField",
    "RequiredField",
    "DuplicateField",
    "InvalidToken",
    "InsufficientScope",
    "ResourceNotFound",
    "ConcurrentModification",
    "InvalidOperation",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "IdempotencyKeyReused",
    "IdempotencyKeyInProgress",
    "TooManyRequests",
    "ServiceUnavailable",
    "InvalidCredentials",
    "InvalidMultipassToken",
}
# Beside them: the 500's code, and the import report's codes for rows it cannot read.
OTHER_CODES = {"InternalError", "InvalidRow", "InvalidEncoding"}


def test_error_code_names_every_code_of_the_contract_and_no_other():
    assert {code.value for code in ErrorCode} == CONTRACT_CODES | OTHER_CODES


def test_a_code_is_its_string_on_the_wire():
    entry = errors.invalid_field_entry("email", "Bad.")
    assert dumps(entry.as_dict()) == b'{"code":"InvalidField","message":"Bad.","field":"email"}'
    assert entry.code == "InvalidField" and f"{entry.code}" == "InvalidField"


HELPERS = [
    function
    for module in (errors, customers.errors)
    for name, function in inspect.getmembers(module, inspect.isfunction)
    if function.__module__ == module.__name__ and not name.startswith("_")
]


@pytest.mark.parametrize("helper", HELPERS, ids=lambda helper: f"{helper.__module__}.{helper.__name__}")
def test_entry_builders_return_an_entry_and_constructors_an_api_error(helper):
    returned = typing.get_type_hints(helper)["return"]
    if helper.__name__.endswith("_entry"):
        assert returned is FieldError
    else:
        assert issubclass(returned, ApiError)


def test_the_helpers_without_arguments_each_have_their_own_message():
    made = [
        helper()
        for helper in HELPERS
        if all(parameter.default is not parameter.empty for parameter in inspect.signature(helper).parameters.values())
    ]
    messages = [error.message for error in made]
    assert len(messages) > 3
    assert len(messages) == len(set(messages))


ERROR_BUILDERS = {helper.__name__ for helper in HELPERS}
# Beside the error types, FieldChecker.fail and the filters' _fail take a message too.
ERROR_BUILDERS |= {"FieldError", "ApiError", "ValidationFailed", "AuthenticationFailed", "fail", "_fail"}


def message_literals(path: Path):
    """(message, where) of every sentence written as an argument of an error type or helper."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if name not in ERROR_BUILDERS:
            continue
        for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
            if (
                isinstance(argument, ast.Constant)
                and isinstance(argument.value, str)
                or isinstance(argument, ast.JoinedStr)
            ):
                text = ast.unparse(argument)
                if " " in text:
                    yield text, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_each_error_message_is_written_once():
    seen: dict[str, list[str]] = {}
    for package in ("customers", "tenants", "twc"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for message, where in message_literals(path):
                seen.setdefault(message, []).append(where)
    assert len(seen) > 30
    assert {message: places for message, places in seen.items() if len(places) > 1} == {}
