"""Signing in to the operator console in a browser test: the one place that knows how.

An operator account is made (an admin unless told) and its console session cookie is
given to the browser, as the sign-in form would; the sign-in form itself is tested in
tests/test_browser.py and tests/test_operator_signin.py.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Page, expect
from web_client import signed_in

from admin.signin import COOKIE_PATH, SESSION_COOKIE
from core.models import OperatorRole
from switchboard.app import Gateway


async def sign_in(
    page: Page,
    base_url: str,
    gateway: Gateway,
    name: str = "Anna",
    *,
    role: OperatorRole = OperatorRole.ADMIN,
) -> None:
    """Open the console as operator `name` and wait until it is live."""
    token = await signed_in(gateway, name, role=role)
    host = urlsplit(base_url).hostname or "127.0.0.1"
    await page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": token,
                "domain": host,
                "path": COOKIE_PATH,
                "httpOnly": True,
                "sameSite": "Strict",
            }
        ]
    )
    await page.goto(base_url + "/operator")
    await expect(page.locator("#conn.online")).to_have_count(1)
