"""The service database: connection and migrations, piccolo tables, and the stores over them."""
