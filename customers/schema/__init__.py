"""OpenAPI documentation of the customer endpoints (drf-spectacular), in three modules:
`serializers` describes the bodies, `parameters` the path, header and query parameters, and
`operations` holds the decorator of each endpoint that customers.api applies."""
