"""What a web visitor's page replays: the client's messages across conversations and channels,
oldest first, never an operator's private note or a robot's mail."""

from __future__ import annotations

import datetime as dt

from bot.history import web_history
from core.contracts import Action, ChannelKind
from core.db import SessionFactory
from core.models import (
    Author,
    Client,
    Conversation,
    ConversationStatus,
    Delivery,
    Direction,
    Identity,
    Message,
)

START = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
MINE, THEIRS = "visitor-aaaaaaaaaaaa", "visitor-bbbbbbbbbbbb"


async def seed(sessions: SessionFactory) -> None:
    """Client 1: a web visitor also known on Telegram, two conversations. Client 2: a stranger."""
    async with sessions() as session:
        client, stranger = Client(created_at=START), Client(created_at=START)
        session.add_all([client, stranger])
        await session.flush()
        web = Identity(client_id=client.id, channel=ChannelKind.WEB, external_id=MINE)
        telegram = Identity(client_id=client.id, channel=ChannelKind.TELEGRAM, external_id="42")
        other = Identity(client_id=stranger.id, channel=ChannelKind.WEB, external_id=THEIRS)
        session.add_all([web, telegram, other])
        await session.flush()
        old = Conversation(
            client_id=client.id,
            identity_id=telegram.id,
            last_channel=ChannelKind.TELEGRAM,
            last_identity_id=telegram.id,
            status=ConversationStatus.CLOSED,
        )
        new = Conversation(
            client_id=client.id,
            identity_id=web.id,
            last_channel=ChannelKind.WEB,
            last_identity_id=web.id,
        )
        theirs = Conversation(
            client_id=stranger.id,
            identity_id=other.id,
            last_channel=ChannelKind.WEB,
            last_identity_id=other.id,
        )
        session.add_all([old, new, theirs])
        await session.flush()

        def message(
            conversation: Conversation, minute: int, author: Author, text: str, **fields: object
        ) -> Message:
            return Message(
                conversation_id=conversation.id,
                channel=fields.pop("channel", ChannelKind.WEB),
                direction=Direction.IN if author is Author.CLIENT else Direction.OUT,
                author=author,
                text=text,
                created_at=START + dt.timedelta(minutes=minute),
                **fields,
            )

        for row in [
            message(
                old,
                0,
                Author.CLIENT,
                "из телеграма",
                channel=ChannelKind.TELEGRAM,
                channel_message_id="42:7",
            ),
            message(
                old,
                1,
                Author.OPERATOR,
                "ответ в телеграм",
                channel=ChannelKind.TELEGRAM,
                delivery=Delivery.SENT,
                attachments=[
                    {"kind": "document", "name": "act.pdf", "size": 2048, "stored_path": "/srv/x"}
                ],
            ),
            message(new, 2, Author.CLIENT, "с сайта", channel_message_id=f"{MINE}:uuid-1"),
            message(
                new,
                3,
                Author.BOT,
                "ответ бота",
                delivery=Delivery.PENDING,
                buttons=[{"label": "Позвать оператора", "action": "handoff", "payload": None}],
            ),
            message(new, 4, Author.OPERATOR, "внутренняя заметка", private=True),
            message(
                new,
                5,
                Author.CLIENT,
                "",
                action=Action.HANDOFF.value,
                channel_message_id=f"{MINE}:uuid-2",
            ),
            message(theirs, 6, Author.CLIENT, "чужое", channel_message_id=f"{THEIRS}:uuid-3"),
        ]:
            session.add(row)
            await session.flush()
        await session.commit()


async def test_history_is_the_clients_across_channels_without_private_notes(
    sessions: SessionFactory,
) -> None:
    await seed(sessions)
    items = await web_history(sessions, MINE)

    assert [(i.author, i.text, i.channel) for i in items] == [
        ("client", "из телеграма", "telegram"),
        ("operator", "ответ в телеграм", "telegram"),
        ("client", "с сайта", "web"),
        ("bot", "ответ бота", "web"),
        ("client", "", "web"),
    ]
    assert items[2].id == "uuid-1" and items[4].id == "uuid-2"  # the page's own ids
    assert items[3].id.startswith("m") and items[3].buttons[0].action is Action.HANDOFF
    assert items[4].action == "handoff"
    assert [i.at for i in items] == sorted(i.at for i in items)
    shown = items[1].as_json()["attachments"]
    # no server path: only that the page can ask for the file
    assert shown == [{"kind": "document", "name": "act.pdf", "size": 2048, "opens": True}]


async def test_history_is_limited_to_the_newest_and_empty_for_strangers(
    sessions: SessionFactory,
) -> None:
    await seed(sessions)
    newest = await web_history(sessions, MINE, limit=2)
    assert [i.text for i in newest] == ["ответ бота", ""]
    assert await web_history(sessions, "nobody-we-know-yet") == []
    assert [i.text for i in await web_history(sessions, THEIRS)] == ["чужое"]
