"""OPTIONS answers every method of a path, not only the first handler's.

Litestar 2 builds a path's route again each time a handler is added to it, and
keeps the OPTIONS handler made for the first build; that handler reads the
methods of the route it was made for, so `Allow` lists only the first handler's
methods (litestar-org/litestar#4169, fixed in Litestar 3). `fix_allow` points
each such handler at the route the app really serves.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def fix_allow(app: Litestar) -> None:
    """Make every generated OPTIONS handler of `app` answer its final route's methods."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or "OPTIONS" not in route.route_handler_map:
            continue
        handler, _ = route.route_handler_map["OPTIONS"]
        for cell in getattr(handler.fn, "__closure__", None) or ():
            if isinstance(cell.cell_contents, HTTPRoute) and cell.cell_contents is not route:
                cell.cell_contents = route
