"""The console over HTTP (aiohttp's test client, a SQLite store): logging in, the page list and
its filters, a page's detail and entity links, acknowledgements, verdicts, snoozes onto the
control topic, roles, CSRF and the audit log."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from alerting.console.app import make_app
from alerting.console.auth import Role, User, hash_password, hash_token
from alerting.console.config import ConsoleConfig
from alerting.pager import held_by_snooze
from alerting.snooze import decode
from alerting.store import Store
from tests.unit.alerting.pager_samples import T0, fanout, message
from tests.unit.console.samples import Published, store_with_pages

USERS = {
    "ivy": User("ivy", Role.investigator, hash_password("ivy-pw")),
    "vic": User("vic", Role.viewer, hash_password("vic-pw")),
    "ada": User("ada", Role.admin, hash_password("ada-pw")),
    "bot": User("bot", Role.viewer, hash_password("bot-pw"), hash_token("bot-token")),
}
NOW_S = T0 / 1000 + 3600
Client = TestClient[web.Request, web.Application]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return store_with_pages(tmp_path, lambda: NOW_S)


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
async def client(store: Store, published: Published) -> AsyncIterator[Client]:
    config = ConsoleConfig(store_url="sqlite://", users=USERS)
    app = make_app(config, store, published, clock=lambda: NOW_S)
    async with TestClient(TestServer(app)) as client:
        yield client


async def login_form(client: Client, **fields: str) -> ClientResponse:
    """Fill in the login form as a browser does: with the token the form came with."""
    token = csrf_of(await (await client.get("/login")).text())
    return await client.post(
        "/login", data={"csrf": token, **fields}, allow_redirects=fields.get("next") is None
    )


async def login(client: Client, name: str) -> str:
    """Log in; the CSRF token of the session, as its forms carry it."""
    response = await login_form(client, name=name, password=f"{name}-pw")
    assert response.status == 200, await response.text()
    return csrf_of(await response.text())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "a logged-in page carries the CSRF token in its forms"
    return found[1]


def page_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/pages/(\d+)">', html)]


async def test_anonymous_requests_go_to_the_login_form(
    client: Client,
) -> None:
    response = await client.get("/pages?rule=x", allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": ["/pages?rule=x"]}
    assert (await client.post("/pages/1/ack", data={})).status == 401
    assert (await client.get("/healthz")).status == 200


async def test_a_wrong_password_is_refused_and_a_right_one_opens_a_session(
    client: Client,
) -> None:
    response = await login_form(client, name="ivy", password="nope")
    assert response.status == 401
    assert "Wrong name or password." in await response.text()
    response = await login_form(client, name="ivy", password="ivy-pw", next="/snoozes")
    assert response.status == 303 and response.headers["Location"] == "/snoozes"
    cookie = response.cookies["signalfire_session"].OutputString()
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP, and the config does not ask for it


async def test_a_login_without_its_form_token_is_refused(client: Client) -> None:
    for data in (
        {"name": "ivy", "password": "ivy-pw"},  # no token at all
        {"name": "ivy", "password": "ivy-pw", "csrf": "forged"},  # not the cookie's
    ):
        response = await client.post("/login", data=data, allow_redirects=False)
        assert response.status == 403
        assert "signalfire_session" not in response.cookies


async def test_login_never_redirects_to_another_site(
    client: Client,
) -> None:
    response = await login_form(client, name="ivy", password="ivy-pw", next="//evil.example/")
    assert response.headers["Location"] == "/pages"


async def test_the_list_filters_and_pages_through(client: Client, store: Store) -> None:
    await login(client, "vic")
    html = await (await client.get("/pages")).text()
    assert len(page_ids(html)) == 3  # k_1's episode, k_2's, the fanout
    html = await (await client.get("/pages?state=triggered")).text()
    assert len(page_ids(html)) == 2
    html = await (await client.get("/pages?rule=ip_account_fanout")).text()
    assert len(page_ids(html)) == 1 and "ip_account_fanout" in html
    html = await (await client.get("/pages?entity=k_2")).text()
    assert len(page_ids(html)) == 1
    since = "2026-11-23T08:02:00"  # T0 is 2026-11-23T08:00Z
    html = await (await client.get(f"/pages?since={since}")).text()
    assert len(page_ids(html)) == 2
    response = await client.get("/pages?state=burning")
    assert response.status == 400 and "state: one of triggered, resolved" in await response.text()


async def test_shadow_pages_are_apart_and_snoozed_ones_marked(client: Client, store: Store) -> None:
    details = fanout(ip="198.51.100.1").payload.custom_details
    rule = dataclasses.replace(details.rule, mode="shadow")
    page = fanout(ip="198.51.100.1")
    page = dataclasses.replace(
        page,
        payload=dataclasses.replace(
            page.payload, custom_details=dataclasses.replace(details, rule=rule)
        ),
    )
    store.record(page)
    store.record(
        held_by_snooze(message(key="k_9", at=T0 + 240_000), "snooze/x", "2026-11-24T00:00:00.000Z")
    )
    await login(client, "vic")
    html = await (await client.get("/pages")).text()
    assert len(page_ids(html)) == 4  # the three paged and the snoozed one; no shadow page
    assert '<span class="held held-snoozed">snoozed</span>' in html
    shadow = await (await client.get("/pages?delivery=shadow")).text()
    assert len(page_ids(shadow)) == 1 and "Shadow rules' pages" in shadow
    assert len(page_ids(await (await client.get("/pages?delivery=all")).text())) == 5
    [snoozed] = page_ids(await (await client.get("/pages?delivery=snoozed")).text())
    detail = await (await client.get(f"/pages/{snoozed}")).text()
    assert "kept from on-call by a snooze until 2026-11-24T00:00:00.000Z" in detail
    assert (await client.get("/pages?delivery=hidden")).status == 400


async def test_paging_shows_every_page_once(client: Client, store: Store) -> None:
    for n in range(60):
        store.record(message("trigger", key=f"k_many_{n}", at=T0 + 300_000 + n))
    await login(client, "vic")
    html = await (await client.get("/pages")).text()
    first = page_ids(html)
    more = re.search(r'href="/pages\?([^"]+)">Older pages', html)
    assert more and len(first) == 50
    rest = page_ids(await (await client.get("/pages?" + more[1].replace("&amp;", "&"))).text())
    assert len(rest) == 13 and not set(first) & set(rest)


async def test_a_page_shows_its_evidence_episode_and_entity_links(
    client: Client,
) -> None:
    await login(client, "vic")
    [page_id] = page_ids(await (await client.get("/pages?entity=k_1")).text())
    html = await (await client.get(f"/pages/{page_id}")).text()
    assert "<strong>trigger</strong>" in html and "<strong>resolve</strong>" in html
    assert 'href="/entities/api_key_id/k_1"' in html
    entity = await (await client.get("/entities/api_key_id/k_1")).text()
    assert page_ids(entity) == [page_id]
    assert (await client.get("/pages/9999")).status == 404


async def test_an_investigator_acknowledges_gives_a_verdict_and_it_is_audited(
    client: Client, store: Store
) -> None:
    csrf = await login(client, "ivy")
    [page_id] = page_ids(await (await client.get("/pages?entity=k_2")).text())
    response = await client.post(f"/pages/{page_id}/ack", data={"csrf": csrf})
    assert response.status == 200
    response = await client.post(
        f"/pages/{page_id}/verdict",
        data={"csrf": csrf, "verdict": "false_positive", "note": "load test"},
    )
    assert "false positive by ivy" in await response.text()
    detail = store.page(page_id)
    assert detail is not None and detail.acknowledgement is not None
    assert [v.verdict for v in detail.verdicts] == ["false_positive"]
    actions = [(e.who, e.action) for e in store.audit_log()]
    assert actions[:3] == [("ivy", "verdict"), ("ivy", "acknowledge"), ("ivy", "login")]


async def test_a_viewer_cannot_act(client: Client, store: Store) -> None:
    csrf = await login(client, "vic")
    [page_id] = page_ids(await (await client.get("/pages?entity=k_2")).text())
    response = await client.post(
        f"/pages/{page_id}/verdict", data={"csrf": csrf, "verdict": "benign"}
    )
    assert response.status == 403
    assert (await client.get("/audit")).status == 403
    detail = store.page(page_id)
    assert detail is not None and detail.verdicts == ()


async def test_a_form_without_its_csrf_token_is_refused(client: Client, store: Store) -> None:
    await login(client, "ivy")
    [page_id] = page_ids(await (await client.get("/pages?entity=k_2")).text())
    for data in ({}, {"csrf": "forged"}):
        response = await client.post(
            f"/pages/{page_id}/verdict", data={**data, "verdict": "benign"}
        )
        assert response.status == 403
    detail = store.page(page_id)
    assert detail is not None and detail.verdicts == ()


async def test_a_group_snooze_goes_onto_the_control_topic_and_into_the_store(
    client: Client, store: Store, published: Published
) -> None:
    csrf = await login(client, "ivy")
    [page_id] = page_ids(await (await client.get("/pages?entity=k_2")).text())
    response = await client.post(
        f"/pages/{page_id}/snooze", data={"csrf": csrf, "for": "2h", "reason": "known test"}
    )
    assert response.status == 200
    [(key, value)] = published
    assert value is not None
    snooze = decode(value)
    detail = store.page(page_id)
    assert detail is not None and snooze.dedup_key == detail.page.dedup_key
    assert key == snooze.key and snooze.by == "ivy" and snooze.reason == "known test"
    assert snooze.until_ms == int(NOW_S * 1000) + 7_200_000
    [stored] = store.snoozes()
    assert stored.dedup_key == detail.page.dedup_key and stored.until_at == snooze.until_ms
    html = await (await client.get("/snoozes")).text()
    assert "known test" in html
    lift = re.search(r'action="(/snoozes/\d+/lift)"', html)
    assert lift is not None
    response = await client.post(lift[1], data={"csrf": csrf})
    assert response.status == 200 and "lifted" in await response.text()
    assert published[-1] == (snooze.key, None)  # a tombstone: the workers page again
    assert store.snoozes() == []
    assert store.audit_log()[0].action == "lift snooze"


async def test_an_entity_snooze_and_its_limits(
    client: Client, store: Store, published: Published
) -> None:
    csrf = await login(client, "ivy")
    url = "/entities/ip/203.0.113.50/snooze"
    response = await client.post(url, data={"csrf": csrf, "for": "400d", "reason": "x"})
    assert response.status == 400 and "at most 30d" in await response.text()
    response = await client.post(url, data={"csrf": csrf, "for": "1h", "reason": ""})
    assert response.status == 400
    assert published == []
    response = await client.post(url, data={"csrf": csrf, "for": "1h", "reason": "scanner"})
    assert response.status == 200
    [(_, value)] = published
    assert value is not None
    entity = decode(value).entity
    assert entity is not None and (entity.field, entity.value) == ("ip", "203.0.113.50")
    [stored] = store.snoozes()
    await client.post(f"/snoozes/{stored.id}/lift", data={"csrf": csrf})
    assert published[-1] == (decode(value).key, None)


async def test_an_admin_reads_the_audit_log_and_logging_out_ends_the_session(
    client: Client,
) -> None:
    csrf = await login(client, "ada")
    html = await (await client.get("/audit")).text()
    assert "login" in html and "ada" in html
    response = await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/pages", allow_redirects=False)).status == 303


async def test_every_response_carries_the_security_headers(
    client: Client,
) -> None:
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_token_reads_and_a_password_is_no_token(client: Client) -> None:
    pages = await client.get("/pages", headers={"Authorization": "Bearer bot-token"})
    assert pages.status == 200 and len(page_ids(await pages.text())) == 3
    refused = await client.get("/pages", headers={"Authorization": "Bearer bot-pw"})
    assert refused.status == 401
    posted = await client.post(
        "/pages/1/ack", data={}, headers={"Authorization": "Bearer bot-token"}
    )
    assert posted.status == 401  # a token reads; acting needs a session and its CSRF token


async def test_redirects_and_refusals_carry_the_security_headers(client: Client) -> None:
    response = await client.get("/pages", allow_redirects=False)
    assert response.status == 303 and response.headers["X-Frame-Options"] == "DENY"
    refused = await client.post("/pages/1/ack", data={})
    assert refused.status == 401 and refused.headers["X-Content-Type-Options"] == "nosniff"
