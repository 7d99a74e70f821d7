"""Signing in to the operator console in a browser test: the one place that knows how.

The console signs in with a shared token and the operator's name; when per-operator
accounts replace it, only this module changes.
"""

from __future__ import annotations

from playwright.async_api import Page, expect

CONSOLE_TOKEN = "test-operator-token"   # tests/conftest.py's settings


async def sign_in(page: Page, base_url: str, name: str = "Anna") -> None:
    """Open the console as operator `name` and wait until it is live."""
    await page.goto(base_url + "/operator")
    await page.fill("#login-name", name)
    await page.fill("#login-token", CONSOLE_TOKEN)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#conn.online")).to_have_count(1)
