"""A scripted week at the desk (Moscow, Mon 2 – Sun 8 November 2026, hours 09:00-18:00
Mon-Fri) with known timings, stored as conversations and events for the report tests.

    C1 telegram  Анна   Mon 01:00 (Sun 22:00 UTC) bot answer, closed by timeout 01:30
    C2 vk        Борис  Mon 17:30 handed off (asked), queued 17:31 account, deadline Tue 16:31,
                        taken Ольга Tue 09:10, first reply 09:20, closed 10:00, rated 5
    C3 email     Вера   Tue 11:00 handed off (kb_miss), queued payments, deadline 15:00,
                        taken Ольга 11:05, reply 11:15, closed 11:45, rated 3
    C9 telegram  Борис  Wed 12:00 two bot answers (card-limits), closed by timeout 12:30, cards
    C4 telegram  Вера   Thu 10:00 queued payments, deadline 14:00; taken Павел 10:30, lease
                        expired 11:00; taken Ольга 13:00, reply 14:30 (30 min late), closed 15:00
    C6 telegram  Борис  Fri 17:50 queued cards, deadline Mon 9th 12:50, unanswered (pending)
    C5 web       Анна   Sat 12:00 queued fraud, deadline 12:30, taken Павел 12:10,
                        reply 12:20, closed 12:40, rated 4
    C7 vk        Вера   Sun 20:00 queued fraud, deadline 20:30, unanswered (a breach)
    C8 telegram  Анна   Mon 9th 01:30 (Sun 8th 22:30 UTC): after the week, bot answer card-lost
Вера returns on payments (C4) within 3 days of C3's close; Борис returns on cards (C6)
within 3 days of C9's close. The report's clock stands at Mon 9th 12:00 Moscow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from core.contracts import ChannelKind
from core.db import SessionFactory
from core.models import (
    Client,
    ClientTier,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Identity,
    KbArticle,
    Operator,
    OperatorGroup,
)

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2026, 11, 9, 12, 0, tzinfo=MOSCOW).astimezone(dt.UTC)


def msk(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=MOSCOW).astimezone(dt.UTC)


@dataclass
class Week:
    clients: dict[str, int]
    operators: dict[str, int]
    conversations: dict[str, int]


Step = tuple[EventKind, dt.datetime, dict[str, Any]]


def _ev(kind: EventKind, at: dt.datetime, **data: Any) -> Step:
    return kind, at, data


async def seed_week(sessions: SessionFactory) -> Week:
    async with sessions() as session:
        session.add_all(
            [
                KbArticle(id="card-lost", title="Карта потеряна", answer="…"),
                KbArticle(id="card-limits", title="Лимиты по карте", answer="…"),
            ]
        )
        clients = {
            name: Client(display_name=name, tier=tier)
            for name, tier in (
                ("Анна", ClientTier.STANDARD),
                ("Борис", ClientTier.VIP),
                ("Вера", ClientTier.STANDARD),
            )
        }
        session.add_all(clients.values())
        operators = {"Ольга": Operator(name="Ольга"), "Павел": Operator(name="Павел")}
        session.add_all(operators.values())
        await session.flush()
        session.add_all(
            [
                OperatorGroup(operator_id=operators["Ольга"].id, group="support"),
                OperatorGroup(operator_id=operators["Павел"].id, group="fraud"),
            ]
        )
        identities: dict[tuple[str, ChannelKind], Identity] = {}
        olga, pavel = operators["Ольга"].id, operators["Павел"].id

        async def conversation(
            client: str,
            channel: ChannelKind,
            created: dt.datetime,
            status: ConversationStatus,
            category: str | None,
            group: str | None,
            steps: list[Step],
            operator_of: dict[EventKind, int] | None = None,
        ) -> int:
            key = (client, channel)
            if key not in identities:
                identities[key] = Identity(
                    client_id=clients[client].id,
                    channel=channel,
                    external_id=f"{client}-{channel.value}",
                )
                session.add(identities[key])
                await session.flush()
            identity = identities[key]
            row = Conversation(
                client_id=clients[client].id,
                identity_id=identity.id,
                last_identity_id=identity.id,
                last_channel=channel,
                status=status,
                category=category,
                group=group,
                created_at=created,
                queued_at=next((at for k, at, _ in steps if k is EventKind.QUEUED), None),
            )
            session.add(row)
            await session.flush()
            session.add(
                ConversationEvent(
                    conversation_id=row.id, kind=EventKind.CREATED, at=created, channel=channel
                )
            )
            for kind, at, data in steps:
                operator_id = data.pop("operator", None)
                session.add(
                    ConversationEvent(
                        conversation_id=row.id,
                        kind=kind,
                        at=at,
                        channel=channel,
                        category=category,
                        group=group,
                        operator_id=operator_id,
                        data=data,
                    )
                )
            return row.id

        ids = {
            "C1": await conversation(
                "Анна",
                ChannelKind.TELEGRAM,
                msk(2, 1),
                ConversationStatus.CLOSED,
                "lost_card",
                None,
                [
                    _ev(EventKind.BOT_ANSWERED, msk(2, 1), article_id="card-lost"),
                    _ev(EventKind.CLOSED, msk(2, 1, 30), by="timeout"),
                ],
            ),
            "C2": await conversation(
                "Борис",
                ChannelKind.VK,
                msk(2, 17, 30),
                ConversationStatus.CLOSED,
                "account",
                "support",
                [
                    _ev(EventKind.HANDED_OFF, msk(2, 17, 31), reason="asked"),
                    _ev(
                        EventKind.QUEUED,
                        msk(2, 17, 31),
                        deadline=msk(3, 16, 31).isoformat(),
                        priority=2,
                    ),
                    _ev(EventKind.TAKEN, msk(3, 9, 10), operator=olga),
                    _ev(EventKind.FIRST_RESPONSE, msk(3, 9, 20), operator=olga),
                    _ev(EventKind.CLOSED, msk(3, 10), operator=olga, by="operator"),
                    _ev(EventKind.RATED, msk(3, 10, 5), rating=5),
                ],
            ),
            "C3": await conversation(
                "Вера",
                ChannelKind.EMAIL,
                msk(3, 11),
                ConversationStatus.CLOSED,
                "payments",
                "support",
                [
                    _ev(EventKind.HANDED_OFF, msk(3, 11), reason="kb_miss"),
                    _ev(EventKind.QUEUED, msk(3, 11), deadline=msk(3, 15).isoformat(), priority=2),
                    _ev(EventKind.TAKEN, msk(3, 11, 5), operator=olga),
                    _ev(EventKind.FIRST_RESPONSE, msk(3, 11, 15), operator=olga),
                    _ev(EventKind.CLOSED, msk(3, 11, 45), operator=olga, by="operator"),
                    _ev(EventKind.RATED, msk(3, 11, 50), rating=3),
                ],
            ),
            "C9": await conversation(
                "Борис",
                ChannelKind.TELEGRAM,
                msk(4, 12),
                ConversationStatus.CLOSED,
                "cards",
                None,
                [
                    _ev(EventKind.BOT_ANSWERED, msk(4, 12), article_id="card-limits"),
                    _ev(EventKind.BOT_ANSWERED, msk(4, 12, 5), article_id="card-limits"),
                    _ev(EventKind.CLOSED, msk(4, 12, 30), by="timeout"),
                ],
            ),
            "C4": await conversation(
                "Вера",
                ChannelKind.TELEGRAM,
                msk(5, 10),
                ConversationStatus.CLOSED,
                "payments",
                "support",
                [
                    _ev(EventKind.HANDED_OFF, msk(5, 10), reason="asked"),
                    _ev(EventKind.QUEUED, msk(5, 10), deadline=msk(5, 14).isoformat(), priority=2),
                    _ev(EventKind.TAKEN, msk(5, 10, 30), operator=pavel),
                    _ev(EventKind.LEASE_EXPIRED, msk(5, 11), operator=pavel),
                    _ev(EventKind.TAKEN, msk(5, 13), operator=olga),
                    _ev(EventKind.FIRST_RESPONSE, msk(5, 14, 30), operator=olga),
                    _ev(EventKind.SLA_BREACHED, msk(5, 14)),
                    _ev(EventKind.CLOSED, msk(5, 15), operator=olga, by="operator"),
                ],
            ),
            "C6": await conversation(
                "Борис",
                ChannelKind.TELEGRAM,
                msk(6, 17, 50),
                ConversationStatus.QUEUED,
                "cards",
                "support",
                [
                    _ev(EventKind.HANDED_OFF, msk(6, 17, 50), reason="kb_miss"),
                    _ev(
                        EventKind.QUEUED,
                        msk(6, 17, 50),
                        deadline=msk(9, 12, 50).isoformat(),
                        priority=1,
                    ),
                ],
            ),
            "C5": await conversation(
                "Анна",
                ChannelKind.WEB,
                msk(7, 12),
                ConversationStatus.CLOSED,
                "fraud",
                "fraud",
                [
                    _ev(EventKind.HANDED_OFF, msk(7, 12), reason="kb_miss"),
                    _ev(
                        EventKind.QUEUED,
                        msk(7, 12),
                        deadline=msk(7, 12, 30).isoformat(),
                        priority=1,
                    ),
                    _ev(EventKind.TAKEN, msk(7, 12, 10), operator=pavel),
                    _ev(EventKind.FIRST_RESPONSE, msk(7, 12, 20), operator=pavel),
                    _ev(EventKind.CLOSED, msk(7, 12, 40), operator=pavel, by="operator"),
                    _ev(EventKind.RATED, msk(7, 12, 45), rating=4),
                ],
            ),
            "C7": await conversation(
                "Вера",
                ChannelKind.VK,
                msk(8, 20),
                ConversationStatus.QUEUED,
                "fraud",
                "fraud",
                [
                    _ev(EventKind.HANDED_OFF, msk(8, 20), reason="asked"),
                    _ev(
                        EventKind.QUEUED,
                        msk(8, 20),
                        deadline=msk(8, 20, 30).isoformat(),
                        priority=1,
                    ),
                    _ev(EventKind.SLA_BREACHED, msk(8, 20, 30)),
                ],
            ),
            "C8": await conversation(
                "Анна",
                ChannelKind.TELEGRAM,
                msk(9, 1, 30),
                ConversationStatus.BOT,
                "cards",
                None,
                [_ev(EventKind.BOT_ANSWERED, msk(9, 1, 30), article_id="card-lost")],
            ),
        }
        await session.commit()
        return Week(
            {name: c.id for name, c in clients.items()},
            {name: o.id for name, o in operators.items()},
            ids,
        )
