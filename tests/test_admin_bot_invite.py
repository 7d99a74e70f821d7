"""`switchboard operators invite`: a one-time code the operator sends the admin bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from admin.accounts import Accounts, LinkPurpose
from admin.telegram.state import Invites
from core.db import SessionFactory, create_engine, session_factory
from switchboard.commands.operators import operators_app


@contextlib.asynccontextmanager
async def accounts(database_url: str, redis_url: str) -> AsyncIterator[Accounts]:
    """Accounts on connections of this event loop (each CLI call runs its own loop)."""
    engine = create_engine(database_url)
    try:
        async with Redis.from_url(redis_url) as redis:
            yield Accounts(session_factory(engine), redis)
    finally:
        await engine.dispose()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))


def test_invite_prints_a_code_that_links_once(
    env: None, sessions: SessionFactory, redis_url: str, database_url: str
) -> None:
    result = CliRunner().invoke(
        operators_app, ["invite", "Вера", "--group", "fraud", "--hours", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "Вера" in result.output and "within 2 h" in result.output
    code = result.output.split("/start ")[1].split()[0]
    operator_id = int(result.output.split("#")[1].split()[0])
    invite = result.output.split("/operator/invite/")[1].split()[0]

    async def invited(token: str) -> int | None:
        async with accounts(database_url, redis_url) as their:
            operator = await their.links.peek(token, LinkPurpose.INVITE)
        return operator.id if operator else None

    assert asyncio.run(invited(invite)) == operator_id

    async def redeem(*codes: str) -> list[int | None]:
        redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            return [await Invites(redis).redeem(c) for c in codes]
        finally:
            await redis.aclose()

    assert asyncio.run(redeem(code, code, "not-a-code")) == [operator_id, None, None]


def test_cli_makes_an_admin_and_prints_a_sign_in_link(
    env: None, sessions: SessionFactory, redis_url: str, database_url: str
) -> None:
    added = CliRunner().invoke(
        operators_app, ["add", "Ирина Смирнова", "--login", "irina", "--role", "admin"]
    )
    assert added.exit_code == 0 and "login irina, admin" in added.output, added.output
    printed = CliRunner().invoke(operators_app, ["link", "Irina"])
    assert printed.exit_code == 0, printed.output
    token = printed.output.strip().split("/operator/link/")[1]

    async def spend() -> tuple[str | None, str | None]:
        async with accounts(database_url, redis_url) as their:
            first = await their.sign_ins.with_link(token, "127.0.0.1")
            second = await their.sign_ins.with_link(token, "127.0.0.1")
        return (
            first.operator.name if first.operator else None,
            second.operator.name if second.operator else None,
        )

    assert asyncio.run(spend()) == ("Ирина Смирнова", None)
    weak = CliRunner().invoke(operators_app, ["passwd", "irina"], input="short\nshort\n")
    assert weak.exit_code == 1 and "at least 10 characters" in weak.output
    unknown = CliRunner().invoke(operators_app, ["link", "nobody"])
    assert unknown.exit_code == 1 and "no operator signs in as 'nobody'" in unknown.output
