"""/report [period]: the desk's figures as a text and a chart (admin.reports)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from admin.reports import PeriodError, Report
from admin.telegram.sender import AdminSender, where
from admin.telegram.texts import say
from core.models import Operator

__all__ = ["MakeReport", "build_router"]

log = logging.getLogger(__name__)

MakeReport = Callable[[str, str], Awaitable[Report]]  # (period words, language) → report


async def report(
    message: Message,
    command: CommandObject,
    operator: Operator,
    make_report: MakeReport,
    sender: AdminSender,
) -> None:
    try:
        result = await make_report((command.args or "week").strip(), operator.language)
    except PeriodError as exc:
        await sender.text(where(message), exc.describe(operator.language))
        return
    except Exception:
        log.exception("report for operator %s failed", operator.id)
        await sender.text(where(message), say("report_failed", operator.language))
        return
    await sender.text(where(message), result.text)
    await sender.photo(where(message), result.png, name="report.png")


def build_router() -> Router:
    router = Router(name="report")
    router.message.register(report, Command("report"))
    return router
