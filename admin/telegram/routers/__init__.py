"""The admin bot's feature routers, built fresh for each bot (a router belongs to one
dispatcher). Order matters: /start first (invites); the conversation router, whose last
handler takes any plain message, comes last."""

from __future__ import annotations

from aiogram import Router

from admin.telegram.routers import conversation, knowledge, presence, queue, report, start

__all__ = ["build_routers"]


def build_routers() -> list[Router]:
    return [
        module.build_router()
        for module in (start, queue, knowledge, presence, report, conversation)
    ]
