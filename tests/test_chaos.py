"""A small chaos run (tests/chaos_world.py): three gateway processes, Telegram, VK, email
and web chat clients (one in ten asking for a person), two operators taking, answering and
closing conversations at the console, processes SIGKILLed and restarted, Redis killed
once, PostgreSQL crashed once. Nothing lost, nothing stuck, Telegram repeats within the
documented bound (at most IN_FLIGHT per killed process)."""

from __future__ import annotations

import pytest
from chaos_world import run_chaos

from channels.telegram import IN_FLIGHT


@pytest.mark.own_servers
@pytest.mark.timeout(480)
async def test_nothing_lost_nothing_stuck() -> None:
    report = await run_chaos(
        telegram_messages=100,
        vk_messages=40,
        email_messages=30,
        web_visitors=6,
        web_messages=30,
        operators=2,
        kill_every=3.0,
        rate=8.0,
        settle_seconds=120,
    )
    print("\n" + "\n".join(report.lines()))
    assert report.kills >= 1
    assert set(report.sent) == {"telegram", "vk", "email", "web"}
    assert report.duplicate_in == 0 and report.lost == 0 and report.stuck == 0
    assert report.handed_off >= 15 and report.taken >= 1 and report.closed >= 1
    assert report.replies_repeated["vk"] == 0  # VK drops a repeat by its random_id
    assert report.telegram_duplicates <= IN_FLIGHT * report.kills
