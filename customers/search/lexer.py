"""Tokens of the query language, each with the position of its first character.

`(` and `)` group; `OR`, `AND` and `NOT` (upper case, as in Shopify) are operators; a `-` that starts
a token negates it; anything else is a term: `value`, `"quoted value"`, `field:value`,
`field:"quoted value"` or `field:<v` (`<`, `>`, `<=`, `>=`). An unquoted value ends at a space or
a `)`; a trailing `*` on it asks for a prefix.
"""

import re
from dataclasses import dataclass

from customers.search.errors import query_error

FIELD_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*):")
COMPARATORS = ("<=", ">=", "<", ">")
OPERATORS = {"OR", "AND", "NOT"}


@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "-", "OR", "AND", "NOT", "TERM"
    position: int
    field: str | None = None
    comparator: str = ":"
    value: str = ""
    prefix: bool = False
    value_position: int = 0


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """The quoted string opening at `start` (a `"`), and the position after its closing quote."""
    end = text.find('"', start + 1)
    if end < 0:
        raise query_error("a quote is not closed", start)
    return text[start + 1 : end], end + 1


def _read_bare(text: str, start: int) -> tuple[str, int]:
    end = start
    while end < len(text) and not text[end].isspace() and text[end] != ")":
        end += 1
    return text[start:end], end


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token(char, i))
            i += 1
        elif char == "-" and i + 1 < len(text) and not text[i + 1].isspace() and text[i + 1] != ")":
            tokens.append(Token("-", i))
            i += 1
        else:
            i = _read_term(text, i, tokens)
    return tokens


def _read_term(text: str, start: int, tokens: list[Token]) -> int:
    field = None
    comparator = ":"
    i = start
    match = FIELD_RE.match(text, start)
    if match:
        field = match.group(1)
        i = match.end()
        for candidate in COMPARATORS:
            if text.startswith(candidate, i):
                comparator = candidate
                i += len(candidate)
                break
    value_position = i
    if i < len(text) and text[i] == '"':
        value, i = _read_quoted(text, i)
        prefix = False
    else:
        value, i = _read_bare(text, i)
        if field is None and value in OPERATORS:
            tokens.append(Token(value, start))
            return i
        prefix = value.endswith("*")
        value = value.rstrip("*") if prefix else value
        if '"' in value:
            raise query_error("a quote may only open a value", value_position + value.index('"'))
    if field is not None and value == "" and not prefix:
        raise query_error(f"'{field[:50]}:' needs a value", value_position)
    if field is None and value == "":
        raise query_error("a lone '*' is not a term", start)
    tokens.append(Token("TERM", start, field, comparator, value, prefix, value_position))
    return i
