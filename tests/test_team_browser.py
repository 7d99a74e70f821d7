"""The team page in a real browser: an admin invites an operator and sees the one-time
invite link and the admin bot's code, the new operator in the list and the invite in the
audit log; the link opens the password form. A screenshot goes to var/screenshots/team.png."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from browser import CHROMIUM, chromium, screenshot
from console_session import sign_in
from playwright.async_api import Browser, expect

from core.models import OperatorRole
from switchboard.app import Gateway

pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="the browser test needs Debian's chromium at /usr/bin/chromium",
    ),
    pytest.mark.parametrize("settings", [{"sample_kb": False}], indirect=True),
]


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_an_admin_invites_an_operator_and_sees_the_link(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    context = await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, served, gateway, "Ольга", role=OperatorRole.ADMIN)
    await page.goto(f"{served}/operator")
    await expect(page.locator("#team-link")).to_be_visible()  # the console leads an admin there
    await page.goto(f"{served}/operator/team")
    await expect(page.locator("#operators tbody tr")).to_have_count(1)
    await expect(page.locator("#operators")).to_contain_text("Ольга")

    invite = page.locator("#invite")
    await invite.locator('[name="name"]').fill("Вера Иванова")
    await invite.locator('[name="login"]').fill("vera")
    await invite.locator('[name="capacity"]').fill("4")
    await invite.locator("#invite-groups label", has_text="loans").locator("input").check()
    await invite.locator('button[type="submit"]').click()

    await expect(page.locator("#issued")).to_be_visible()
    await expect(page.locator("#issued-title")).to_contain_text("Вера Иванова")
    await expect(page.locator("#issued-link")).to_have_value(
        re.compile(re.escape(gateway.settings.base_url) + r"/operator/invite/[\w-]{20,}$")
    )
    await expect(page.locator("#issued-code")).to_contain_text("/start ")
    row = page.locator("#operators tbody tr", has_text="Вера Иванова")
    await expect(row).to_contain_text("vera")
    await expect(row).to_contain_text("loans, support")
    invited = page.locator("#audit tbody tr").first
    await expect(invited).to_contain_text("приглашение")
    await expect(invited).to_contain_text("через: консоль")  # the details in Russian too
    vera = await gateway.accounts.by_login("vera")
    assert (vera.name, vera.capacity, vera.group_names) == ("Вера Иванова", 4, ["loans", "support"])
    await screenshot(page, "team")

    link = await page.locator("#issued-link").input_value()
    await page.goto(served + urlsplit(link).path)
    await expect(page.locator('input[name="password"]')).to_be_visible()
    await expect(page.locator("form")).to_contain_text("Вера Иванова")
    assert errors == []
    await context.close()
