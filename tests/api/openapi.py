"""Checks real responses against the generated OpenAPI document (jsonschema on its components)."""

import functools
import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"
ROOT = "urn:twc:openapi"


def to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` -> a JSON Schema that also accepts null."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


@functools.cache
def document() -> dict:
    return yaml.safe_load(SCHEMA_FILE.read_text())


@functools.cache
def registry() -> Registry:
    return Registry().with_resource(ROOT, Resource.opaque(to_json_schema(document())))


def response_schema(path: str, method: str, status: int) -> dict:
    operation = document()["paths"][path][method.lower()]
    response = operation["responses"][str(status)]
    return to_json_schema(response["content"]["application/json"]["schema"])


def assert_matches_schema(response, path: str, method: str) -> None:
    """The response's status is documented for the operation and its body matches the schema."""
    schema = response_schema(path, method, response.status_code)
    schema = json.loads(json.dumps(schema).replace('"#/components', f'"{ROOT}#/components'))
    body = json.loads(response.content)
    errors = sorted(Draft202012Validator(schema, registry=registry()).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {response.status_code}: {[e.message for e in errors[:5]]}"


def _validator(schema: dict) -> Draft202012Validator:
    schema = json.loads(json.dumps(schema).replace('"#/components', f'"{ROOT}#/components'))
    return Draft202012Validator(schema, registry=registry())


def request_schema(path: str, method: str) -> dict:
    operation = document()["paths"][path][method.lower()]
    return to_json_schema(operation["requestBody"]["content"]["application/json"]["schema"])


def parameter_schema(path: str, method: str, name: str) -> dict:
    """The schema of a parameter's value; with `allowEmptyValue`, the empty value too."""
    operation = document()["paths"][path][method.lower()]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == name]
    schema = to_json_schema(parameter["schema"])
    return {"anyOf": [schema, {"const": ""}]} if parameter.get("allowEmptyValue") else schema


def query_value(schema: dict, raw: str):
    """A query string's text as the JSON value the schema describes (an integer's digits, a boolean)."""
    kinds = {s.get("type") for s in [schema, *schema.get("anyOf", [])] if isinstance(s, dict)}
    if "integer" in kinds and raw.isascii() and raw.lstrip("-").isdigit():
        return int(raw)
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    return raw


def is_valid(schema: dict, value) -> bool:
    return _validator(schema).is_valid(value)
