"""Reports and /metrics over what the real gateway records: messages pass through the
engine and the operator desk, and the figures follow."""

from __future__ import annotations

import datetime as dt
import itertools

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from stepping_clock import SteppingClock
from test_reports_metrics import scrape

from admin.metrics import metrics_handler
from admin.reports import build_report
from core.contracts import Action, ChannelKind, InboundMessage
from switchboard.app import Gateway

_ids = itertools.count(1)


def said(text: str, visitor: str, **fields: object) -> InboundMessage:
    return InboundMessage(
        channel=ChannelKind.WEB,
        external_user_id=visitor,
        chat_id=visitor,
        platform_message_id=f"report-m{next(_ids)}",
        text=text,
        **fields,  # type: ignore[arg-type]
    )


async def test_figures_follow_messages_through_the_gateway(
    gateway: Gateway, clock: SteppingClock
) -> None:
    app = web.Application()
    app.router.add_get(
        "/metrics", metrics_handler(gateway.sessions, queue=gateway.queue, clock=clock)
    )
    async with TestClient(TestServer(app)) as client:
        before = await scrape(client)
        await gateway.engine.handle(said("Я потерял карту, что делать?", "anna"))
        await gateway.engine.handle(
            said("Почему мой кот боится пылесоса и как его успокоить?", "boris")
        )
        await gateway.outbox.drain()
        clock.advance(minutes=5)
        after = await scrape(client)

    web_in = ("switchboard_messages_total", (("channel", "web"), ("direction", "in")))
    web_out = ("switchboard_messages_total", (("channel", "web"), ("direction", "out")))
    assert before.get(web_in, 0) == 0 and after[web_in] == 2
    assert after[web_out] == 2  # the bot's answer and the "an operator will answer" notice
    assert (
        after[("switchboard_bot_answers_total", ())]
        == before.get(("switchboard_bot_answers_total", ()), 0) + 1
    )
    assert after[("switchboard_handoffs_total", (("reason", "kb_miss"),))] == 1
    [waiting] = await gateway.queue.waiting()
    assert after[("switchboard_queue_length", (("group", waiting.group),))] == 1
    assert after[("switchboard_queue_oldest_wait_seconds", (("group", waiting.group),))] == 300
    assert after[("switchboard_conversations", (("status", "queued"),))] == 1

    operator = await gateway.desk.operators.register("Ольга", groups=(waiting.group,))
    await gateway.desk.actions.take(operator.id, waiting.conversation_id)
    clock.advance(minutes=7)
    await gateway.desk.actions.reply(
        operator.id, waiting.conversation_id, "Здравствуйте! Это нормально."
    )
    clock.advance(minutes=30)
    await gateway.desk.actions.close(operator.id, waiting.conversation_id)
    await gateway.engine.handle(
        said("", "boris", action=Action.RATE, payload=f"{waiting.conversation_id}:4")
    )

    report = await build_report(
        gateway.sessions, gateway.levels.calendar, "today", language="en", now=clock()
    )
    f = report.contents.total
    assert (f.conversations, f.handed_off, f.closed, f.closed_by_operator) == (2, 1, 1, 1)
    assert f.frt.median is not None and f.frt.median.total_seconds() == 12 * 60  # queued → reply
    assert (f.sla_met, f.sla_breached) == (1, 0)
    assert f.ratings == (0, 0, 0, 1, 0) and f.csat_response_rate == 1.0
    assert round(f.operator_minutes) == 37  # taken → closed
    assert [a.answers for a in report.contents.top_articles] == [1]
    assert report.contents.top_articles[0].title  # the sample KB article's title
    # anna's card question was answered by the bot 42 minutes ago: pending until she has
    # stayed away for the idle window, then the bot's, the same day (no idle close needed)
    assert (f.bot_resolved, f.bot_pending) == (0, 1)
    later = await build_report(
        gateway.sessions,
        gateway.levels.calendar,
        "today",
        language="ru",
        now=clock() + dt.timedelta(hours=2),
    )
    assert (later.contents.total.bot_resolved, later.contents.total.bot_pending) == (1, 0)
    assert later.contents.total.bot_resolution_share == 0.5  # 1 by the bot, 1 to operators
    assert "Бот решил сам: 1 (50%)" in later.text and "Отчёт: сегодня" in later.text


async def test_a_question_taken_off_the_queue_after_the_bots_answer_is_the_bots(
    gateway: Gateway, clock: SteppingClock
) -> None:
    """«Вопрос решён» under the bot's answer in the queue: no person was needed, so the
    report counts it as settled by the bot, not handed to operators, and leaves it out of
    the SLA (no answer is owed any more; before the fix it stayed pending, then a breach)."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса?", "vera"))
    await gateway.engine.handle(said("Я потерял карту, что делать?", "vera"))
    [waiting] = await gateway.queue.waiting()
    clock.advance(minutes=2)
    await gateway.engine.handle(
        said("", "vera", action=Action.RESOLVED, payload=str(waiting.conversation_id))
    )

    report = await build_report(
        gateway.sessions, gateway.levels.calendar, "today", language="ru", now=clock()
    )
    f = report.contents.total
    assert (f.conversations, f.handed_off, f.closed, f.bot_resolved) == (1, 0, 1, 1)
    assert (f.sla_met, f.sla_breached, f.sla_pending) == (0, 0, 0)
    assert [a.answers for a in report.contents.top_articles] == [1]


async def test_a_question_its_client_sorted_out_alone_was_handed_off_all_the_same(
    gateway: Gateway, clock: SteppingClock
) -> None:
    """«Разобрался сам» in the queue closes it with no answer from the bot there: a person
    was asked for, and the bot did not settle it."""
    await gateway.engine.handle(said("Почему мой кот боится пылесоса?", "lev"))
    clock.advance(minutes=2)
    await gateway.engine.handle(said("Разобрался сам, спасибо", "lev"))

    report = await build_report(
        gateway.sessions, gateway.levels.calendar, "today", language="ru", now=clock()
    )
    f = report.contents.total
    assert (f.conversations, f.handed_off, f.closed, f.bot_resolved) == (1, 1, 1, 0)
    assert (f.sla_met, f.sla_breached, f.sla_pending) == (0, 0, 0)
