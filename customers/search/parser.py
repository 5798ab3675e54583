"""The AST of a query: And/Or/Not over Terms, by recursive descent over the lexer's tokens.

query   := or_expr
or_expr := and_expr ("OR" and_expr)*
and_expr:= unary (["AND"] unary)*          terms side by side must all hold
unary   := ("-" | "NOT") unary | "(" or_expr ")" | term
"""

from dataclasses import dataclass

from customers.filters import MAX_QUERY_LENGTH, MAX_QUERY_TERMS
from customers.search.errors import query_error
from customers.search.lexer import Token, tokenize

# Nested parentheses or negations deeper than this are refused rather than recursed into.
MAX_DEPTH = 32


@dataclass(frozen=True)
class Term:
    token: Token


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]


Node = Term | Not | And | Or


class _Parser:
    def __init__(self, tokens: list[Token], length: int) -> None:
        self.tokens = tokens
        self.length = length
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def or_expr(self, depth: int) -> Node:
        operands = [self.and_expr(depth)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            operands.append(self.and_expr(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_expr(self, depth: int) -> Node:
        operands = [self.unary(depth)]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
            operands.append(self.unary(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if token is None:
            raise query_error("a term is missing at the end", self.length)
        if depth > MAX_DEPTH:
            raise query_error(f"nested deeper than {MAX_DEPTH} levels", token.position)
        self.take()
        if token.kind in ("-", "NOT"):
            return Not(self.unary(depth + 1))
        if token.kind == "(":
            inner = self.or_expr(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise query_error("a parenthesis is not closed", token.position)
            self.take()
            return inner
        if token.kind == "TERM":
            return Term(token)
        raise query_error(f"'{token.kind}' cannot stand here", token.position)


def parse(text: str) -> Node | None:
    """The AST of `text`, or None for a query with no terms (every customer)."""
    if len(text) > MAX_QUERY_LENGTH:
        raise query_error(f"at most {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH)
    tokens = tokenize(text)
    terms = [token for token in tokens if token.kind == "TERM"]
    if len(terms) > MAX_QUERY_TERMS:
        raise query_error(f"at most {MAX_QUERY_TERMS} terms", terms[MAX_QUERY_TERMS].position)
    if not tokens:
        return None
    parser = _Parser(tokens, len(text))
    tree = parser.or_expr(0)
    extra = parser.peek()
    if extra is not None:
        raise query_error(f"unexpected '{extra.kind}'", extra.position)
    return tree
