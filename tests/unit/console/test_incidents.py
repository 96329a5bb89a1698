"""The console's incidents over HTTP (aiohttp's test client, a SQLite store holding an attack's
pages as the bridge delivers them): the list and its filters and paging, an incident with its
root, entities and pages, the way from a page to its incident and back, and the console's
security model (login, bearer tokens for reads, headers, escaping) on the new views."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from alerting.console.app import make_app
from alerting.console.config import ConsoleConfig
from alerting.store import Store
from tests.unit.alerting.incident_samples import MIN, correlated, org_page
from tests.unit.alerting.pager_samples import T0
from tests.unit.console.samples import Published, store_with_incidents
from tests.unit.console.test_app import NOW_S, USERS, login, page_ids

Client = TestClient[web.Request, web.Application]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return store_with_incidents(tmp_path, lambda: NOW_S)


@pytest.fixture
async def client(store: Store) -> AsyncIterator[Client]:
    config = ConsoleConfig(store_url="sqlite://", users=USERS)
    app = make_app(config, store, Published(), clock=lambda: NOW_S)
    async with TestClient(TestServer(app)) as client:
        yield client


def incident_ids(text: str) -> list[str]:
    return re.findall(r'<a href="/incidents/(inc_[0-9a-f]{16})">', text)


def rows(text: str) -> list[str]:
    """The incident list's rows, as text."""
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in cells]


async def get(client: Client, url: str) -> str:
    response = await client.get(url)
    assert response.status == 200, await response.text()
    return await response.text()


async def test_the_list_shows_incidents_newest_first_and_filters_them(client: Client) -> None:
    await login(client, "vic")
    text = await get(client, "/incidents")
    assert '<a href="/incidents">Incidents</a>' in text  # in the menu
    assert rows(text) == [
        "2026-11-23 08:05:00 org_id = o2 open 1 org_surge",
        "2026-11-23 08:04:00 ip = 203.0.113.7 open 1 ip_scan",
        "2026-11-23 08:00:00 org_id = o1 resolved 2026-11-23 08:25:00 3 key_burst, org_surge",
    ]
    assert len(incident_ids(await get(client, "/incidents?state=open"))) == 2
    resolved = rows(await get(client, "/incidents?state=resolved"))
    assert len(resolved) == 1 and "org_id = o1" in resolved[0]
    by_org = await get(client, "/incidents?root=org_id")
    assert len(incident_ids(by_org)) == 2
    assert '<option value="org_id" selected>org_id</option>' in by_org  # the roots stored
    assert '<option value="ip" >ip</option>' in by_org
    assert incident_ids(await get(client, "/incidents?root=org_id&state=open")) == [
        incident_ids(text)[0]
    ]
    assert rows(await get(client, "/incidents?root=account_id")) == ["No incidents."]
    refused = await client.get("/incidents?state=burning")
    assert refused.status == 400 and "state: one of open, resolved" in await refused.text()
    assert (await client.get("/incidents?after=yesterday")).status == 400
    assert (await client.get("/incidents?root=" + "x" * 201)).status == 400


async def test_paging_shows_every_incident_once(client: Client, store: Store) -> None:
    for m in correlated(org_page("trigger", T0 + 60 * MIN + n, org=f"o_{n}") for n in range(60)):
        store.record(m)
    await login(client, "vic")
    text = await get(client, "/incidents?state=open")
    first = incident_ids(text)
    more = re.search(r'href="/incidents\?([^"]+)">Older incidents', text)
    assert more and len(first) == 50
    rest = incident_ids(await get(client, "/incidents?" + html.unescape(more[1])))
    assert len(rest) == 12 and not set(first) & set(rest)  # 60 more orgs, o2 and the IP
    assert "state=open" in html.unescape(more[1])  # the filter carries over


