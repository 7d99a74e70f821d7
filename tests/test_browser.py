"""A real browser (Debian's chromium driven by Playwright) on the web chat and the console:
type a question, see the KB answer; reload, the conversation is still there; an operator
takes it in the console and answers; the visitor sees the operator's message."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from browser import CHROMIUM, PNG, chromium
from playwright.async_api import Browser, FilePayload, Response, expect

from admin.accounts.links import LinkPurpose
from core.models import OperatorRole
from switchboard.app import Gateway

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the browser test needs Debian's chromium at /usr/bin/chromium"
)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def test_a_visitor_asks_and_an_operator_answers_in_real_browsers(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    errors: list[str] = []
    visitor = await (await browser.new_context(locale="ru-RU")).new_page()
    visitor.on("pageerror", lambda error: errors.append(str(error)))
    await visitor.goto(served + "/")
    await expect(visitor.locator("#status-text")).to_have_text("На связи")

    await visitor.fill("#input", "Я потерял карту, что делать?")
    await visitor.press("#input", "Enter")
    article = gateway.knowledge.index.article("card-lost")
    assert article is not None
    answer = visitor.locator(".row.bot .bubble").first
    await expect(answer).to_contain_text(article.answer.splitlines()[0])
    await expect(visitor.locator(".row.client.pending")).to_have_count(0)  # acknowledged

    await visitor.reload()
    first = visitor.locator(".row.client .bubble").first
    await expect(first).to_have_text("Я потерял карту, что делать?")
    await expect(visitor.locator(".row.bot")).to_have_count(1)

    await visitor.click("#human")  # "talk to a person"
    await expect(visitor.locator(".row.bot").last).to_contain_text("очеред")

    console = await (await browser.new_context(locale="en-US")).new_page()
    console.on("pageerror", lambda error: errors.append(str(error)))
    await gateway.accounts.save("Anna", groups=list(gateway.levels.groups))
    await gateway.accounts.set_password("anna", "correct horse battery")
    await console.goto(served + "/operator")
    await console.fill("#login-name", "Anna")
    await console.fill("#login-password", "wrong password!")
    await console.click("#login button[type=submit]")
    await expect(console.locator("#login-error")).to_have_text("Wrong login or password.")
    await console.fill("#login-password", "correct horse battery")
    await console.click("#login button[type=submit]")
    await expect(console.locator("#queue-rows tr")).to_have_count(1)
    await console.click("#queue-rows tr button")
    await expect(console.locator(".status-pill")).to_have_text("assigned")
    await expect(visitor.locator("#typing")).to_be_hidden()
    await console.fill("#reply-text", "Hello, Anna here. Your card is blocked.")
    await expect(visitor.locator("#typing")).to_be_visible()  # the operator is writing
    await console.click("#send-reply")

    await expect(visitor.locator(".row.operator .bubble")).to_have_text(
        "Hello, Anna here. Your card is blocked."
    )
    await expect(visitor.locator(".row.operator .who")).to_have_text("Оператор")

    # the visitor attaches a screenshot with a word; the operator sees the picture
    await visitor.fill("#input", "вот скриншот")
    screenshot: FilePayload = {"name": "экран.png", "mimeType": "image/png", "buffer": PNG}
    await visitor.set_input_files("#file", files=[screenshot])
    sent = visitor.locator(".row.client").last
    await expect(sent.locator(".bubble")).to_contain_text("вот скриншот")
    await expect(sent.locator(".file")).to_contain_text("экран.png")
    await expect(visitor.locator(".row.client.pending")).to_have_count(0)
    # stored, it opens in the visitor's own bubble too, without a reload
    own = visitor.locator(".row.client").last.locator("a.file img.picture")
    await expect(own).to_have_attribute("alt", "экран.png")
    assert await own.evaluate("img => img.decode().then(() => img.naturalWidth)") == 1
    picture = console.locator(".msg .files img.picture")
    await expect(picture).to_have_attribute("alt", "экран.png")
    assert await picture.evaluate("img => img.decode().then(() => img.naturalWidth)") == 1
    assert errors == []


async def test_the_one_time_link_signs_in_from_a_real_browser(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """The start-up link `make run` prints: its page's own button must pass the Origin
    check (a browser posts `Origin: null` under a no-referrer policy). Every page an admin
    then opens loads whole: nothing it asks for (its icon included) is refused."""
    operator = await gateway.accounts.save(
        "Anna", role=OperatorRole.ADMIN, groups=list(gateway.levels.groups)
    )
    token = await gateway.accounts.issue_link(operator.id, LinkPurpose.SIGN_IN)
    console = await (await browser.new_context(locale="en-US")).new_page()
    refused: list[str] = []

    def check(response: Response) -> None:
        if response.status >= 400:
            refused.append(f"{response.status} {response.url}")

    console.on("response", check)  # the page's own requests
    console.on(  # and the browser's for it (its icon)
        "console",
        lambda message: (
            refused.append(f"{message.text} {message.location['url']}")
            if message.type == "error"
            else None
        ),
    )
    await console.goto(f"{served}/operator/link/{token}")
    await console.locator("button").first.click()
    await expect(console.locator("#queue-rows")).to_be_attached()
    await expect(console.locator("#login")).to_be_hidden()
    for page in ("reports", "team"):
        await console.goto(f"{served}/operator/{page}", wait_until="networkidle")
    assert refused == []


async def test_a_card_number_the_visitor_typed_is_shown_as_kept_once_stored(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """Masked in the visitor's own bubble once acknowledged, and in their other tab."""
    context = await browser.new_context(locale="ru-RU")
    visitor, other_tab = await context.new_page(), await context.new_page()
    for page in (visitor, other_tab):
        await page.goto(served + "/")
        await expect(page.locator("#status-text")).to_have_text("На связи")
    await visitor.fill("#input", "карта 4111 1111 1111 1111 не проходит оплата")
    await visitor.press("#input", "Enter")

    for page in (visitor, other_tab):
        await expect(page.locator(".row.client .bubble")).to_have_text(
            "карта •••• 1111 не проходит оплата"
        )
    await expect(visitor.locator(".row.bot .bubble").first).to_contain_text(
        "Похоже, в сообщении был номер банковской карты: мы его скрыли."
    )
    await context.close()
