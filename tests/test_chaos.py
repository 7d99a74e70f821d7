"""A small chaos run (tests/chaos_world.py): three gateway processes, Telegram and web chat
traffic with hand-offs, processes SIGKILLed and restarted, Redis killed once, PostgreSQL
crashed once. Nothing lost, nothing stuck, Telegram repeats within the documented bound."""

from __future__ import annotations

from chaos_world import run_chaos

from channels.telegram import IN_FLIGHT


async def test_nothing_lost_nothing_stuck() -> None:
    report = await run_chaos(
        telegram_messages=160, web_visitors=8, web_messages=40, kill_every=3.0, rate=8.0
    )
    print("\n" + "\n".join(report.lines()))
    assert report.kills >= 1
    assert report.duplicate_in == 0 and report.lost == 0 and report.stuck == 0
    assert report.telegram_duplicates <= IN_FLIGHT * report.kills
