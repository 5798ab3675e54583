"""OpenAPI documentation of the customer endpoints (drf-spectacular): `fields` holds the field types
and patterns, `serializers` describes the responses, `inputs` the request bodies, `parameters` the
path, header and query parameters, and `operations` the decorator of each endpoint that
customers.api applies."""
