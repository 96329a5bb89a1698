"""What every console request goes through: who is asking, what they may do, and rendering.

Server-rendered HTML (Jinja2, autoescaped), no script. Every request but the login form and
the health check needs a session (or, for reads, a token in `Authorization: Bearer`); every
POST needs the session's CSRF token; each handler states the role it needs. The store is
synchronous, so its calls run in a thread: a slow database never stalls other requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import jinja2
from aiohttp import web

from alerting.console.auth import Role, Session, Sessions, User, csrf_ok, verify
from alerting.console.config import ConsoleConfig
from alerting.store import Store

log = logging.getLogger("signalfire.console")
COOKIE = "signalfire_session"
TEMPLATES = Path(__file__).parent / "templates"
# (key, value) onto the control topic; a None value lifts the snooze under that key.
Publish = Callable[[str, bytes | None], Awaitable[None]]
T = TypeVar("T")
# /metrics too: rule ids and counts only (alerting.console.metrics), for Prometheus to scrape.
PUBLIC = frozenset({"/login", "/healthz", "/metrics", "/favicon.ico", "/static/console.css"})
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(slots=True)
class Console:
    """What every handler needs, kept on the application."""

    config: ConsoleConfig
    store: Store
    publish: Publish
    sessions: Sessions
    templates: jinja2.Environment
    clock: Callable[[], float]

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def db(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)


CONSOLE = web.AppKey("console", Console)
USER = web.RequestKey("user", User)
SESSION = web.RequestKey("session", Session)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE]


def user_of(request: web.Request) -> User:
    return request[USER]  # set by `authenticate` on every request that is not public


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    console = console_of(request)
    session = request.get(SESSION)
    html = console.templates.get_template(template).render(
        user=request.get(USER),
        csrf=session.csrf if session is not None else "",
        Role=Role,
        **values,
    )
    return web.Response(text=html, status=status, content_type="text/html")


def require(request: web.Request, role: Role) -> User:
    user = user_of(request)
    if not user.can(role):
        raise web.HTTPForbidden(text=f"this needs the {role.name} role")
    return user


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and refusals carry them too
        for name, value in HEADERS.items():
            exc.headers.setdefault(name, value)
        raise
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@web.middleware
async def authenticate(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path in PUBLIC:
        return await handler(request)
    console = console_of(request)
    session = console.sessions.get(request.cookies.get(COOKIE))
    if session is not None:
        request[USER], request[SESSION] = session.user, session
        if request.method == "POST":
            form = await request.post()
            sent = form.get("csrf")
            if not csrf_ok(session, sent if isinstance(sent, str) else None):
                log.warning(
                    "refused a %s without its CSRF token (user %s)", request.path, session.user.name
                )
                raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page")
        return await handler(request)
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer ") and request.method == "GET":
        token = bearer.removeprefix("Bearer ").strip()
        for user in console.config.users.values():
            if user.token_hash is not None and verify(user.token_hash, token):
                request[USER] = user
                return await handler(request)
        raise web.HTTPUnauthorized(text="unknown token")
    if request.method == "GET":
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
    raise web.HTTPUnauthorized(text="log in first")
