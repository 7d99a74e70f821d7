"""`switchboard operators invite`: a one-time code the operator sends the admin bot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis
from typer.testing import CliRunner

from admin.telegram.state import Invites
from switchboard.commands.operators import operators_app
from core.db import SessionFactory


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))


def test_invite_prints_a_code_that_links_once(env: None, sessions: SessionFactory,
                                              redis_url: str) -> None:
    result = CliRunner().invoke(operators_app, ["invite", "Вера", "--group", "fraud", "--hours", "2"])
    assert result.exit_code == 0, result.output
    assert "Вера" in result.output and "within 2 h" in result.output
    code = result.output.split("/start ")[1].split()[0]
    operator_id = int(result.output.split("#")[1].split()[0])

    async def redeem(*codes: str) -> list[int | None]:
        redis = Redis.from_url(redis_url, decode_responses=True)
        try:
            return [await Invites(redis).redeem(c) for c in codes]
        finally:
            await redis.aclose()

    assert asyncio.run(redeem(code, code, "not-a-code")) == [operator_id, None, None]
