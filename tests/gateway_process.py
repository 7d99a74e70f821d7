"""A gateway process for the multi-process tests: the real Gateway from environment
settings, run until killed. Its Telegram channel is built as switchboard/app.py builds it, except
that the lease's ttl and the bot-wide send rate come from the test's environment so that
a test finishes in seconds. Prints "ready <pid> <base url>" once serving; a start that
hangs ends the process (START_TIMEOUT_SECONDS), as it ends `switchboard run`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from channels.delivery import SendRateLimiter
from channels.telegram import TelegramChannel, poller_name
from core.contracts import ChannelKind
from core.leases import RedisPollerLease
from core.send_ledger import RedisSendLedger
from switchboard import event_loop
from switchboard.app import Gateway, open_gateway, running, settle_collector
from switchboard.settings import load_settings
from switchboard.start_deadline import start_deadline


async def main() -> None:
    settings = load_settings()
    async with contextlib.AsyncExitStack() as started:
        async with start_deadline(settings.start_timeout_seconds):
            gateway = await started.enter_async_context(open_gateway(settings))
            token = settings.telegram.token
            if token is not None:
                await _test_paced_telegram(gateway, token.get_secret_value())
            url = await started.enter_async_context(running(gateway, port=0))
        settle_collector()  # as `switchboard run` does once started
        print(f"ready {os.getpid()} {url}", flush=True)
        await asyncio.Event().wait()


async def _test_paced_telegram(gateway: Gateway, token: str) -> None:
    wired = gateway.adapters.get(ChannelKind.TELEGRAM)
    if wired is not None:
        await wired.aclose()
    gateway.adapters[ChannelKind.TELEGRAM] = TelegramChannel(
        token,
        api_base=gateway.settings.telegram.api_base,
        poll_timeout=1,
        lease=RedisPollerLease(
            gateway.redis,
            poller_name(token),
            ttl=float(os.environ.get("TEST_LEASE_TTL", "10")),
        ),
        limiter=SendRateLimiter(
            per_chat_rate=1,
            per_chat_burst=3,
            global_rate=float(os.environ.get("TEST_GLOBAL_RATE", "30")),
            global_burst=30,
        ),
        ledger=RedisSendLedger(gateway.redis),
    )


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    event_loop.run(main())
