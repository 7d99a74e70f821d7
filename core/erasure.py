"""Erasing what was said in conversations while keeping that they happened: the one way a
client's words and files leave the desk (a forgotten client: identity/forget.py; the
retention period: bot/retention.py).

Every message of the conversations (the client's, the bot's and the operators' replies,
which quote them, the private notes) loses its text, files and address; the KB's record
of questions it missed in them is deleted; the conversations keep their times, statuses,
categories, ratings and events, so reports still count them, and say when they were
erased. Files are kept by content hash, so one another message names stays: the caller
removes the others after its commit (`remove_unneeded`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import String, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Conversation, KbMiss, Message

__all__ = ["Erased", "erase_conversations", "remove_unneeded"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Erased:
    messages: int
    files: tuple[str, ...]
    """Paths the erased messages named (`remove_unneeded` removes those no longer named)."""


async def erase_conversations(
    session: AsyncSession, conversation_ids: Sequence[int], now: dt.datetime
) -> Erased:
    """Erase the words and files of `conversation_ids`, in the caller's transaction."""
    in_them = Message.conversation_id.in_(conversation_ids)
    files = tuple(
        str(attachment["stored_path"])
        for attachments in await session.scalars(select(Message.attachments).where(in_them))
        for attachment in attachments or ()
        if isinstance(attachment, dict) and attachment.get("stored_path")
    )
    messages = await session.scalar(select(func.count()).select_from(Message).where(in_them))
    await session.execute(
        update(Message)
        .where(in_them)
        .values(
            text="",
            original_text=None,
            folded_text=None,
            attachments=[],
            reply_address=None,
            delivery_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(conversation_ids))
        .values(subject=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(KbMiss)
        .where(KbMiss.conversation_id.in_(conversation_ids))
        .execution_options(synchronize_session=False)
    )
    return Erased(messages or 0, files)


async def remove_unneeded(session: AsyncSession, paths: Sequence[str]) -> int:
    """Remove from the disk the files of `paths` no message names any more (files are kept
    by content hash: the same bytes another client sent are theirs too); how many went."""
    attachments = cast(Message.attachments, String)
    unneeded = []
    for path in dict.fromkeys(paths):
        named = json.dumps(path)  # as the column holds it, quotes and escapes included
        others = select(func.count()).select_from(Message)
        if not await session.scalar(others.where(attachments.contains(named, autoescape=True))):
            unneeded.append(Path(path))
    return await asyncio.to_thread(_remove, unneeded)


def _remove(paths: Sequence[Path]) -> int:
    removed = 0
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            log.exception("erased file %s not removed", path)
            continue
        removed += 1
    return removed
