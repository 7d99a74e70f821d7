"""The operator console in a real browser (Debian's Chromium through Playwright) at the
widths a desk uses: 1024, 1400 and 1920 px, and a phone. A queue of clients from every
channel; every row's Take button inside the viewport; names instead of numbers; the
client's rating and the closed state after Close. Screenshots go to var/screenshots/."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium, screenshot
from channel_harness import until
from console_session import sign_in
from fake_telegram import FakeTelegram
from pipeline_parts import said
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from web_client import Console, signed_in

from channels.telegram import TelegramChannel
from core.contracts import Action, ChannelKind, DeliveryReceipt, InboundSink, OutboundMessage
from core.models import Author, Identity, Message, OperatorRole
from routing.presence import PresenceState
from switchboard.app import Gateway

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="the browser test needs Debian's chromium at /usr/bin/chromium"
)

CLIENT_CHAT = 7007
LONG = (
    "Здравствуйте! Третий день не могу войти в интернет-банк: пишет «неверный пароль», хотя "
    "я его сменил вчера в отделении, и СМС с кодом тоже не приходит на новый номер телефона."
)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


class _Accepting:
    """A platform that takes every message, so the seeded clients get the bot's answers."""

    def __init__(self, kind: ChannelKind) -> None:
        self.kind = kind

    async def send(self, message: OutboundMessage) -> DeliveryReceipt:
        return DeliveryReceipt(None)

    async def run(self, sink: InboundSink) -> None: ...

    async def aclose(self) -> None: ...


@pytest.fixture
def platforms_accepting(gateway: Gateway) -> Iterator[None]:
    """Telegram, VK and the mailbox take every message (a desk whose channels work, as in
    the pictures); without it, sends go to no configured channel and fail."""
    platforms = (ChannelKind.TELEGRAM, ChannelKind.VK, ChannelKind.EMAIL)
    gateway.adapters.update({kind: _Accepting(kind) for kind in platforms})
    try:
        yield
    finally:
        for kind in platforms:
            gateway.adapters.pop(kind)


async def seed_queue(gateway: Gateway) -> None:
    """Six waiting clients: named messenger users, two anonymous web visitors (one whose
    last step was the hand-off button), an email with a quoted letter."""
    handle = gateway.engine.handle
    await handle(
        said(LONG, visitor="tg-1", channel=ChannelKind.TELEGRAM, display_name="Мария Петрова")
    )
    await handle(said("позовите оператора", visitor="tg-1", channel=ChannelKind.TELEGRAM))
    await handle(
        said(
            "Почему списали комиссию за обслуживание?",
            visitor="vk-7",
            channel=ChannelKind.VK,
            display_name="Иван Сидоров",
        )
    )
    await handle(said("оператор", visitor="vk-7", channel=ChannelKind.VK))
    await handle(said("Как перевести деньги за границу в юанях?", visitor="web-a"))
    await handle(said("", visitor="web-a", action=Action.HANDOFF))
    await handle(said("нужен человек, оператор", visitor="web-b"))
    await handle(
        said(
            "Прошу вернуть платёж по договору 4411",
            visitor="olga@example.ru",
            channel=ChannelKind.EMAIL,
            display_name="Ольга Ким",
            subject="Возврат платежа",
            original_text="Прошу вернуть платёж по договору 4411\n\n-- \nОльга Ким\n"
            "ООО «Ромашка»\n\n> Здравствуйте, ваш вопрос получен.",
        )
    )
    await handle(said("оператора пожалуйста", visitor="olga@example.ru", channel=ChannelKind.EMAIL))
    await handle(
        said(
            "Карта заблокирована, срочно нужен оператор!",
            visitor="tg-2",
            channel=ChannelKind.TELEGRAM,
            display_name="Alexander Konstantinopolsky-Shcherbakov",
        )
    )
    await handle(said("оператор", visitor="tg-2", channel=ChannelKind.TELEGRAM))
    await gateway.outbox.drain()


async def open_console(
    browser: Browser,
    base_url: str,
    gateway: Gateway,
    width: int,
    height: int = 900,
    name: str = "Anna",
    role: OperatorRole = OperatorRole.ADMIN,
) -> Page:
    context = await browser.new_context(viewport={"width": width, "height": height}, locale="ru-RU")
    page = await context.new_page()
    page.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
    await sign_in(page, base_url, gateway, name, role=role)
    return page


