"""Piccolo migrations of the service database, applied in file-name order.

Each module has the shape piccolo writes (`ID`, `VERSION`, `DESCRIPTION` and
`async def forwards() -> MigrationManager`); `server.db.connection.migrate` runs the
ones not yet recorded in `channel_router_migration`.
"""
