"""The HTTP API: controllers (one per resource), request/response types, problem+json."""
