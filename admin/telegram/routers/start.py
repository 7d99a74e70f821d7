"""/start (with an invite code: link this Telegram account to an operator), /help, and
/login (a one-time sign-in link for the web console, in a private chat only)."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from admin.accounts import Accounts, LinkPurpose, link_path
from admin.desk import Desk
from admin.telegram.sender import AdminSender, where
from admin.telegram.state import Invites
from admin.telegram.texts import say
from core.models import Operator
from routing.presence import PresenceState

__all__ = ["build_router"]

log = logging.getLogger(__name__)


async def start(
    message: Message,
    command: CommandObject,
    operator: Operator | None,
    desk: Desk,
    invites: Invites,
    sender: AdminSender,
) -> None:
    user = message.from_user
    assert user is not None  # OperatorAccess lets no anonymous update through
    if command.args:
        operator_id = await invites.redeem(command.args.strip())
        if operator_id is None:
            log.warning("admin bot: Telegram user %s tried a wrong invite code", user.id)
            await sender.text(
                where(message),
                say(
                    "invite_bad",
                    operator.language
                    if operator
                    else ("ru" if (user.language_code or "ru")[:2] == "ru" else "en"),
                ),
            )
            return
        operator = await desk.operators.link_telegram(operator_id, user.id)
        log.info("admin bot: operator %s linked to Telegram user %s", operator.id, user.id)
    if operator is None:
        return
    await desk.presence.set(operator.id, PresenceState.ONLINE)
    await sender.text(
        where(message),
        say(
            "welcome",
            operator.language,
            name=operator.name,
            groups=", ".join(operator.group_names),
            capacity=operator.capacity,
        ),
    )


async def login(
    message: Message, operator: Operator, accounts: Accounts, console_url: str, sender: AdminSender
) -> None:
    if message.chat.type != "private":  # a group would show the link to everyone in it
        await sender.text(where(message), say("login_private", operator.language))
        return
    token = await accounts.issue_link(operator.id, LinkPurpose.SIGN_IN, via="admin bot")
    await sender.text(
        where(message),
        say(
            "login_link", operator.language, url=console_url + link_path(LinkPurpose.SIGN_IN, token)
        ),
    )


async def show_help(message: Message, operator: Operator, sender: AdminSender) -> None:
    await sender.text(where(message), say("help", operator.language))


def build_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(show_help, Command("help"))
    router.message.register(login, Command("login"))
    return router
