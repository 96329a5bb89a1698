"""The console's web application, assembled: templates, middleware, routes.

See alerting/console/context.py for what every request goes through and
alerting/console/views.py for the pages and actions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jinja2
from aiohttp import web

from alerting.console import views
from alerting.console.auth import Sessions
from alerting.console.config import ConsoleConfig
from alerting.console.context import (
    CONSOLE,
    TEMPLATES,
    Console,
    Publish,
    authenticate,
    security_headers,
)
from alerting.console.metrics import add_metrics_route
from alerting.store import Store


def make_app(
    config: ConsoleConfig,
    store: Store,
    publish: Publish,
    *,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    views.add_filters(templates)
    app = web.Application(middlewares=[security_headers, authenticate])
    sessions = Sessions(config.session_ttl_s, clock)
    app[CONSOLE] = Console(config, store, publish, sessions, templates, clock)
    views.add_routes(app)
    add_metrics_route(app)
    return app
