"""The console's pages and actions. Each action is done in the store, which audits it in the
same transaction; a snooze also goes onto the control topic, for the workers."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from alerting.console.auth import Role
from alerting.console.context import COOKIE, SESSION, console_of, render, require, user_of
from alerting.console.forms import (
    FormError,
    incident_filter,
    page_filter,
    snooze_span,
    text_field,
)
from alerting.snooze import Entity, Snooze, encode, snooze_key
from alerting.store import BadCursor, PageFilter, VerdictName
from alerting.store.migrations import VERDICTS
from signalfire.timestamps import iso_ms

log = logging.getLogger("signalfire.console")
PAGE_SIZE = 50
LOGIN_COOKIE = "signalfire_login"  # the login form's CSRF token, before there is a session
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # what secrets.token_urlsafe(32) makes
SEVERITIES = ("critical", "error", "warning", "info")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
    app.router.add_get("/pages", pages)
    app.router.add_get("/pages/{id:\\d+}", page)
    app.router.add_post("/pages/{id:\\d+}/ack", acknowledge)
    app.router.add_post("/pages/{id:\\d+}/verdict", verdict)
    app.router.add_post("/pages/{id:\\d+}/snooze", snooze_group)
    app.router.add_get("/incidents", incidents)
    app.router.add_get("/incidents/{id}", incident)
    app.router.add_get("/entities/{name}/{value}", entity)
    app.router.add_post("/entities/{name}/{value}/snooze", snooze_entity)
    app.router.add_get("/snoozes", snoozes)
    app.router.add_post("/snoozes/{id:\\d+}/lift", lift_snooze)
    app.router.add_get("/audit", audit)
    app.router.add_static("/static", Path(__file__).parent / "static")


def add_filters(env: jinja2.Environment) -> None:
    env.filters["time"] = lambda ms: "" if ms is None else iso_ms(ms).replace("T", " ")[:19]
    env.filters["query"] = lambda values: urlencode({k: v for k, v in values.items() if v})
    env.globals["VERDICTS"] = VERDICTS
    env.globals["SEVERITIES"] = SEVERITIES


async def healthz(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def no_icon(_: web.Request) -> web.Response:
    raise web.HTTPNotFound()


async def home(_: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/pages")


# -- logging in and out ------------------------------------------------------------------------
async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, _next(request.query.get("next")), "", 200)


def _login_page(request: web.Request, target: str, error: str, status: int) -> web.Response:
    """The login form with its token, which the form sends back beside the same value in a
    cookie (double submit): a form posted from another site has no access to either. The
    browser's token is kept while it has one, so a second tab or a request the browser makes
    by itself (a favicon) does not spoil the form already shown."""
    kept = request.cookies.get(LOGIN_COOKIE, "")
    token = kept if _TOKEN.fullmatch(kept) else secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status=status, next=target, error=error, login_csrf=token
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="Strict",
        secure=request.secure or console_of(request).config.secure_cookie, path="/login",
    )  # fmt: skip
    return response


async def login(request: web.Request) -> web.Response:
    console = console_of(request)
    form = await request.post()
    name, secret = form.get("name"), form.get("password")
    target = _next(form.get("next"))
    sent, kept = form.get("csrf"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(sent, str) and kept and hmac.compare_digest(sent, kept)):
        log.warning("refused a login without its CSRF token")
        return _login_page(request, target, "The form expired: log in again.", 403)
    user = console.config.users.get(name) if isinstance(name, str) else None
    if user is None or not isinstance(secret, str) or not user.accepts(secret):
        log.info("failed login")
        return _login_page(request, target, "Wrong name or password.", 401)
    session = console.sessions.open(user)
    await console.db(console.store.audit, user.name, "login", f"user:{user.name}", {})
    response = web.HTTPSeeOther(target)
    response.del_cookie(LOGIN_COOKIE, path="/login")
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="Strict",
        secure=request.secure or console.config.secure_cookie,
        path="/",
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    console = console_of(request)
    session = request[SESSION]
    console.sessions.close(session.id)
    await console.db(
        console.store.audit, session.user.name, "logout", f"user:{session.user.name}", {}
    )
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


def _next(value: object) -> str:
    """Where to go after logging in: a path of this console only, never another site."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//"):
        return value
    return "/pages"


