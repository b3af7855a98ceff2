"""The merchant console: server-rendered pages under /console on the service's own app.

`Console` is built once by the app factory (`server.app.create_app`), which adds
`console.route_handlers()`, `console.template_config()` and `console.stores()` to
the Litestar app. Pages are Jinja templates in `templates/console/`, assets in
`static/` (both ship inside the package). A section is one controller in
`controllers/`, its templates, and one `NavItem` in `pages.NAV`.
"""

from __future__ import annotations

from server.console.app import Console

__all__ = ["Console"]
