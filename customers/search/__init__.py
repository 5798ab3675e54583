"""GET /api/customers/search: Shopify's customer query language, read into one Django Q.

lexer.py splits the query into tokens (each with its character position), parser.py builds an AST
of And/Or/Not/Term, compiler.py turns it into a Q over the store's customers. Every error is
`400 InvalidField` on `query`, its message naming the character where the problem is.
"""

from customers.search.compiler import search_condition

__all__ = ["search_condition"]
