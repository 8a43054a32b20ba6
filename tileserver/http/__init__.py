"""The HTTP edge: the app factory (``app.create_app``), the routers, the request dependencies,
the ASGI middleware (tile cache, admission) and the tile cache's freshness checks.

The rule of the house: only this package reads a request, its headers, ``app.state`` or an
ASGI scope. Everything else in ``tileserver`` takes plain arguments (settings, a catalog, a
record, a ``Forget`` callable) and is called from here, from the command line and from jobs
alike.
"""
