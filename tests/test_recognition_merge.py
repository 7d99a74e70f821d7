"""Merging clients with open conversations, and undoing it: through the real gateway, with
the live Redis queue and the operators' desk.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from stepping_clock import SteppingClock
from test_recognition import client_of, link_code, merges, sent_to, tg, web

from admin.desk import DeskError
from core.contracts import ChannelKind
from core.models import (
    Client,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    Direction,
    EventKind,
    Identity,
    MergeRecord,
    Message,
    OperatorRole,
)
from identity.hints import Hint
from switchboard.app import Gateway

UNKNOWN_WEB = "Почему мой кот боится пылесоса и как его успокоить?"
UNKNOWN_TG = "Позовите оператора, пожалуйста"


async def two_waiting_clients(gateway: Gateway, clock: SteppingClock) -> tuple[int, int]:
    """A web visitor and a Telegram user, each with a conversation waiting in the queue."""
    await gateway.engine.handle(web(UNKNOWN_WEB))
    clock.advance(minutes=5)
    await gateway.engine.handle(tg(UNKNOWN_TG))
    clock.advance(minutes=1)
    async with gateway.sessions() as session:
        statuses = list(
            await session.scalars(select(Conversation.status).order_by(Conversation.id))
        )
    assert statuses == [ConversationStatus.QUEUED, ConversationStatus.QUEUED]
    assert len(await gateway.queue.waiting()) == 2
    return (
        await client_of(gateway, ChannelKind.WEB, "visitor-1"),
        await client_of(gateway, ChannelKind.TELEGRAM, "1001"),
    )


async def conversations(gateway: Gateway) -> list[Conversation]:
    async with gateway.sessions() as session:
        return list(await session.scalars(select(Conversation).order_by(Conversation.id)))


async def test_two_open_conversations_become_one_queue_entry_and_one_thread(
    gateway: Gateway, clock: SteppingClock
) -> None:
    web_client, tg_client = await two_waiting_clients(gateway, clock)
    first, second = await conversations(gateway)
    code = await link_code(gateway, tg("/link"))  # works while waiting for an operator

    await gateway.engine.handle(web(code))

    [entry] = await gateway.queue.waiting()
    assert entry.conversation_id == first.id
    assert entry.deadline == min(first.sla_deadline, second.sla_deadline)  # type: ignore[type-var]
    assert entry.client_id == web_client
    thread, absorbed = await conversations(gateway)
    assert thread.status is ConversationStatus.QUEUED
    assert absorbed.status is ConversationStatus.CLOSED and absorbed.merged_into_id == thread.id
    assert absorbed.client_id == thread.client_id == web_client  # the older client survives
    async with gateway.sessions() as session:
        in_thread = list(
            await session.scalars(
                select(Message).where(
                    Message.conversation_id == thread.id, Message.direction == Direction.IN
                )
            )
        )
        left_behind = list(
            await session.scalars(select(Message).where(Message.conversation_id == absorbed.id))
        )
        kinds = list(
            await session.scalars(
                select(ConversationEvent.kind).where(
                    ConversationEvent.conversation_id == absorbed.id
                )
            )
        )
    assert {m.text for m in in_thread} >= {UNKNOWN_WEB, UNKNOWN_TG, "/link", code}
    assert left_behind == []
    assert EventKind.MERGED in kinds

    operator = await gateway.desk.operators.register("Ольга", role=OperatorRole.ADMIN)
    view = await gateway.desk.actions.take(operator.id, thread.id)
    assert {m.channel for m in view.messages if m.direction == "in"} == {"web", "telegram"}
    assert any(m.private and f"#{tg_client}" in m.text for m in view.messages)  # why it grew
    await gateway.desk.actions.reply(operator.id, thread.id, "Отвечаю вам")
    assert (await sent_to(gateway, "visitor-1"))[-1].text == "Отвечаю вам"  # where they wrote last
    await gateway.engine.handle(tg("А ещё вопрос"))
    await gateway.desk.actions.reply(operator.id, thread.id, "И на него отвечу")
    assert (await sent_to(gateway, "1001"))[-1].text == "И на него отвечу"
    assert await gateway.queue.assigned(operator.id) == [thread.id]


async def test_unmerge_restores_identities_conversations_and_the_queue(
    gateway: Gateway, clock: SteppingClock
) -> None:
    web_client, tg_client = await two_waiting_clients(gateway, clock)
    first, second = await conversations(gateway)
    await gateway.engine.handle(web(await link_code(gateway, tg("/link"))))
    await gateway.engine.handle(tg("И ещё: после объединения пишу"))  # said after the merge
    operator = await gateway.desk.operators.register("Ольга", role=OperatorRole.ADMIN)
    [record] = await merges(gateway)
    not_admin = await gateway.desk.operators.register("Пётр")
    with pytest.raises(DeskError) as refused:  # only admins undo merges
        await gateway.desk.merging.unmerge(not_admin.id, record.id)
    assert refused.value.key == "desk_admin_only"
    assert (await merges(gateway))[0].undone_at is None

    summary = await gateway.desk.merging.unmerge(operator.id, record.id)

    assert summary.undone and summary.survivor_id == web_client and summary.merged_id == tg_client
    assert await client_of(gateway, ChannelKind.TELEGRAM, "1001") == tg_client
    assert await client_of(gateway, ChannelKind.WEB, "visitor-1") == web_client
    restored_first, restored_second = (await conversations(gateway))[:2]
    assert restored_second.status is ConversationStatus.QUEUED
    assert restored_second.client_id == tg_client and restored_second.merged_into_id is None
    assert restored_first.client_id == web_client
    async with gateway.sessions() as session:
        by_conversation = {
            c: set(
                await session.scalars(
                    select(Identity.external_id)
                    .join(Message, Message.identity_id == Identity.id)
                    .where(Message.conversation_id == c)
                )
            )
            for c in (first.id, second.id)
        }
        undone = await session.get(MergeRecord, record.id)
        merged = await session.get(Client, tg_client)
    assert by_conversation == {first.id: {"visitor-1"}, second.id: {"1001"}}
    assert undone is not None and undone.undone_at is not None
    assert merged is not None and merged.merged_into_id is None
    assert sorted(e.conversation_id for e in await gateway.queue.waiting()) == [first.id, second.id]
    with pytest.raises(DeskError) as again:
        await gateway.desk.merging.unmerge(operator.id, record.id)
    assert again.value.key == "merge_already_undone"


async def test_an_operator_merges_by_hand_and_sees_hints(
    gateway: Gateway, clock: SteppingClock
) -> None:
    web_client, tg_client = await two_waiting_clients(gateway, clock)
    await gateway.engine.handle(web("моя почта anna@example.org и вопрос про кредит"))
    await gateway.engine.handle(tg("email: anna@example.org"))
    operator = await gateway.desk.operators.register("Ольга", role=OperatorRole.ADMIN)
    first, _second = await conversations(gateway)

    assert await gateway.desk.clients.hints(operator.id, web_client) == [
        Hint(tg_client, "email", "anna@example.org")
    ]
    assert await merges(gateway) == []

    summary = await gateway.desk.merging.merge(
        operator.id, first.id, tg_client, note="звонила, подтвердила"
    )

    assert summary.survivor_id == web_client and summary.thread_id == first.id
    assert summary.identities == ("telegram:1001",)
    [record] = await merges(gateway)
    assert (record.reason, record.operator_id, record.proof) == (
        "operator",
        operator.id,
        "звонила, подтвердила",
    )
    assert [e.conversation_id for e in await gateway.queue.waiting()] == [first.id]
    with pytest.raises(DeskError) as same:
        await gateway.desk.merging.merge(operator.id, first.id, tg_client)
    assert same.value.key == "merge_same_client"  # the merged id leads to the survivor


async def test_merges_are_undone_latest_first(gateway: Gateway, clock: SteppingClock) -> None:
    web_client, tg_client = await two_waiting_clients(gateway, clock)
    await gateway.engine.handle(web(await link_code(gateway, tg("/link"))))
    await gateway.engine.handle(tg("Привет", who="3003"))
    operator = await gateway.desk.operators.register("Ольга", role=OperatorRole.ADMIN)
    first, *_ = await conversations(gateway)
    third = await client_of(gateway, ChannelKind.TELEGRAM, "3003")
    await gateway.desk.merging.merge(operator.id, first.id, third)
    older, newer = await merges(gateway)

    with pytest.raises(DeskError) as refused:
        await gateway.desk.merging.unmerge(operator.id, older.id)
    assert refused.value.key == "merge_undo_later_first"

    await gateway.desk.merging.unmerge(operator.id, newer.id)
    await gateway.desk.merging.unmerge(operator.id, older.id)
    assert {
        await client_of(gateway, ChannelKind.WEB, "visitor-1"),
        await client_of(gateway, ChannelKind.TELEGRAM, "1001"),
        await client_of(gateway, ChannelKind.TELEGRAM, "3003"),
    } == {web_client, tg_client, third}


async def test_an_undone_merge_takes_back_what_was_said_after_it(gateway: Gateway) -> None:
    await gateway.engine.handle(web("Позовите оператора"))
    await gateway.engine.handle(tg("Привет", who="4004"))  # only a bot conversation, soon closed
    web_client = await client_of(gateway, ChannelKind.WEB, "visitor-1")
    other = await client_of(gateway, ChannelKind.TELEGRAM, "4004")
    operator = await gateway.desk.operators.register("Ольга", role=OperatorRole.ADMIN)
    thread = (await gateway.desk.actions.take_next(operator.id)).id
    async with gateway.sessions() as session:
        for conversation in await session.scalars(
            select(Conversation).where(Conversation.client_id == other)
        ):
            conversation.status = ConversationStatus.CLOSED
        await session.commit()
    summary = await gateway.desk.merging.merge(operator.id, thread, other, note="по ошибке")
    await gateway.engine.handle(tg("Это я, другой человек", who="4004"))  # lands in the thread
    await gateway.desk.actions.reply(operator.id, thread, "Отвечаю другому человеку")

    await gateway.desk.merging.unmerge(operator.id, summary.record_id)

    async with gateway.sessions() as session:
        in_thread = set(
            await session.scalars(
                select(Identity.external_id)
                .join(Message, Message.identity_id == Identity.id)
                .where(Message.conversation_id == thread)
            )
        )
        theirs = list(
            await session.scalars(
                select(Message.text)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(Conversation.client_id == other)
                .order_by(Message.id)
            )
        )
        kept = await session.get(Conversation, thread)
    assert in_thread == {"visitor-1"}
    assert theirs[-3:] == [
        "Это я, другой человек",
        # "человек" asks for a person, who already has it: the bot's word moves back too
        "Вашим вопросом уже занимается оператор Ольга: пишите здесь, оператор видит все ваши "
        "сообщения.",
        "Отвечаю другому человеку",
    ]
    assert kept is not None and kept.client_id == web_client
    await gateway.desk.actions.reply(operator.id, thread, "Снова вам")
    assert (await sent_to(gateway, "visitor-1"))[-1].text == "Снова вам"
