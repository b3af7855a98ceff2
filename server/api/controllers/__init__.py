"""One controller per resource of the HTTP API (docs/api.md)."""