# -- reading -----------------------------------------------------------------------------------
async def pages(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    try:
        where = page_filter(request.query)
        found = await console.db(
            console.store.list_pages, where, limit=PAGE_SIZE, after=request.query.get("after")
        )
    except (FormError, BadCursor) as exc:
        return render(request, "pages.html", status=400, pages=[], next=None,
                      filters=dict(request.query), error=str(exc))  # fmt: skip
    return render(request, "pages.html", pages=found.pages, next=found.next,
                  filters=dict(request.query), error="")  # fmt: skip


async def page(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    detail = await console.db(console.store.page, int(request.match_info["id"]))
    if detail is None:
        raise web.HTTPNotFound(text="no such page")
    return render(request, "page.html", d=detail, message=request.query.get("done", ""))


async def incidents(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    roots = await console.db(console.store.incident_roots)
    try:
        where = incident_filter(request.query)
        found = await console.db(
            console.store.list_incidents, where, limit=PAGE_SIZE, after=request.query.get("after")
        )
    except (FormError, BadCursor) as exc:
        return render(request, "incidents.html", status=400, incidents=[], next=None,
                      roots=roots, filters=dict(request.query), error=str(exc))  # fmt: skip
    return render(request, "incidents.html", incidents=found.incidents, next=found.next,
                  roots=roots, filters=dict(request.query), error="")  # fmt: skip


async def incident(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    detail = await console.db(console.store.incident, request.match_info["id"])
    if detail is None:
        raise web.HTTPNotFound(text="no such incident")
    return render(request, "incident.html", d=detail)


async def entity(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    name, value = request.match_info["name"], request.match_info["value"]
    try:
        found = await console.db(
            console.store.list_pages,
            PageFilter(entity=value, entity_name=name),
            limit=PAGE_SIZE,
            after=request.query.get("after"),
        )
    except BadCursor as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    return render(request, "entity.html", name=name, value=value, pages=found.pages,
                  next=found.next, message=request.query.get("done", ""))  # fmt: skip


async def snoozes(request: web.Request) -> web.Response:
    require(request, Role.viewer)
    console = console_of(request)
    active = await console.db(console.store.snoozes)
    return render(request, "snoozes.html", snoozes=active, message=request.query.get("done", ""))


async def audit(request: web.Request) -> web.Response:
    require(request, Role.admin)
    console = console_of(request)
    before = request.query.get("before")
    entries = await console.db(
        console.store.audit_log,
        limit=100,
        before_id=int(before) if before and before.isdigit() else None,
    )
    return render(request, "audit.html", entries=entries)


# -- acting ------------------------------------------------------------------------------------
async def acknowledge(request: web.Request) -> web.Response:
    user = require(request, Role.investigator)
    console = console_of(request)
    page_id = int(request.match_info["id"])
    form = await request.post()
    await _on_page(
        console.db(console.store.acknowledge, page_id, user.name, text_field(form, "note"))
    )
    raise web.HTTPSeeOther(f"/pages/{page_id}?done=acknowledged")


async def verdict(request: web.Request) -> web.Response:
    user = require(request, Role.investigator)
    console = console_of(request)
    page_id = int(request.match_info["id"])
    form = await request.post()
    given = form.get("verdict")
    if given not in VERDICTS:
        raise web.HTTPBadRequest(text=f"verdict: one of {', '.join(VERDICTS)}")
    name: VerdictName = given  # type: ignore[assignment]  # checked against VERDICTS above
    await _on_page(
        console.db(console.store.verdict, page_id, name, user.name, text_field(form, "note"))
    )
    raise web.HTTPSeeOther(f"/pages/{page_id}?done=verdict")


async def snooze_group(request: web.Request) -> web.Response:
    user = require(request, Role.investigator)
    console = console_of(request)
    page_id = int(request.match_info["id"])
    detail = await console.db(console.store.page, page_id)
    if detail is None:
        raise web.HTTPNotFound(text="no such page")
    form = await request.post()
    until, reason = _snooze_form(request, form)
    p = detail.page
    snooze = Snooze(
        until, reason, user.name, console.now_ms(), dedup_key=p.dedup_key, rule_id=p.rule_id
    )
    await console.publish(snooze.key, encode(snooze))
    await console.db(console.store.snooze, until_ms=until, reason=reason, who=user.name,
                     rule_id=p.rule_id, dedup_key=p.dedup_key)  # fmt: skip
    raise web.HTTPSeeOther(f"/pages/{page_id}?done=snoozed")


async def snooze_entity(request: web.Request) -> web.Response:
    user = require(request, Role.investigator)
    console = console_of(request)
    name, value = request.match_info["name"], request.match_info["value"]
    form = await request.post()
    until, reason = _snooze_form(request, form)
    snooze = Snooze(until, reason, user.name, console.now_ms(), entity=Entity(name, value))
    assert snooze.key == snooze_key(None, Entity(name, value))
    await console.publish(snooze.key, encode(snooze))
    await console.db(console.store.snooze, until_ms=until, reason=reason, who=user.name,
                     entity_name=name, entity_value=value)  # fmt: skip
    raise web.HTTPSeeOther(f"/entities/{name}/{value}?done=snoozed")


async def lift_snooze(request: web.Request) -> web.Response:
    """End a snooze now: a tombstone on the control topic (the workers page again), and the
    store's record of it ended."""
    user = require(request, Role.investigator)
    console = console_of(request)
    snooze_id = int(request.match_info["id"])
    try:
        lifted = await console.db(console.store.lift_snooze, snooze_id, user.name)
    except KeyError:
        raise web.HTTPNotFound(text="no such snooze") from None
    entity = None
    if lifted.entity_value is not None:
        entity = Entity(lifted.entity_name or "", lifted.entity_value)
    await console.publish(snooze_key(None if entity else lifted.dedup_key, entity), None)
    raise web.HTTPSeeOther("/snoozes?done=lifted")


def _snooze_form(request: web.Request, form: Any) -> tuple[int, str]:
    console = console_of(request)
    try:
        span = snooze_span(form.get("for"), console.config.max_snooze_ms)
    except FormError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    reason = text_field(form, "reason")
    if not reason:
        raise web.HTTPBadRequest(text="reason: say why (it is shown to on-call and audited)")
    return console.now_ms() + span, reason


async def _on_page(call: Any) -> Any:
    try:
        return await call
    except KeyError:
        raise web.HTTPNotFound(text="no such page") from None


__all__ = ["add_filters", "add_routes", "user_of"]
