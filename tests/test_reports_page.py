"""The manager's reports page in a real browser: the scripted week's figures as numbers,
a chart and four split tables, a CSV download, and no figures without the admin's
credentials. A screenshot goes to var/screenshots/reports.png."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from browser import CHROMIUM, chromium, screenshot
from console_session import sign_in
from playwright.async_api import Browser, expect
from reports_week import seed_week
from stepping_clock import SteppingClock
from web_client import signed_in

from admin.signin import SESSION_COOKIE
from core.db import SessionFactory
from core.models import OperatorRole
from switchboard.app import Gateway

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the browser test needs Debian's chromium at /usr/bin/chromium"
)

WEEK = "2026-11-02..2026-11-08"
NO_SAMPLE = pytest.mark.parametrize("settings", [{"sample_kb": False}], indirect=True)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@NO_SAMPLE
async def test_a_manager_reads_the_week_and_downloads_csv(
    browser: Browser,
    gateway: Gateway,
    served: str,
    sessions: SessionFactory,
    clock: SteppingClock,
    tmp_path: Path,
) -> None:
    await seed_week(sessions)
    clock.now = dt.datetime(2026, 11, 9, 9, 0, tzinfo=dt.UTC)  # Monday 12:00 in Moscow
    context = await browser.new_context(
        locale="ru-RU", viewport={"width": 1400, "height": 1500}, accept_downloads=True
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await sign_in(page, served, gateway, "Manager")  # an admin
    await page.goto(f"{served}/operator/reports?period={WEEK}")
    kpis = page.locator(".kpi")
    await expect(kpis).to_have_count(7, timeout=20000)  # a cold chart and KB clustering
    await expect(kpis.nth(0).locator(".value")).to_have_text("8")  # conversations
    await expect(kpis.nth(3).locator(".value")).to_have_text("60%")  # SLA kept: 3 of 5
    await expect(kpis.nth(4).locator(".value")).to_have_text("4.0")  # CSAT
    await expect(page.locator("#summary li").first).to_contain_text("Обращений: 8")
    for split in ("channel", "category", "group", "operator"):
        await expect(page.locator(f'[data-split="{split}"] tbody tr').first).to_be_visible()
    await expect(page.locator('[data-split="operator"] tbody')).to_contain_text("Ольга")
    categories = page.locator('[data-split="category"] tbody')
    await expect(categories).to_contain_text("Мошенничество")  # the title, not "fraud"
    await expect(categories).not_to_contain_text("fraud")
    assert await page.locator("#chart").evaluate("img => img.naturalWidth") == 1200

    async with page.expect_download() as waiting:
        await page.locator('[data-split="operator"] h2 button').click()
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    with saved.open(encoding="utf-8-sig") as handle:
        rows = {row["operator"]: row for row in csv.DictReader(handle)}
    assert rows["total"]["conversations"] == "8" and "Ольга" in rows
    await page.evaluate("() => window.scrollTo(0, 0)")
    await screenshot(page, "reports")
    assert errors == []
    await context.close()


@NO_SAMPLE
async def test_the_figures_need_an_admins_session(gateway: Gateway, served: str) -> None:
    operator = await signed_in(gateway, "Пётр", role=OperatorRole.OPERATOR)
    admin_session = await signed_in(gateway, "Ольга", role=OperatorRole.ADMIN)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{served}/operator/reports/data?period=week") as denied:
            assert denied.status == 403
        async with http.get(
            f"{served}/operator/reports/csv?period=week",
            headers={"Cookie": f"{SESSION_COOKIE}={operator}"},
        ) as not_admin:
            assert not_admin.status == 403
        admin = {"Cookie": f"{SESSION_COOKIE}={admin_session}"}
        async with http.get(
            f"{served}/operator/reports/data?period=fortnight", headers=admin
        ) as bad:
            assert bad.status == 400 and "fortnight" in (await bad.json())["error"]
        async with http.get(
            f"{served}/operator/reports/csv?period=week&by=planet", headers=admin
        ) as bad_split:
            assert bad_split.status == 400
        async with http.get(f"{served}/operator/reports/data?period=today", headers=admin) as empty:
            data = await empty.json()
            assert empty.status == 200 and data["total"]["conversations"] == 0
