"""The operators' desk: everything an operator can do, independent of where they do it.

The web console and the Telegram admin bot are two transports over these services, one
module per job: `operators` (who they are), `queue` (what waits), `conversations` (reading
a thread), `actions` (take, reply, note, close), `resending` (an undelivered reply sent
again), `transfers`, `categories` (what a conversation is about), `clients` (the client
card), `merging`, `forgetting` (a client who withdrew consent), `teaching` (the knowledge
base), `presence` and `typing`. `Desk` only holds them, built once with what they share,
so a transport is handed one thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from admin.desk.categories import Categories
from admin.desk.clients import Clients
from admin.desk.conversation_actions import ConversationActions
from admin.desk.conversations import Conversations
from admin.desk.errors import DeskError
from admin.desk.forgetting import Forgetting
from admin.desk.merging import Merging
from admin.desk.operators import Operators
from admin.desk.presence import Availability
from admin.desk.queue_view import QueueListing
from admin.desk.resending import Resending
from admin.desk.teaching import Teaching
from admin.desk.transfer import Transfers
from admin.desk.typing import Typing
from admin.desk.views import (
    ClientCard,
    Colleague,
    ConversationView,
    IdentityView,
    MessageView,
    QueueRow,
    QueueView,
    SavedReply,
    TransferTargets,
)
from bot.handover import Handover
from bot.knowledge import KnowledgeBase
from bot.outbox import Outbox
from bot.typing import TypingSignals
from channels.uploads import Uploads
from core.db import SessionFactory
from core.events import DeskFeed
from routing.presence import Presence
from routing.queue import OperatorQueue
from routing.service_levels import ServiceLevels

__all__ = [
    "Availability",
    "Categories",
    "ClientCard",
    "Clients",
    "Colleague",
    "ConversationActions",
    "ConversationView",
    "Conversations",
    "Desk",
    "DeskError",
    "Forgetting",
    "IdentityView",
    "Merging",
    "MessageView",
    "Operators",
    "QueueListing",
    "QueueRow",
    "QueueView",
    "Resending",
    "SavedReply",
    "Teaching",
    "TransferTargets",
    "Transfers",
    "Typing",
]


@dataclass(frozen=True, slots=True)
class Desk:
    operators: Operators
    queue: QueueListing
    conversations: Conversations
    actions: ConversationActions
    resending: Resending
    transfers: Transfers
    categories: Categories
    clients: Clients
    merging: Merging
    forgetting: Forgetting
    teaching: Teaching
    presence: Availability
    typing: Typing

    @classmethod
    def build(
        cls,
        *,
        sessions: SessionFactory,
        queue: OperatorQueue,
        outbox: Outbox,
        feed: DeskFeed,
        clock: Callable[[], dt.datetime],
        knowledge: KnowledgeBase,
        presence: Presence,
        handover: Handover,
        visitor_uploads: Uploads | None,
        typing: TypingSignals,
        levels: ServiceLevels,
    ) -> Desk:
        operators = Operators(sessions)
        conversations = Conversations(sessions)
        availability = Availability(sessions, presence, handover)
        actions = ConversationActions(
            sessions=sessions,
            queue=queue,
            outbox=outbox,
            feed=feed,
            clock=clock,
            conversations=conversations,
            operators=operators,
            availability=availability,
        )
        return cls(
            operators=operators,
            queue=QueueListing(sessions=sessions, queue=queue, clock=clock),
            conversations=conversations,
            actions=actions,
            resending=Resending(sessions=sessions, queue=queue, outbox=outbox, clock=clock),
            transfers=Transfers(
                sessions=sessions,
                queue=queue,
                outbox=outbox,
                feed=feed,
                clock=clock,
                conversations=conversations,
                operators=operators,
                presence=presence,
            ),
            categories=Categories(
                sessions=sessions,
                feed=feed,
                clock=clock,
                conversations=conversations,
                levels=levels,
            ),
            clients=Clients(sessions),
            merging=Merging(sessions=sessions, queue=queue, feed=feed, clock=clock),
            forgetting=Forgetting(sessions, feed, clock, visitor_uploads),
            teaching=Teaching(sessions, knowledge, actions),
            presence=availability,
            typing=Typing(sessions, typing),
        )
