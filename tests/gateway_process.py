"""A gateway process for the multi-process tests: the real Gateway from environment
settings, run until killed. Its Telegram channel is built as bot/app.py builds it, except
that the lease's ttl and the bot-wide send rate come from the test's environment so that
a test finishes in seconds. Prints "ready <pid> <base url>" once serving."""

from __future__ import annotations

import asyncio
import logging
import os

from channels.delivery import SendRateLimiter
from channels.telegram import TelegramChannel, poller_name
from core.contracts import ChannelKind
from core.leases import RedisPollerLease
from core.send_ledger import RedisSendLedger
from switchboard import event_loop
from switchboard.app import open_gateway, running, settle_collector
from switchboard.settings import load_settings


async def main() -> None:
    settings = load_settings()
    async with open_gateway(settings) as gateway:
        token = settings.telegram.token.get_secret_value() if settings.telegram.token else None
        if token:
            wired = gateway.adapters.get(ChannelKind.TELEGRAM)
            if wired is not None:
                await wired.aclose()
            gateway.adapters[ChannelKind.TELEGRAM] = TelegramChannel(
                token,
                api_base=settings.telegram.api_base,
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
        async with running(gateway, port=0) as url:
            settle_collector()  # as `switchboard run` does once started
            print(f"ready {os.getpid()} {url}", flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
    )
    event_loop.run(main())