async def hide_toasts(page: Page) -> None:
    """Toasts (a send to a channel the test did not configure, news of the queue) are not
    for the picture."""
    await page.evaluate("() => { document.getElementById('toast').hidden = true; }")


async def assert_every_action_visible(page: Page, width: int) -> None:
    """Each row's button lies wholly inside the viewport and inside the queue's box."""
    buttons = page.locator("#queue-rows tr td.col-action button")
    count = await buttons.count()
    assert count == 6
    pane = await page.locator(".table-wrap").bounding_box()
    assert pane is not None
    for n in range(count):
        box = await buttons.nth(n).bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (n, box, width)
        assert box["x"] + box["width"] <= pane["x"] + pane["width"] + 0.5, (n, box, pane)
    overflow = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert overflow[0] <= overflow[1], overflow  # no page-wide horizontal scroll


@pytest.mark.usefixtures("platforms_accepting")
@pytest.mark.parametrize("width", [1024, 1400, 1920])
async def test_the_queue_fits_and_names_the_clients(
    browser: Browser, gateway: Gateway, served: str, width: int
) -> None:
    await seed_queue(gateway)
    page = await open_console(browser, served, gateway, width)
    await expect(page.locator("#queue-rows tr")).to_have_count(6)
    await assert_every_action_visible(page, width)
    # Deadlines count from the desk's clock (the test's), not the browser's: just queued,
    # none is overdue.
    await expect(page.locator("#queue-rows .deadline")).to_have_count(6)
    await expect(page.locator("#queue-rows .deadline.over")).to_have_count(0)
    names = await page.locator("#queue-rows .who").all_inner_texts()
    assert any("Мария Петрова" in n for n in names) and any("Ольга Ким" in n for n in names)
    assert sum("Посетитель №" in n for n in names) == 2  # anonymous visitors, told apart
    assert not any(n.strip().startswith("#") for n in names)
    handoff_row = page.locator("#queue-rows tr", has_text="юанях")
    await expect(handoff_row.locator(".line2 .action")).to_have_text("нажал(а) «Позвать оператора»")
    await page.locator("#queue-rows tr", has_text="Ольга Ким").click()
    await expect(page.locator(".letter-toggle")).to_have_count(1)
    await page.click(".letter-toggle")
    await expect(page.locator(".letter")).to_contain_text("ООО «Ромашка»")
    await hide_toasts(page)
    await screenshot(page, f"console-{width}")
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_after_close_the_console_shows_the_state_and_the_clients_rating(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(
        said(
            "позовите оператора", visitor="tg-9", channel=ChannelKind.TELEGRAM, display_name="Пётр"
        )
    )
    page = await open_console(browser, served, gateway, 1400)
    await expect(page.locator("#queue-rows tr")).to_have_count(1)
    await page.click(".tabs button[data-view=mine]")
    await expect(page.locator("#queue-empty")).to_have_text("У вас нет разговоров")
    await page.click(".tabs button[data-view=waiting]")
    await expect(page.locator("#queue-rows tr")).to_have_count(1)
    await page.keyboard.press("Alt+N")  # take the next one
    await expect(page.locator(".status-pill")).to_have_text("в работе")
    await page.fill("#reply-text", "Здравствуйте, Пётр! Сейчас посмотрю.")
    await page.press("#reply-text", "Control+Enter")
    await expect(page.locator(".msg.operator")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.keyboard.press("Alt+C")
    await expect(page.locator(".status-pill")).to_have_text("закрыт")
    await expect(page.locator("#reply")).to_be_hidden()
    await expect(page.locator("#closed-bar")).to_contain_text("Клиент ещё не поставил оценку")
    shown = await page.locator("#thread").get_attribute("data-id")
    assert shown is not None
    conversation_id = int(shown)
    await gateway.engine.handle(
        said(
            "",
            visitor="tg-9",
            channel=ChannelKind.TELEGRAM,
            action=Action.RATE,
            payload=f"{conversation_id}:5",
        )
    )
    await expect(page.locator("#closed-bar .rating")).to_have_text("5/5")  # live
    await hide_toasts(page)
    await screenshot(page, "console-closed")
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_a_question_its_client_took_off_the_queue_says_so_in_the_console(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """Not «the client has not rated it yet»: no rating was asked for."""
    for words in ("Почему мой кот боится пылесоса?", "Я потерял карту, что делать?"):
        await gateway.engine.handle(said(words, visitor="web-5", channel=ChannelKind.WEB))
    page = await open_console(browser, served, gateway, 1400)
    await page.locator("#queue-rows tr").first.click()
    await expect(page.locator(".status-pill")).to_have_text("в очереди")
    await gateway.engine.handle(said("Спасибо, помогло!", visitor="web-5", channel=ChannelKind.WEB))
    await expect(page.locator("#queue-rows tr:visible")).to_have_count(0)
    await expect(page.locator(".status-pill")).to_have_text("закрыт")  # live
    await expect(page.locator("#closed-bar")).to_contain_text("Клиент снял вопрос с очереди")
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_on_a_phone_the_queue_and_the_thread_take_turns(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    await seed_queue(gateway)
    page = await open_console(browser, served, gateway, 390, 800)
    await expect(page.locator("#queue-rows tr")).to_have_count(6)
    await assert_every_action_visible(page, 390)
    await page.locator("#queue-rows tr", has_text="Иван Сидоров").locator("button").click()
    await expect(page.locator("#reply-text")).to_be_visible()
    await expect(page.locator(".queue-pane")).to_be_hidden()
    await screenshot(page, "console-phone")
    await page.click("#conv-back")
    await expect(page.locator(".queue-pane")).to_be_visible()
    await page.context.close()


async def test_the_visitor_is_acknowledged_sees_their_rating_and_where_conversations_end(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    visitor = await (
        await browser.new_context(locale="ru-RU", viewport={"width": 420, "height": 860})
    ).new_page()
    await visitor.goto(served + "/")
    await expect(visitor.locator("#status-text")).to_have_text("На связи")
    await visitor.click("#human")
    await expect(visitor.locator(".row.bot")).to_have_count(1)
    for text in ("карта на имя Ивана", "номер договора 4411"):  # one acknowledgement, not two
        await visitor.fill("#input", text)
        await visitor.press("#input", "Enter")
    await expect(visitor.locator(".row.bot").last).to_contain_text("уже в очереди")
    await expect(visitor.locator(".row.client:not(.pending)")).to_have_count(3)
    await expect(visitor.locator(".row.bot")).to_have_count(2)

    console = await open_console(browser, served, gateway, 1400)
    await console.keyboard.press("Alt+N")
    await expect(console.locator(".status-pill")).to_have_text("в работе")
    await expect(visitor.locator(".row.bot .bubble").last).to_have_text(
        "Вам отвечает оператор Anna."
    )
    await visitor.click("#human")  # again, while the operator holds it: told who has it
    await expect(visitor.locator(".row.bot").last).to_contain_text("уже занимается оператор Anna")
    await expect(console.locator(".msg.bot").last).to_contain_text("уже занимается")
    # the open thread shows it itself: no "new message in conversation #…" toast (its text
    # would stay in the box after it hides)
    await expect(console.locator("#toast")).not_to_contain_text("Новое сообщение")
    console.once("dialog", lambda dialog: dialog.accept())
    await console.keyboard.press("Alt+C")
    await expect(console.locator(".status-pill")).to_have_text("закрыт")

    await visitor.locator(".buttons.rating button", has_text="5").click()
    await expect(visitor.locator(".row.bot").last).to_have_text(re.compile("Спасибо за оценку"))
    await visitor.reload()
    chips = visitor.locator(".row.client.chip .bubble")
    await expect(chips.last).to_have_text("Ваша оценка: 5")
    order = await visitor.locator(".row .bubble").all_inner_texts()
    assert order.index("Ваша оценка: 5") < len(order) - 1 and "Спасибо" in order[-1]

    await visitor.fill("#input", "И ещё вопрос: как закрыть вклад?")
    await visitor.press("#input", "Enter")
    await expect(visitor.locator(".row.client:not(.pending)")).to_have_count(6)
    await visitor.reload()
    await expect(visitor.locator(".divider")).to_have_text("Новый разговор")
    await screenshot(visitor, "web-chat")
    await console.context.close()
    await visitor.context.close()


async def test_the_kbs_best_article_goes_into_the_reply_with_one_click(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(
        said("Я потерял карту, что делать? И позовите оператора", visitor="web-kb")
    )
    await gateway.engine.handle(said("", visitor="web-kb", action=Action.HANDOFF))
    page = await open_console(browser, served, gateway, 1400)
    await page.keyboard.press("Alt+N")
    chip = page.locator(".suggestion").first
    await expect(chip).to_be_visible()
    article = gateway.knowledge.index.article(await chip.get_attribute("data-article") or "")
    assert article is not None and article.id == "card-lost"
    await page.fill("#reply-text", "Здравствуйте!")
    await chip.click()
    await expect(page.locator("#reply-text")).to_have_value(
        "Здравствуйте!\n\n" + article.answer_for("chat")
    )
    await hide_toasts(page)
    await screenshot(page, "console-kb-suggestion")

    # looked up by hand: the KB's answer to the operator's words, not the client's
    await page.fill("#kb-q", "комиссия за снятие наличных")
    found = page.locator("#kb-chips .suggestion:not(.teach)")
    await expect(found.first).to_have_attribute("data-article", "fees-transfers-cash")
    await page.fill("#kb-q", "")
    await expect(found.first).to_have_attribute("data-article", "card-lost")

    # the reply goes out, then teaches the KB: a new article answering the client's question
    await expect(page.locator("#kb-save")).to_be_hidden()  # nothing of hers to save yet
    await page.fill("#reply-text", "Заблокируйте карту в приложении, новую привезём за 3 дня.")
    await page.press("#reply-text", "Control+Enter")
    await expect(page.locator(".msg.operator")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("#kb-save")
    await expect(page.locator("#toast")).to_contain_text("создана из вашего ответа")
    made = [a for a in await gateway.knowledge.export_articles() if a.id.startswith("operator-")]
    assert [(a.answer, a.questions) for a in made] == [
        (
            "Заблокируйте карту в приложении, новую привезём за 3 дня.",
            ("Я потерял карту, что делать? И позовите оператора",),
        )
    ]
    # and the client's question as one more way of asking an article it offered
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#kb-chips .suggestion.teach[data-article=card-lost]").click()
    await expect(page.locator("#toast")).to_contain_text("добавлен к статье card-lost")
    [lost] = [a for a in await gateway.knowledge.export_articles() if a.id == "card-lost"]
    assert "Я потерял карту, что делать? И позовите оператора" in lost.questions
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_saved_replies_are_kept_per_operator_and_inserted_with_a_pick(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    await gateway.engine.handle(
        said(
            "позовите оператора", visitor="tg-m", channel=ChannelKind.TELEGRAM, display_name="Нина"
        )
    )
    page = await open_console(browser, served, gateway, 1400)
    await page.keyboard.press("Alt+N")
    await expect(page.locator(".status-pill")).to_have_text("в работе")
    text = "Добрый день! Проверю и вернусь с ответом в течение часа."
    await page.fill("#reply-text", text)
    answers = iter(["Вернусь в течение часа", "Приветствие"])
    page.on("dialog", lambda d: d.accept(next(answers)) if d.type == "prompt" else d.dismiss())
    await page.click("#macro-save")  # for me only (confirm dismissed)
    await expect(page.locator('#macro-pick optgroup[label="Мои"] option')).to_have_count(1)
    await page.fill("#reply-text", "")
    await page.select_option("#macro-pick", label="Вернусь в течение часа")
    await expect(page.locator("#reply-text")).to_have_value(text)
    await hide_toasts(page)
    await screenshot(page, "console-macros")
    # placeholders: the client's first name and mine
    await page.fill("#reply-text", "Здравствуйте, {клиент}! Меня зовут {operator}.")
    await page.click("#macro-save")
    await expect(page.locator('#macro-pick optgroup[label="Мои"] option')).to_have_count(2)
    await page.fill("#reply-text", "")
    await page.select_option("#macro-pick", label="Приветствие")
    await expect(page.locator("#reply-text")).to_have_value("Здравствуйте, Нина! Меня зовут Anna.")
    await gateway.engine.handle(said("позовите оператора", visitor="web-anonymous"))
    await page.keyboard.press("Alt+N")  # a visitor with no name: the greeting goes without
    await expect(page.locator("#conv-meta")).to_contain_text("Посетитель №")
    await page.fill("#reply-text", "")
    await page.select_option("#macro-pick", label="Приветствие")
    await expect(page.locator("#reply-text")).to_have_value("Здравствуйте! Меня зовут Anna.")

    colleague = await open_console(browser, served, gateway, 1024, name="Boris")  # not Anna's
    await expect(colleague.locator("#macro-pick option")).to_have_count(1)
    await colleague.context.close()
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_the_client_card_beside_the_thread_and_an_admins_merge_and_undo(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """At 1920 px the card stands beside the thread: channels with their proof, earlier
    conversations that open with a click, notes; the admin merges a hinted client and
    undoes it."""
    handle = gateway.engine.handle
    await handle(
        said(
            "Как закрыть вклад? Позовите оператора",
            visitor="tg-c",
            channel=ChannelKind.TELEGRAM,
            display_name="Вера",
        )
    )
    await handle(said("", visitor="tg-c", channel=ChannelKind.TELEGRAM, action=Action.HANDOFF))
    await signed_in(gateway, "Борис")
    boris = await gateway.desk.operators.find("Борис")
    earlier = await gateway.desk.actions.take_next(boris.id)
    await gateway.desk.actions.close(boris.id, earlier.id)
    await handle(said("моя почта vera@example.ru", visitor="tg-c", channel=ChannelKind.TELEGRAM))
    await handle(said("позовите оператора", visitor="tg-c", channel=ChannelKind.TELEGRAM))
    await handle(
        said(
            "Прошу вернуть платёж",
            visitor="vera@example.ru",
            channel=ChannelKind.EMAIL,
            subject="Возврат",
        )
    )
    await gateway.outbox.drain()
    page = await open_console(browser, served, gateway, 1920)
    await page.keyboard.press("Alt+N")
    await expect(page.locator("#conv-meta .status-pill")).to_have_text("в работе")
    card = page.locator("#card")
    await expect(card).to_be_visible()
    await expect(card.locator(".card-name")).to_contain_text("Вера")
    await expect(card.locator(".identity")).to_have_count(1)
    await expect(card.locator(".identity .proof")).to_have_text("аккаунт мессенджера")
    await expect(card.locator(".contact")).to_contain_text("vera@example.ru")
    await expect(card.locator(".contact .proof")).to_have_text("не подтверждён")
    await expect(card.locator(".past-item")).to_have_count(2)
    await page.fill("#reply-text", "Клиентка просит перезвонить после 18:00")
    await page.click("#send-note")
    await expect(card.locator(".note-line")).to_contain_text("перезвонить после 18:00")
    await expect(card.locator(".hints li")).to_contain_text("vera@example.ru")

    await card.locator(f'.past-item[data-conversation="{earlier.id}"]').click()
    await expect(page.locator("#thread .msg.client").first).to_contain_text("Как закрыть вклад?")
    await expect(page.locator("#conv-meta .status-pill")).to_have_text("закрыт")
    await expect(card.locator(".past-item.current")).to_have_attribute(
        "data-conversation", str(earlier.id)
    )
    await card.locator(".past-item").first.click()  # back to the open one
    await expect(page.locator("#conv-meta .status-pill")).to_have_text("в работе")

    page.on("dialog", lambda dialog: dialog.accept())
    await card.locator(".hints button").click()  # merge the letter's client into Вера
    await expect(card.locator(".identity")).to_have_count(2)
    email = card.locator('.identity[data-proof="from_header"]')
    await expect(email).to_contain_text("адрес из письма, не подтверждён")
    await expect(email.locator(".joined")).to_contain_text("вручную")
    await expect(page.locator("#thread")).to_contain_text("Прошу вернуть платёж")
    await hide_toasts(page)
    await screenshot(page, "console-client-card")

    await card.locator(".merges button.undo").click()
    await expect(card.locator(".identity")).to_have_count(1)
    await expect(card.locator(".merges li")).to_contain_text("отменено")

    async with gateway.sessions() as session:  # she withdraws her consent
        vera = await session.scalar(
            select(Identity.client_id).where(Identity.external_id == "tg-c")
        )
    async with page.expect_download() as downloading:
        await card.locator("#export-client").click()
    download = await downloading.value
    assert download.suggested_filename == f"client-{vera}.json"
    exported = json.loads(Path(await download.path()).read_text(encoding="utf-8"))
    assert exported["client"]["name"] == "Вера"
    await card.locator("#forget-client").click()
    await expect(page.locator("#toast")).to_contain_text("Сначала закройте разговоры клиента")
    await page.click("#conv-close")
    await expect(page.locator("#conv-meta .status-pill")).to_have_text("закрыт")
    await card.locator("#forget-client").click()
    await expect(page.locator("#toast")).to_contain_text(f"Клиент #{vera} забыт. Разговоров: 2,")
    await expect(page.locator("#thread")).not_to_contain_text("Как закрыть вклад")
    await expect(page.locator("#closed-bar .erased")).to_contain_text(
        "Слова и файлы разговора стёрты"
    )
    await expect(card.locator(".card-name")).not_to_contain_text("Вера")
    await page.context.close()


@pytest.mark.usefixtures("platforms_accepting")
async def test_one_search_box_finds_clients_and_messages_and_opens_them(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    await seed_queue(gateway)
    page = await open_console(browser, served, gateway, 1400)
    await expect(page.locator("#queue-rows tr")).to_have_count(6)
    await page.fill("#search-q", "ЮАНЯХ")  # any case, in Cyrillic
    results = page.locator("#search-results")
    await expect(results.locator(".found-messages .found")).to_have_count(1)
    await expect(results.locator(".found-text")).to_contain_text("юанях")
    await page.fill("#search-q", "мария")
    await expect(results.locator(".found-clients .found")).to_have_count(1)
    await expect(results.locator(".found-clients")).to_contain_text("Мария Петрова")
    await hide_toasts(page)
    await screenshot(page, "console-search")
    await results.locator(".found-clients .found").click()
    await expect(results).to_be_hidden()
    await expect(page.locator("#card .card-name")).to_contain_text("Мария Петрова")
    await expect(page.locator("#conv-meta")).to_contain_text("Мария Петрова")

    await page.fill("#search-q", "комиссию")
    await results.locator(".found-messages .found").click()
    hit = page.locator("#thread .msg.hit")
    await expect(hit).to_contain_text("Почему списали комиссию")
    await expect(page.locator("#conv-meta")).to_contain_text("Иван Сидоров")
    await page.context.close()


@pytest.mark.parametrize("settings", [{"web_prechat_form": True}], indirect=True)
async def test_the_pre_chat_form_names_the_visitor_in_the_console(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    visitor = await (
        await browser.new_context(locale="ru-RU", viewport={"width": 420, "height": 860})
    ).new_page()
    visitor.on("pageerror", lambda error: pytest.fail(f"page error: {error}"))
    await visitor.goto(served + "/")
    form = visitor.locator("#prechat")
    await expect(form).to_be_visible()
    await expect(visitor.locator("#input")).to_be_hidden()
    await visitor.fill("#prechat-name", "Светлана")
    await visitor.fill("#prechat-email", "sveta@example")  # mistyped: said so, not sent
    await visitor.click("#prechat .start")
    await expect(visitor.locator("#prechat-error")).to_have_text("Похоже, в адресе почты ошибка.")
    await visitor.fill("#prechat-email", "sveta@example.ru")
    await expect(visitor.locator("#prechat-error")).to_be_hidden()
    await screenshot(visitor, "web-prechat")
    await visitor.click("#prechat .start")
    await expect(form).to_be_hidden()
    await visitor.fill("#input", "Здравствуйте, позовите оператора")
    await visitor.press("#input", "Enter")
    await expect(visitor.locator(".row.client:not(.pending)")).to_have_count(1)
    await visitor.reload()  # the form is asked once
    await expect(visitor.locator(".row.client")).to_have_count(1)
    await expect(form).to_be_hidden()

    console = await open_console(browser, served, gateway, 1400)
    row = console.locator("#queue-rows tr", has_text="Светлана")
    await expect(row).to_have_count(1)
    await row.click()
    await console.click("#conv-card")
    await expect(console.locator("#card .contact")).to_contain_text("sveta@example.ru")
    await expect(console.locator("#card .contact .proof")).to_have_text("не подтверждён")
    await console.context.close()
    await visitor.context.close()


async def test_a_conversation_is_handed_to_a_colleague_with_a_note(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """Anna, away from new work, takes a conversation and hands it to Boris, whose console
    is open; Vera has no console open, so she cannot be picked."""
    await gateway.engine.handle(said("позовите оператора", visitor="web-5"))  # delivered
    await signed_in(gateway, "Вера")
    async with Console(served, await signed_in(gateway, "Борис")) as boris:
        await boris.ws.expect(lambda f: f["type"] == "hello")
        page = await open_console(browser, served, gateway, 1400)
        boris_page = await open_console(browser, served, gateway, 1024, name="Борис")
        await expect(page.locator("#presence")).to_have_value("online")
        await page.select_option("#presence", "away")
        await expect(page.locator("#presence.away")).to_have_count(1)
        await expect(page.locator("#conv-transfer")).to_be_hidden()
        await page.keyboard.press("Alt+N")
        await expect(page.locator(".status-pill")).to_have_text("в работе")
        await page.select_option("#conv-category", "fraud")  # what it is about, as she sees it
        await expect(page.locator("#conv-category")).to_have_value("fraud")  # the desk's answer
        await expect(page.locator("#conv-category option:checked")).to_have_text("Мошенничество")
        await page.fill("#reply-text", "@Борис посмотри операции")  # a note names him
        await page.click("#send-note")
        await expect(boris_page.locator("#toast")).to_contain_text(
            re.compile(r"Anna упоминает вас в разговоре #\d+: @Борис посмотри операции")
        )
        await expect(page.locator("#toast")).to_contain_text("Заметку увидят: Борис")
        await page.click("#conv-transfer")
        dialog = page.locator("#transfer")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator(".target", has_text="Вера").locator("input")).to_be_disabled()
        await expect(dialog.locator(".target", has_text="Борис")).to_contain_text("принимает")
        await dialog.locator(".target", has_text="Борис").click()
        await page.fill("#transfer-note", "Клиент ждёт звонка")
        await screenshot(page, "console-transfer")
        await page.click("#transfer-go")
        await expect(dialog).to_be_hidden()
        await expect(page.locator("#toast")).to_contain_text("передан: Борис")
        await expect(page.locator("#conv-transfer")).to_be_hidden()
        await expect(page.locator("#reply-text")).to_have_attribute(
            "placeholder", "Разговор ведёт другой оператор."
        )
        await expect(boris_page.locator("#toast")).to_contain_text(
            re.compile(r"Вам передан разговор #\d+: Клиент ждёт звонка")
        )
        mine = await boris.command("queue", "queue", view="mine")
        [row] = mine["rows"]
        held = await boris.command("open", "conversation", conversation_id=row["conversation_id"])
        assert held["conversation"]["messages"][-1]["text"] == "Клиент ждёт звонка"
        assert held["conversation"]["category"] == "fraud"
        anna = await gateway.desk.operators.find("Anna")
        assert (await gateway.desk.presence.get(anna.id)).state is PresenceState.AWAY
        await page.context.close()
        await boris_page.context.close()


async def test_the_reply_goes_through_the_channel_picked_beside_it(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    handle = gateway.engine.handle
    await handle(
        said("нужен оператор", visitor="olga@example.ru", channel=ChannelKind.EMAIL, subject="?")
    )
    await handle(said("Я потеряла карту", visitor="web-olga", channel=ChannelKind.WEB))
    [letter] = await gateway.queue.waiting()
    async with gateway.sessions() as session:
        web = await session.scalar(
            select(Identity.client_id).where(Identity.channel == ChannelKind.WEB)
        )
    page = await open_console(browser, served, gateway, 1400)
    anna = await gateway.desk.operators.find("Anna")
    await gateway.desk.merging.merge(anna.id, letter.conversation_id, int(web or 0))
    await page.keyboard.press("Alt+N")
    await expect(page.locator(".status-pill")).to_have_text("в работе")
    via = page.locator("#reply-via")
    await expect(via).to_have_value("email")  # where the client wrote from last in this thread
    await via.select_option("web")
    await page.fill("#reply-text", "Ответ в веб-чат")
    await page.press("#reply-text", "Control+Enter")
    await expect(page.locator(".msg.operator .chan")).to_have_text("Веб-чат")
    async with gateway.sessions() as session:
        sent = await session.scalar(
            select(Message.channel).where(Message.author == Author.OPERATOR)
        )
    assert sent is ChannelKind.WEB
    await page.context.close()


async def test_a_reply_that_was_not_delivered_says_why_in_the_operators_words(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    """The test's Telegram channel is not configured: the reply fails for a reason an
    administrator fixes, and the console says so on the message and in the toast. Once
    the channel is set up, Send again delivers that same message."""
    handle = gateway.engine.handle
    await handle(said("нужен оператор", visitor=str(CLIENT_CHAT), channel=ChannelKind.TELEGRAM))
    page = await open_console(browser, served, gateway, 1400, role=OperatorRole.OPERATOR)
    await page.keyboard.press("Alt+N")
    await expect(page.locator(".status-pill")).to_have_text("в работе")
    await page.fill("#reply-text", "Карта перевыпущена")
    await page.press("#reply-text", "Control+Enter")
    why = "канал не настроен или отклонил токен или доступ: нужен администратор"
    await expect(page.locator("#toast")).to_contain_text(why)
    failed = page.locator(".msg.operator .failed span")
    await expect(failed).to_have_text(f"не доставлено: {why}")
    assert await page.locator(".msg.bot button.resend").count() == 0  # a bot's is not resent
    await hide_toasts(page)
    await screenshot(page, "console-undelivered")
    async with configured_telegram(gateway) as telegram:
        await page.locator(".msg.operator button.resend").click()
        await expect(failed).to_have_count(0)
        await until(lambda: telegram.texts_to(CLIENT_CHAT) == ["Карта перевыпущена"])
    assert await page.locator(".msg.operator").count() == 1  # the same message, not a copy
    await page.context.close()


async def test_an_admin_hears_that_a_channel_refuses_replies(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    handle = gateway.engine.handle
    await handle(said("нужен оператор", visitor=str(CLIENT_CHAT), channel=ChannelKind.TELEGRAM))
    page = await open_console(browser, served, gateway, 1400)
    await page.keyboard.press("Alt+N")  # «Вам отвечает оператор» fails after the take
    await expect(page.locator(".status-pill")).to_have_text("в работе")
    await expect(page.locator("#toast")).to_contain_text(
        "Канал «Telegram» не принимает ответы: канал не настроен или отклонил токен или доступ"
    )
    await page.context.close()


@contextlib.asynccontextmanager
async def configured_telegram(gateway: Gateway) -> AsyncIterator[FakeTelegram]:
    """The gateway's Telegram channel, against a local Bot API, for the test's length."""
    telegram = FakeTelegram()
    await telegram.start()
    channel = TelegramChannel(telegram.token, api_base=telegram.base_url, request_timeout=5)
    gateway.adapters[ChannelKind.TELEGRAM] = channel
    try:
        yield telegram
    finally:
        gateway.adapters.pop(ChannelKind.TELEGRAM)
        await channel.aclose()
        await telegram.close()


async def test_a_console_in_a_background_tab_counts_what_needs_the_operator(
    browser: Browser, gateway: Gateway, served: str
) -> None:
    page = await open_console(browser, served, gateway, 1400)
    title = await page.title()
    hide = """hidden => {
        Object.defineProperty(document, "hidden", { value: hidden, configurable: true });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    await page.evaluate(hide, True)  # the operator is in another tab
    await gateway.engine.handle(said("позовите оператора", visitor="web-bg-1"))
    await expect(page).to_have_title(f"(1) {title}")
    await gateway.engine.handle(said("оператор, пожалуйста", visitor="web-bg-2"))
    await expect(page).to_have_title(f"(2) {title}")
    await page.evaluate(hide, False)  # back: nothing is unseen
    await expect(page).to_have_title(title)
    await expect(page.locator("#queue-rows tr")).to_have_count(2)
    await page.context.close()
