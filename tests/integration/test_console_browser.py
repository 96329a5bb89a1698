"""The console in a real browser: Debian's Chromium driven by Playwright against the console
served on loopback with a SQLite page store.

An investigator logs in, filters the list, opens a page, gives a verdict and snoozes its group;
an admin reads the audit log; a viewer cannot give a verdict; a form without its CSRF token is
refused; an investigator walks an attack's incident: from the list to the incident, to one of
its pages and back, and to the page that absorbed it. With SIGNALFIRE_SCREENSHOTS=DIR the tests
save the screenshots docs/triage.md shows.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright, expect

from alerting.console.app import make_app
from alerting.console.auth import Role, User, hash_password
from alerting.console.config import ConsoleConfig
from alerting.snooze import decode
from alerting.store import Store
from tests.unit.alerting.incident_samples import attack
from tests.unit.alerting.pager_samples import T0
from tests.unit.console.samples import Published, store_with_pages

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
# No background traffic: this machine's network is closed, and Chromium would retry forever.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
USERS = {
    "ivy": User("ivy", Role.investigator, hash_password("ivy-password")),
    "vic": User("vic", Role.viewer, hash_password("vic-password")),
    "ada": User("ada", Role.admin, hash_password("ada-password")),
}
NOW_S = T0 / 1000 + 3600


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return store_with_pages(tmp_path, lambda: NOW_S)


@pytest.fixture
async def console(store: Store) -> AsyncIterator[tuple[str, Published]]:
    published = Published()
    app = make_app(ConsoleConfig("sqlite://", USERS), store, published, clock=lambda: NOW_S)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", published
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium package: `make tools` installs it"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def log_in(browser: Browser, base: str, name: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.goto(f"{base}/pages")
    await expect(page).to_have_url(f"{base}/login?next=/pages")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password or token").fill(f"{name}-password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{base}/pages")
    return page


async def shot(page: Page, name: str) -> None:
    folder = os.environ.get("SIGNALFIRE_SCREENSHOTS")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


async def test_triage_in_the_browser(
    console: tuple[str, Published], browser: Browser, store: Store
) -> None:
    base, published = console
    page = await log_in(browser, base, "ivy")
    rows = page.locator("table.pages tbody tr")
    await expect(rows).to_have_count(3)
    await shot(page, "pages")

    await page.get_by_label("Entity value").fill("k_2")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(1)
    await page.get_by_label("State").select_option("resolved")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_text(["No pages."])
    await page.get_by_label("State").select_option("")
    await page.get_by_role("button", name="Filter").click()
    await rows.first.get_by_role("link").click()

    await expect(page.get_by_role("heading", name="Evidence")).to_be_visible()
    await expect(page.locator("ol.episode li")).to_have_count(1)
    await expect(page.get_by_role("link", name="k_2")).to_have_attribute(
        "href", "/entities/api_key_id/k_2"
    )
    await shot(page, "page")
    await page.get_by_role("button", name="Acknowledge").click()
    await page.get_by_label("Verdict").select_option("confirmed_abuse")
    await page.get_by_label("Note").fill("key sold on a forum")
    await page.get_by_role("button", name="Give verdict").click()
    await expect(page.locator("dl.facts").first).to_contain_text("confirmed abuse by ivy")

    await page.get_by_label("Reason").fill("customer confirmed a load test")
    await page.get_by_label("Snooze this group for").fill("2h")
    await page.get_by_role("button", name="Snooze group").click()
    await expect(page.get_by_role("status")).to_have_text("snoozed")
    [(_, value)] = published
    assert value is not None and decode(value).reason == "customer confirmed a load test"
    await page.get_by_role("link", name="Snoozes").click()
    await expect(page.locator("table.snoozes tbody tr")).to_contain_text(["load test"])

    await page.goto(f"{base}/entities/api_key_id/k_2")  # every page of the key
    await expect(page.locator("table.pages tbody tr")).to_have_count(1)
    await shot(page, "entity")
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{base}/login")

    admin = await log_in(browser, base, "ada")
    await admin.get_by_role("link", name="Audit log").click()
    entries = admin.locator("table.audit tbody tr")
    await expect(entries.nth(0)).to_contain_text("login")
    actions = await entries.locator("td:nth-child(3)").all_text_contents()
    assert actions[:6] == ["login", "logout", "snooze", "verdict", "acknowledge", "login"]
    await shot(admin, "audit")
    [detail] = [store.page(p.id) for p in store.list_pages().pages if "k_2" in p.group_text]
    assert detail is not None and [v.verdict for v in detail.verdicts] == ["confirmed_abuse"]


async def test_a_viewer_cannot_give_a_verdict_and_a_form_without_its_token_is_refused(
    console: tuple[str, Published], browser: Browser, store: Store
) -> None:
    base, _ = console
    viewer = await log_in(browser, base, "vic")
    await viewer.locator("table.pages tbody tr a").first.click()
    await expect(viewer.get_by_role("heading", name="Evidence")).to_be_visible()
    await expect(viewer.get_by_role("button", name="Give verdict")).to_have_count(0)
    page_id = viewer.url.rsplit("/", 1)[1]
    csrf = await viewer.locator('input[name="csrf"]').first.get_attribute("value")
    response = await viewer.request.post(
        f"{base}/pages/{page_id}/verdict", form={"csrf": csrf or "", "verdict": "benign"}
    )
    assert response.status == 403

    investigator = await log_in(browser, base, "ivy")
    await investigator.goto(f"{base}/pages/{page_id}")
    # A forged form: the page's own verdict form with its CSRF token taken out.
    await investigator.locator('form.verdict input[name="csrf"]').evaluate("el => el.remove()")
    await investigator.get_by_role("button", name="Give verdict").click()
    await expect(investigator.locator("body")).to_contain_text("missing or wrong CSRF token")
    detail = store.page(int(page_id))
    assert detail is not None and detail.verdicts == ()
    assert [e.action for e in store.audit_log()] == ["login", "login"]


async def test_an_incident_in_the_browser(
    console: tuple[str, Published], browser: Browser, store: Store
) -> None:
    for message in attack():  # org o1's incident (resolved), an IP's and org o2's (open)
        store.record(message)
    base, _ = console
    page = await log_in(browser, base, "ivy")
    await page.get_by_role("link", name="Incidents").click()
    await expect(page).to_have_url(f"{base}/incidents")
    rows = page.locator("table.incidents tbody tr")
    await expect(rows).to_have_count(3)
    await expect(rows.nth(2)).to_contain_text("key_burst, org_surge")
    await shot(page, "incidents")

    await page.get_by_label("State").select_option("open")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(2)
    await page.get_by_label("State").select_option("resolved")
    await page.get_by_label("Root").select_option("org_id")
    await page.get_by_role("button", name="Filter").click()
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link").click()

    await expect(page.get_by_role("heading", name="Incident: org_id = o1")).to_be_visible()
    incident_url = page.url
    facts = page.locator("dl.facts")
    await expect(facts).to_contain_text("resolved")
    await expect(facts).to_contain_text("2026-11-23 08:25:00 UTC")
    entities = page.locator("ul.entities li")
    await expect(entities).to_have_text(
        [
            "org_id: o1 (3 pages)",
            "account_id: a1 (1 page, from its events)",
            "api_key_id: k1 (1 page)",
            "api_key_id: k2 (1 page)",
        ]
    )
    members = page.locator("table.incident-pages tbody tr")
    await expect(members).to_have_count(3)
    await expect(members.locator("td.status")).to_have_text(
        [
            "page resolved",
            "page resolved; absorbed by org_surge org_id=o1",
            "resolved; absorbed by org_surge org_id=o1",
        ]
    )
    await shot(page, "incident")

    await members.filter(has_text="api_key_id=k2").get_by_role("link").first.click()
    await expect(page.get_by_role("heading", name="Evidence")).to_be_visible()
    await expect(page.locator("ul.entities")).to_contain_text("org_id: o1 (named by its events)")
    await page.get_by_role("link", name="org_id = o1").click()
    await expect(page).to_have_url(incident_url)

    await (
        members.filter(has_text="api_key_id=k1")
        .get_by_role("link", name="org_surge org_id=o1")
        .click()
    )
    await expect(page.locator("dl.facts").first).to_contain_text("org_id=o1")
    await expect(page.get_by_role("link", name="org_id = o1")).to_have_attribute(
        "href", incident_url.removeprefix(base)
    )
