"""One controller per console section."""