async def test_an_incident_shows_its_root_entities_and_pages(client: Client, store: Store) -> None:
    await login(client, "vic")
    [org1] = incident_ids(await get(client, "/incidents?state=resolved"))
    text = await get(client, f"/incidents/{org1}")
    assert "<h1>Incident: org_id = <code>o1</code></h1>" in text
    assert '<dd class="incident-resolved">resolved</dd>' in text
    assert "<dd>2026-11-23 08:00:00 UTC</dd>" in text and "<dd>2026-11-23 08:25:00 UTC</dd>" in text
    assert 'org_id: <a href="/entities/org_id/o1">o1</a>' in text  # the root, a link
    entities = re.findall(
        r'<li>(\w+): <a href="/entities/[^"]+">([^<]+)</a> <small>\(([^)]+)\)', text
    )
    assert entities == [
        ("org_id", "o1", "3 pages"),
        ("account_id", "a1", "1 page, from its events"),
        ("api_key_id", "k1", "1 page"),
        ("api_key_id", "k2", "1 page"),
    ]
    detail = store.incident(org1)
    assert detail is not None
    surge, k1, k2 = (m.page for m in detail.pages)
    assert page_ids(text) == [surge.id, k1.id, k2.id]  # each links to its page
    statuses = re.findall(r'<td class="status">(.*?)</td>', text)
    parent = f'by <a href="/pages/{surge.id}" class="parent">org_surge org_id=o1</a>'
    assert statuses == [
        "page resolved", f"page resolved; absorbed {parent}", f"resolved; absorbed {parent}"
    ]  # fmt: skip
    [ip] = incident_ids(await get(client, "/incidents?root=ip"))
    open_one = await get(client, f"/incidents/{ip}")
    assert '<dd class="incident-open">open</dd>' in open_one
    assert "<dd>not yet: a page still fires</dd>" in open_one
    assert re.findall(r'<td class="status">(.*?)</td>', open_one) == ["opened"]
    assert (await client.get("/incidents/inc_0000000000000000")).status == 404


async def test_a_page_links_to_its_incident_and_names_its_parents(
    client: Client, store: Store
) -> None:
    await login(client, "vic")
    [k2] = [p for p in store.list_pages().pages if p.group_text == "api_key_id=k2"]
    text = await get(client, f"/pages/{k2.id}")
    [org1] = incident_ids(await get(client, "/incidents?state=resolved"))
    assert (
        f'<a href="/incidents/{org1}" class="incident">org_id = o1</a>'
        " <small>(resolved; this page: resolved)</small>"
    ) in text
    assert 'api_key_id: <a href="/entities/api_key_id/k2">k2</a>' in text
    assert 'org_id: <a href="/entities/org_id/o1">o1</a> <small>(named by its events)' in text
    assert 'account_id: <a href="/entities/account_id/a1">a1</a>' in text
    # A page the bridge stored without incidents has none to link.
    [fanout] = store.list_pages(limit=500).pages[-1:]
    assert "/incidents/inc_" not in await get(client, f"/pages/{fanout.id}")


async def test_incidents_are_read_only_for_sessions_and_tokens_alike(client: Client) -> None:
    response = await client.get("/incidents", allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": ["/incidents"]}
    assert response.headers["X-Frame-Options"] == "DENY"
    token = {"Authorization": "Bearer bot-token"}
    listed = await client.get("/incidents", headers=token)
    assert listed.status == 200 and len(incident_ids(await listed.text())) == 3
    assert "default-src 'self'" in listed.headers["Content-Security-Policy"]
    [one, *_] = incident_ids(await listed.text())
    assert (await client.get(f"/incidents/{one}", headers=token)).status == 200
    wrong = await client.get("/incidents", headers={"Authorization": "Bearer bot-pw"})
    assert wrong.status == 401
    posted = await client.post(f"/incidents/{one}", data={}, headers=token)
    assert posted.status == 401  # a token only reads


async def test_a_root_value_is_shown_escaped(client: Client, store: Store) -> None:
    [m] = correlated([org_page("trigger", T0 + 90 * MIN, org="<script>x</script>")])
    store.record(m)
    await login(client, "vic")
    listed = await get(client, "/incidents?state=open")
    assert "<script>" not in listed and "&lt;script&gt;x&lt;/script&gt;" in listed
    [newest, *_] = incident_ids(listed)
    one = await get(client, f"/incidents/{newest}")
    assert "<script>" not in one and "&lt;script&gt;" in one
